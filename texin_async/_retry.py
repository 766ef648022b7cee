"""Retries: which failures are safe to try again, and how long to wait.

The rule that matters: a send is retried only when it provably was not processed, so no SMS
goes out twice. Which errors qualify is one table, keyed by whether the request is a send.
Tenacity does the looping and stays private here; callers see only our own errors, never a
``tenacity.RetryError``.
"""

from __future__ import annotations

import logging
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
        if isinstance(error, RateLimitError):
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
        TexinError: The last attempt's error, as raised.
    """

    def before_sleep(state: _t.RetryCallState) -> None:
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
            elapsed = state.seconds_since_start or 0.0
            policy.on_retry(RetryDetails(endpoint, state.attempt_number, wait, elapsed, error))

    # Most calls succeed at once: run the first attempt bare and only build the retry
    # machinery (tens of µs a call) after a failure worth retrying.
    try:
        return await attempt()
    except TexinError as exc:
        if policy.attempts == 1 or not is_retryable(exc, is_send=is_send, policy=policy):
            raise
        first_failure: TexinError | None = exc

    retrying = _t.AsyncRetrying(
        stop=_t.stop_after_attempt(policy.attempts),
        wait=_Wait(policy),
        retry=_t.retry_if_exception(lambda e: is_retryable(e, is_send=is_send, policy=policy)),
        before_sleep=before_sleep,
        reraise=True,
    )
    async for try_ in retrying:
        with try_:
            if first_failure is not None:
                # Replay the first failure as tenacity's attempt 1: counts and waits follow.
                failure, first_failure = first_failure, None
                raise failure
            result = await attempt()
    return result
