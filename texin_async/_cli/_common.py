"""What every ``texin`` command shares: settings, the client, errors and output.

A command runs its async work through :func:`run_async`, which turns an SDK error into one
line on stderr (a traceback too with ``--debug``) and the documented exit code.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, TypeVar

import anyio
import msgspec
import typer
from rich.console import Console

from .._client import TexinClient
from .._config import DEFAULT_RATE_LIMIT, RateLimit
from .._exceptions import TexinError
from ._errors import BadInput, exit_code_for, one_line

__all__ = [
    "JsonOption",
    "Settings",
    "fail",
    "print_json",
    "run_async",
    "settings_of",
    "stderr",
    "stdout",
]

_T = TypeVar("_T")

#: ``--json``, accepted before the command name and after it.
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

# Only GET endpoints (api_info, test_connection) use this: they send no body, so no key.
_NO_KEY_NEEDED = "-"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The global options, resolved once by the app's callback."""

    api_key: str | None
    base_url: str | None
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    json: bool = False
    debug: bool = False

    def __repr__(self) -> str:  # Keep the key out of any --debug traceback's locals.
        return f"Settings(base_url={self.base_url!r}, json={self.json}, debug={self.debug})"

    def client(self, *, needs_key: bool = True, sender_id: str | None = None) -> TexinClient:
        """A client for this command; ``needs_key=False`` for endpoints that take no key.

        Raises:
            BadInput: No API key where one is needed.
        """
        key = self.api_key
        if not key or not key.strip():
            if needs_key:
                raise BadInput("no API key: set TEXIN_API_KEY or pass --api-key")
            key = _NO_KEY_NEEDED
        return TexinClient(
            key, base_url=self.base_url, rate_limit=self.rate_limit, sender_id=sender_id
        )

    def with_json(self, json: bool) -> Settings:
        """These settings, with ``--json`` also given after the command name."""
        if not json or self.json:
            return self
        return Settings(
            api_key=self.api_key,
            base_url=self.base_url,
            rate_limit=self.rate_limit,
            json=True,
            debug=self.debug,
        )


def settings_of(ctx: typer.Context, json: bool = False) -> Settings:
    """The settings the app's callback stored, with a command's own ``--json``."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):  # Only when a command is invoked on its own.
        settings = Settings(api_key=None, base_url=None)
    return settings.with_json(json)


def run_loop(work: Callable[..., Awaitable[_T]], *args: Any) -> _T:
    """``anyio.run(work, *args)``, where Ctrl-C always surfaces as KeyboardInterrupt.

    On Python 3.10 the runner cancels the main task on SIGINT but, lacking
    ``Task.uncancel``, lets the ``CancelledError`` out instead; at the top of the program
    a cancellation can only have come from the interrupt.
    """
    try:
        return anyio.run(work, *args)
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def run_async(settings: Settings, work: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``work`` in a fresh event loop; an SDK error exits with its code and one line."""
    try:
        return run_loop(work)
    except TexinError as exc:
        fail(settings, exc)


def fail(settings: Settings, error: BaseException, code: int | None = None) -> NoReturn:
    """Report ``error`` on stderr as one line (and its traceback with --debug), then exit."""
    if settings.debug:
        traceback.print_exception(error)
    print(one_line(error), file=sys.stderr)
    raise typer.Exit(exit_code_for(error) if code is None else code)


def print_json(value: Any) -> None:
    """Print one JSON document on stdout: Structs, Decimals and datetimes included."""
    encoded = msgspec.json.encode(value, enc_hook=str)
    sys.stdout.write(msgspec.json.format(encoded, indent=2).decode() + "\n")
    sys.stdout.flush()
