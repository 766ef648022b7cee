"""Small, immutable configuration objects and the SDK's defaults.

They are values: equal when their fields are, safe to share between clients, checked once at
construction so a mistake surfaces where it was made, not on the first send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from ._checks import a_number, callable_or_none, flag, whole
from ._exceptions import InvalidRequestError

if TYPE_CHECKING:
    from ._retry import RetryDetails

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "RateLimit",
    "RetryPolicy",
    "attempt_deadline",
    "check_max_answer_bytes",
    "to_timeout",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """At most ``max_rate`` requests in any window of ``time_period`` seconds, per API key.

    ``margin`` is the fraction of ``time_period`` added to each slot's lifetime to absorb
    clock and network jitter (0.003 is 0.18 s on the provider's 100/60 s): the price is
    that share of throughput.

    ``reserve`` is the share of the budget that only interactive requests may take: bulk
    and background leave it free, so a one-time code finds a slot even mid-campaign. The
    default, 2% (2 of 100 requests a minute; at least 1 of any budget above 1), covers two
    codes arriving together with no wait at all; past it, campaigns are paced so that a slot
    frees about every ``time_period / max_rate`` seconds (0.6 s), and an interactive request
    takes the next one. A campaign on a key with no interactive traffic keeps 98%.
    """

    max_rate: int = 100
    time_period: float = 60.0
    margin: float = 0.003
    reserve: float = 0.02

    def __post_init__(self) -> None:
        whole("max_rate", self.max_rate, minimum=1)
        a_number("time_period", self.time_period, positive=True)
        if not 0 <= a_number("margin", self.margin, what="a share") < 0.5:
            raise InvalidRequestError(f"margin must be in [0, 0.5), got {self.margin}")
        if not 0 <= a_number("reserve", self.reserve, what="a share") < 1:
            raise InvalidRequestError(f"reserve must be a share in [0, 1), got {self.reserve}")

    @property
    def reserved(self) -> int:
        """Slots only interactive requests may take: ``reserve`` of the budget, at least one
        (unless ``reserve`` is 0), never the whole budget."""
        if not self.reserve:
            return 0
        return min(max(1, round(self.max_rate * self.reserve)), self.max_rate - 1)

    @property
    def interval(self) -> float:
        """Seconds between two paced requests: the budget spread evenly over its window."""
        return self.time_period / self.max_rate

    @property
    def slot_lifetime(self) -> float:
        """Seconds a request occupies its slot: the window plus the safety margin."""
        return self.time_period * (1.0 + self.margin)

    @classmethod
    def parse(cls, spec: str) -> RateLimit:
        """Read ``"100/60"`` (requests per seconds), as the CLI and emulator accept it."""
        try:
            rate, _, period = spec.partition("/")
            max_rate, time_period = int(rate), float(period or 60.0)
        except (ValueError, AttributeError):
            raise InvalidRequestError(f"rate limit must look like '100/60', got {spec!r}") from None
        return cls(max_rate=max_rate, time_period=time_period)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When to retry a failed request, and how long to wait in between.

    Waits grow exponentially from ``wait_initial`` up to ``wait_max``, plus up to
    ``wait_jitter`` seconds of random jitter so that many clients do not retry in step.
    A server's ``Retry-After`` replaces the computed wait, capped at ``max_retry_after``.

    Sends are retried only when the request provably was not processed. Set
    ``retry_ambiguous_sends=True`` to also retry sends with no usable answer (a timeout,
    a dropped connection): that trades "never twice" for "never lost".

    ``on_retry`` is a thin alias for an instrumentation hook that listens to
    :class:`RetryDetails` only (see :mod:`texin_async.instrumentation`): it is told of each
    retry, and what it raises is logged, never breaking the call.
    """

    attempts: int = 4
    wait_initial: float = 0.5
    wait_max: float = 8.0
    wait_jitter: float = 0.5
    max_retry_after: float = 60.0
    retry_ambiguous_sends: bool = False
    on_retry: Callable[[RetryDetails], object] | None = None

    def __post_init__(self) -> None:
        whole("attempts", self.attempts, minimum=1)
        for name in ("wait_initial", "wait_max", "wait_jitter", "max_retry_after"):
            a_number(name, getattr(self, name))
        if self.wait_max < self.wait_initial:
            raise InvalidRequestError(
                f"wait_max ({self.wait_max}) must be >= wait_initial ({self.wait_initial})"
            )
        flag("retry_ambiguous_sends", self.retry_ambiguous_sends)
        callable_or_none("on_retry", self.on_retry)


def to_timeout(value: float | httpx.Timeout) -> httpx.Timeout:
    """Normalise the ``timeout=`` shorthand; refuse any part that would wait forever."""
    if not isinstance(value, httpx.Timeout):
        return httpx.Timeout(_seconds("timeout", value))
    for part in ("connect", "read", "write", "pool"):
        _seconds(f"timeout.{part}", getattr(value, part))
    return value


def _seconds(name: str, value: object) -> float:
    if value is None:
        raise InvalidRequestError(
            f"{name} must be a positive number of seconds, got None: "
            "an SMS client must never wait forever"
        )
    return a_number(name, value, positive=True)


def attempt_deadline(timeout: httpx.Timeout) -> float:
    """Seconds one attempt may take in all: the connect, write, read and pool timeouts added.

    Each of those bounds one wait (a read timeout, each wait for the next bytes), so a
    server dribbling its answer a byte at a time could hold a request, its connection and
    its rate-limit slot for ever. The sum never cuts short an attempt whose every wait
    keeps within its timeout and whose answer arrives within one read timeout.
    """
    parts = (timeout.connect, timeout.write, timeout.read, timeout.pool)
    return sum(part for part in parts if part is not None)


def check_max_answer_bytes(value: int) -> int:
    """``max_answer_bytes``, if it is an int of at least 1 KiB."""
    return whole("max_answer_bytes", value, minimum=1024)


DEFAULT_BASE_URL = "https://texin.hotspotbillingsystem.co.ke/api/"
#: The provider's documented limit: 100 requests per minute per API key.
DEFAULT_RATE_LIMIT = RateLimit(max_rate=100, time_period=60.0)
#: One try plus three retries: 0.5, 1 and 2 s apart plus jitter (at most about 5 s in all),
#: longer only when a server's Retry-After asks for it.
DEFAULT_RETRY_POLICY = RetryPolicy()
#: Sends wait on the SMS gateway, so reads get 30 s; connecting should be quick.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: 100 requests a minute need few sockets; 10 lets a burst go out at once.
DEFAULT_MAX_CONNECTIONS = 10
#: The most bytes of one answer read: a 1,000-number bulk answer is about 60 KB.
DEFAULT_MAX_ANSWER_BYTES = 4 * 1024 * 1024
