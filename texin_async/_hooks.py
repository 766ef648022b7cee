"""Per-task hooks into the request path, for the SDK's own layers (not public API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

__all__ = ["before_send"]

#: Awaited once a request holds its limiter slot, just before it is sent. The batch engine
#: sets it (per task) to journal its items as in flight only when they really leave, so a
#: crash while waiting for the budget never turns unsent items into "unknown" ones.
before_send: ContextVar[Callable[[], Awaitable[object]] | None] = ContextVar(
    "texin_async.before_send", default=None
)
