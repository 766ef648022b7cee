"""Turning a call's or a batch's life into events: what the request path tells its hooks.

The client makes a :class:`CallWatch` per call only when some hook is registered
(:func:`watch_call` returns None otherwise), and tells it four things: a slot was granted,
an answer came, an attempt failed, the call returned. The watch builds the events, keeps
the hooks' scopes (spans) open for as long as the attempt or call lasts, and closes them
however it ends, cancellation included.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._endpoints import Endpoint
from .._exceptions import TexinError
from .._lane import Priority
from .._retry import RetryDetails
from .._units import count_units
from ._events import (
    AttemptDetails,
    AttemptStarted,
    BatchDetails,
    BatchStarted,
    CallDetails,
    CallStarted,
    Hook,
    PauseDetails,
)
from ._hooks import Scopes, enter, hooks_for, leave, tell

if TYPE_CHECKING:
    from .._batch._engine import Engine
    from .._client import TexinClient
    from .._models import Result

__all__ = ["CallWatch", "run_batch", "watch_call"]


def watch_call(
    client: TexinClient, endpoint: Endpoint[Any], payload: dict[str, Any] | None, priority: Priority
) -> CallWatch | None:
    """A watch for one call of ``client``, or None when no hook would hear of it."""
    hooks = hooks_for(client._hooks)
    if not hooks:
        return None
    return CallWatch(hooks, client, endpoint, payload, priority)


class CallWatch:
    """One call's events, built from what the request path tells it (``with`` around the
    call: the call's start, and its end however it ends)."""

    __slots__ = (
        "_attempt",
        "_attempt_scopes",
        "_base_url",
        "_call_scopes",
        "_endpoint",
        "_granted_at",
        "_hooks",
        "_key_id",
        "_maybe_sent",
        "_payload",
        "_priority",
        "_recipients",
        "_started",
        "_status",
        "_total_wait",
        "_wait",
    )

    def __init__(
        self,
        hooks: tuple[Hook, ...],
        client: TexinClient,
        endpoint: Endpoint[Any],
        payload: dict[str, Any] | None,
        priority: Priority,
    ) -> None:
        self._hooks, self._endpoint, self._priority = hooks, endpoint, priority
        self._key_id, self._base_url, self._payload = client.key_id, client.base_url, payload
        self._recipients = _recipients(payload)
        self._attempt = 0  # attempts begun
        self._wait = self._total_wait = 0.0
        self._granted_at: float | None = None  # while an attempt holds open scopes
        self._status: int | None = None
        self._maybe_sent = False  # whether any attempt may have been processed
        self._attempt_scopes: Scopes = []
        self._call_scopes: Scopes = []
        self._started = time.perf_counter()

    def __enter__(self) -> CallWatch:
        self._call_scopes = enter(
            self._hooks,
            CallStarted(
                self._endpoint.name, self._priority, self._key_id, self._recipients, self._base_url
            ),
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is None:
            return  # :meth:`returned` told the end
        if self._granted_at is not None:  # cancelled (or broken) mid-attempt: it may have left
            self._maybe_sent = True
            self._end_attempt(error, 0, maybe_sent=True)
        self._end_call(error, 0)

    # -- what the request path tells it ----------------------------------------------------

    def granted(self, wait: float) -> None:
        """An attempt got its slot after ``wait`` seconds: its hooks' scopes open."""
        self._attempt += 1
        self._wait = wait
        self._total_wait += wait
        self._status = None
        self._granted_at = time.perf_counter()
        event = AttemptStarted(
            self._endpoint.name, self._priority, self._key_id, self._attempt, wait
        )
        self._attempt_scopes = enter(self._hooks, event)

    def answered(self, status: int) -> None:
        """The attempt's answer arrived with ``status`` (its verdict is read next)."""
        self._status = status

    def failed(self, error: TexinError) -> None:
        """The attempt ended in ``error``; the call may retry."""
        if self._granted_at is None:  # failed before its slot: the limiter itself
            self._attempt += 1
            self._wait = 0.0
            self._status = None
        self._maybe_sent = self._maybe_sent or error.maybe_sent
        self._end_attempt(error, 0, maybe_sent=error.maybe_sent)

    def retried(self, details: RetryDetails) -> None:
        """Another attempt follows, after ``details.wait`` seconds."""
        tell(self._hooks, details)

    def paused(self, wait: float, retry_after: float) -> None:
        """A 429 paused the whole key for ``wait`` seconds."""
        name = self._endpoint.name
        tell(self._hooks, PauseDetails(name, self._priority, self._key_id, wait, retry_after))

    def returned(self, result: Result) -> None:
        """The call succeeds with ``result``: its last attempt and the call end."""
        units = self._units(result)
        self._end_attempt(None, units, maybe_sent=False)
        self._end_call(None, units)

    # -- the end events --------------------------------------------------------------------

    def _end_attempt(self, error: BaseException | None, units: int, *, maybe_sent: bool) -> None:
        granted, self._granted_at = self._granted_at, None
        elapsed = 0.0 if granted is None else time.perf_counter() - granted
        event = AttemptDetails(
            self._endpoint.name,
            self._priority,
            self._key_id,
            self._attempt,
            self._wait,
            elapsed,
            self._status_of(error),
            units,
            self._recipients,
            maybe_sent,
            None if error is None else type(error).__name__,
            error,
        )
        tell(self._hooks, event)
        leave(self._attempt_scopes, error)

    def _end_call(self, error: BaseException | None, units: int) -> None:
        event = CallDetails(
            self._endpoint.name,
            self._priority,
            self._key_id,
            self._attempt,
            self._total_wait,
            time.perf_counter() - self._started,
            self._status_of(error),
            units,
            self._recipients,
            self._call_maybe_sent(error),
            None if error is None else type(error).__name__,
            error,
        )
        tell(self._hooks, event)
        leave(self._call_scopes, error)

    def _status_of(self, error: BaseException | None) -> int | None:
        """The answer's status: as told, else the one the error carries (if any)."""
        if self._status is None and error is not None:
            status = getattr(error, "status_code", None)
            self._status = status if isinstance(status, int) else None
        return self._status

    def _call_maybe_sent(self, error: BaseException | None) -> bool:
        """The raised error's verdict; for anything else (a cancellation), whether an
        attempt had left or may have been processed."""
        if error is None:
            return False
        return error.maybe_sent if isinstance(error, TexinError) else self._maybe_sent

    def _units(self, result: Result) -> int:
        """Units the API says the call used; the SDK's count for a send that did not say."""
        used = getattr(result, "units_used", None)
        if isinstance(used, int) and used >= 0:
            return used
        if self._endpoint.is_send and self._payload is not None:
            return count_units(self._payload["message"]) * self._recipients
        return 0


def _recipients(payload: dict[str, Any] | None) -> int:
    """How many numbers a request is for (never which)."""
    if not payload:
        return 0
    if "recipients" in payload:
        return len(payload["recipients"])
    return 1 if "recipient" in payload else 0


async def run_batch(engine: Engine) -> None:
    """``engine.run()``, its hooks told as it starts and ends (and their scopes around it)."""
    hooks = hooks_for(engine.client._hooks)
    if not hooks:
        await engine.run()
        return
    options, key_id = engine.options, engine.client.key_id
    total = len(engine.items) if isinstance(engine.items, Collection) else None
    scopes = enter(hooks, BatchStarted(key_id, options.priority, total, options.dry_run))
    error: BaseException | None = None
    try:
        await engine.run()  # it keeps its own errors in engine.error
    except BaseException as exc:  # cancelled
        error = exc
        raise
    finally:
        error = error or engine.error
        report = engine.progress.report()
        kind = None if error is None else type(error).__name__
        tell(hooks, BatchDetails(key_id, options.priority, report, kind, error))
        leave(scopes, error)
