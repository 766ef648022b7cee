"""Retries: which failures are tried again, and how long to wait in between.

The rule that matters: a failure is retried only if it may pass when asked again (a
connection, a 429, a 5xx, a lost answer), and a send only if the API surely did not process
it (``maybe_sent`` False), so no SMS goes out twice. ``RetryPolicy(retry_ambiguous_sends=True)``
also retries maybe-sent sends: "never lost" instead of "never twice".

Tenacity decides (retry predicate, stop, backoff with jitter, the before-sleep hook); the
caller keeps the loop in view and does the waiting. A call that succeeds at once never
builds any of it: :class:`Retries` is made at the first failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tenacity as _t

from ._config import RetryPolicy
from ._endpoints import Endpoint
from ._exceptions import (
    APIConnectionError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TexinError,
)
from ._lane import Priority
from ._logs import fields, logger

__all__ = ["Retries", "RetryDetails", "is_retryable"]


@dataclass(frozen=True, slots=True)
class RetryDetails:
    """What hooks (and ``RetryPolicy.on_retry``) are told of a retry: which call failed,
    how, and what happens next."""

    endpoint: str
    #: The attempt that just failed, from 1.
    attempt: int
    #: Seconds until the next attempt (the limiter may add a key-wide pause).
    wait: float
    #: Seconds since the first attempt started.
    elapsed: float
    error: TexinError
    #: The API key's id (a hash prefix), never the key.
    key_id: str = field(default="", kw_only=True)
    #: The call's traffic class.
    priority: Priority = field(default=Priority.INTERACTIVE, kw_only=True)


#: Failures that may pass if the same request is made again: nothing in it was wrong.
_TRANSIENT: tuple[type[TexinError], ...] = (
    APIConnectionError,
    RateLimitError,
    ServerError,
    OutcomeUnknownError,
    ResponseDecodeError,
)


def is_retryable(error: BaseException, *, is_send: bool, policy: RetryPolicy) -> bool:
    """Whether ``error`` may be retried: transient, and for a send surely not processed
    (``maybe_sent`` False) unless the policy retries ambiguous sends too."""
    if not isinstance(error, _TRANSIENT):
        return False
    return not is_send or not error.maybe_sent or policy.retry_ambiguous_sends


class _Wait(_t.wait.wait_base):
    """Exponential backoff with jitter, except after a 429 that said how long to wait.

    Such a 429 has already paused the whole key in the limiter; the next attempt waits
    there, with every other task, so waiting here too would double it.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        # wait_exponential's ``multiplier`` is the first wait: 0.5, 1, 2, 4, 8, 8, ...
        self._backoff = _t.wait_exponential(
            multiplier=policy.wait_initial, max=policy.wait_max
        ) + _t.wait_random(0, policy.wait_jitter)

    def __call__(self, retry_state: _t.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            return 0.0
        return float(self._backoff(retry_state))


class Retries:
    """One call's retry state, made at its first failure; see :meth:`after`."""

    __slots__ = ("_maybe_sent", "_retrying", "_state")

    def __init__(
        self,
        policy: RetryPolicy,
        endpoint: Endpoint[Any],
        started: float,
        *,
        key_id: str,
        priority: Priority,
        tell: Callable[[RetryDetails], None] | None = None,
    ) -> None:
        is_send = endpoint.is_send
        self._retrying = _t.Retrying(
            stop=_t.stop_after_attempt(policy.attempts),
            wait=_Wait(policy),
            retry=_t.retry_if_exception(lambda e: is_retryable(e, is_send=is_send, policy=policy)),
            before_sleep=_announcer(endpoint.name, started, key_id, priority, tell),
            reraise=True,
        )
        self._retrying.begin()
        self._state = _t.RetryCallState(self._retrying, None, (), {})
        self._maybe_sent: TexinError | None = None

    def after(self, error: TexinError) -> float:
        """Seconds to wait before the next attempt, or raise the error that ends the call.

        The call ends in the last error, except that an attempt that may have been
        processed is never hidden by a later one that was not: that earlier error is
        raised instead (chained from the last), since the SMS may have gone out.
        """
        state = self._state
        if state.outcome is not None:
            state.prepare_for_next_attempt()
        state.set_exception((type(error), error, error.__traceback__))
        try:
            action = self._retrying.iter(state)  # raises the error when the call ends
        except TexinError as final:
            earlier = self._maybe_sent
            if earlier is not None and not final.maybe_sent:
                raise earlier from final
            raise
        finally:
            if error.maybe_sent:
                self._maybe_sent = error
        assert isinstance(action, _t.DoSleep)
        return float(action)


def _announcer(
    endpoint: str,
    started: float,
    key_id: str,
    priority: Priority,
    tell: Callable[[RetryDetails], None] | None,
) -> Callable[[_t.RetryCallState], None]:
    """Tenacity's before_sleep: a log line for every retry, and the call's hooks told
    (``RetryPolicy.on_retry`` among them)."""

    def announce(state: _t.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, TexinError)
        details = RetryDetails(
            endpoint,
            state.attempt_number,
            state.upcoming_sleep,
            time.monotonic() - started,
            error,
            key_id=key_id,
            priority=priority,
        )
        _log(details)
        if tell is not None:
            tell(details)

    return announce


def _log(details: RetryDetails) -> None:
    error = details.error
    logger.warning(
        "texin %s attempt %d failed (%s); retrying in %.2fs",
        details.endpoint,
        details.attempt,
        type(error).__name__,
        details.wait,
        # Not texin_wait: that names a wait for the key's budget (the CLI shows those).
        extra=fields(
            endpoint=details.endpoint,
            attempt=details.attempt,
            key_id=details.key_id,
            priority=details.priority.name.lower(),
            status=getattr(error, "status_code", None),
            error_type=type(error).__name__,
            maybe_sent=error.maybe_sent,
            elapsed=details.elapsed,
            retry_in=details.wait,
        ),
    )
