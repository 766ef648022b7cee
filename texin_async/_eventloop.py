"""Which event loop runs the calling thread: asyncio, trio, or none.

The SDK runs on asyncio and on trio through AnyIO. A few optional parts are asyncio's
alone, because what they are built on is: the ``aiohttp`` transport, the Redis limiter
(``redis.asyncio``) and the emulator's in-loop :func:`~texin_async.testing.serve`
(uvicorn). Those refuse trio at once, saying so, instead of failing deep inside.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Literal

from ._exceptions import InvalidRequestError

__all__ = ["require_asyncio", "running_event_loop"]


def running_event_loop() -> Literal["asyncio", "trio"] | None:
    """The event loop the calling thread runs, None outside any."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return "asyncio"
    trio = sys.modules.get("trio")  # never imported here: if trio runs, it is loaded
    if trio is None:
        return None
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:  # not inside trio.run
        return None
    return "trio"


def require_asyncio(what: str, instead: str) -> None:
    """Refuse ``what`` when called on another event loop than asyncio.

    Raises:
        InvalidRequestError: The calling thread runs trio: nothing was sent.
    """
    loop = running_event_loop()
    if loop not in ("asyncio", None):
        raise InvalidRequestError(
            f"{what} runs on asyncio only, and this call runs on {loop}; nothing was sent: "
            f"{instead}"
        )
