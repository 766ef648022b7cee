"""Retries: which failures are safe to try again, and how long to wait.

The rule that matters: a send is retried only when it provably was not processed, so no SMS
goes out twice. Which errors qualify is one table, keyed by whether the request is a send.
Tenacity does the looping and stays private here; callers see only our own errors, never a
``tenacity.RetryError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity as _t

from ._config import RetryPolicy
from ._exceptions import (
    APIConnectionError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TexinError,
)

__all__ = ["RetryDetails", "call_with_retries", "is_retryable"]

_T = TypeVar("_T")
logger = logging.getLogger("texin_async")


@dataclass(frozen=True, slots=True)
class RetryDetails:
    """What a retry hook is told: which call failed, how, and what happens next."""

    endpoint: str
    #: The attempt that just failed, from 1.
    attempt: int
    #: Seconds until the next attempt (the limiter may add a key-wide pause).
    wait: float
    #: Seconds since the first attempt started.
    elapsed: float
    error: TexinError


# Errors that prove nothing was processed: safe for every request, sends included.
_NOT_PROCESSED: tuple[type[TexinError], ...] = (APIConnectionError, RateLimitError)
# Errors after which a read may simply be asked again.
_READ_RETRYABLE: tuple[type[TexinError], ...] = (
    *_NOT_PROCESSED,
    OutcomeUnknownError,
    ServerError,
    ResponseDecodeError,
)


def is_retryable(error: BaseException, *, is_send: bool, policy: RetryPolicy) -> bool:
    """Whether ``error`` may be retried under ``policy``.

    Sends: never-connected, 429, and a 5xx whose JSON says ``"success": false`` (the API
    refused before sending). Ambiguous outcomes only with ``retry_ambiguous_sends``.
    """
    if not is_send:
        return isinstance(error, _READ_RETRYABLE)
    if isinstance(error, _NOT_PROCESSED):
        return True
    if isinstance(error, ServerError):
        return error.body.get("success") is False
    return isinstance(error, OutcomeUnknownError) and policy.retry_ambiguous_sends


class _Wait(_t.wait.wait_base):
    """Exponential backoff with jitter, except after a 429.

    A 429 has already paused the whole key in the limiter for its Retry-After; the next
    attempt waits there, with every other task, so waiting here too would double it.
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


async def call_with_retries(
    attempt: Callable[[], Awaitable[_T]],
    *,
    endpoint: str,
    is_send: bool,
    policy: RetryPolicy,
) -> _T:
    """Run ``attempt`` until it succeeds, fails for good, or runs out of attempts.

    Args:
        attempt: One complete request: limiter, HTTP, classification.
        endpoint: For logs and hooks.
        is_send: Whether the request sends SMS (stricter retry rules).
        policy: Attempts, waits and the retry hook.

    Raises:
        TexinError: The last attempt's error; but if any attempt of a send had an unknown
            outcome, an OutcomeUnknownError, since that SMS may have gone out.
    """
    started = time.monotonic()
    # Most calls succeed at once: run the first attempt bare and only build the retry
    # machinery (tens of µs a call) after a failure worth retrying.
    try:
        return await attempt()
    except TexinError as exc:
        if policy.attempts == 1 or not is_retryable(exc, is_send=is_send, policy=policy):
            raise
        first_failure = exc
    ambiguous: list[OutcomeUnknownError] = []

    async def tracked() -> _T:
        try:
            return await attempt()
        except OutcomeUnknownError as exc:
            ambiguous.append(exc)
            raise

    if isinstance(first_failure, OutcomeUnknownError):
        ambiguous.append(first_failure)
    try:
        return await _retry(tracked, first_failure, endpoint, is_send, policy, started)
    except TexinError as exc:
        if not ambiguous or isinstance(exc, OutcomeUnknownError):
            raise
        # A later refusal does not undo an earlier attempt that may have been processed.
        raise ambiguous[-1] from exc


async def _retry(
    attempt: Callable[[], Awaitable[_T]],
    first_failure: TexinError,
    endpoint: str,
    is_send: bool,
    policy: RetryPolicy,
    started: float,
) -> _T:
    """Tenacity's loop, with ``first_failure`` replayed as its attempt 1."""
    retrying = _t.AsyncRetrying(
        stop=_t.stop_after_attempt(policy.attempts),
        wait=_Wait(policy),
        retry=_t.retry_if_exception(lambda e: is_retryable(e, is_send=is_send, policy=policy)),
        before_sleep=_announcer(endpoint, policy, started),
        reraise=True,
    )
    replay: TexinError | None = first_failure
    async for try_ in retrying:
        with try_:
            if replay is not None:
                failure, replay = replay, None
                raise failure
            result = await attempt()
    return result


def _announcer(
    endpoint: str, policy: RetryPolicy, started: float
) -> Callable[[_t.RetryCallState], None]:
    """Tenacity's before_sleep: a log line and the policy's hook for every retry."""

    def announce(state: _t.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, TexinError)
        wait = state.upcoming_sleep
        logger.warning(
            "texin %s attempt %d failed (%s); retrying in %.2fs",
            endpoint,
            state.attempt_number,
            type(error).__name__,
            wait,
            extra={"texin_endpoint": endpoint, "texin_attempt": state.attempt_number},
        )
        if policy.on_retry is not None:
            elapsed = time.monotonic() - started
            policy.on_retry(RetryDetails(endpoint, state.attempt_number, wait, elapsed, error))

    return announce
