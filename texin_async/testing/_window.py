"""The provider's rate limit: a strict sliding window of accepted requests per API key."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from texin_async._config import RateLimit

__all__ = ["RateWindows", "retry_after", "to_rate_limit"]

# Without a limit, max_in_window still needs a period: the documented one.
_UNLIMITED_PERIOD = 60.0


def to_rate_limit(value: RateLimit | str | None) -> RateLimit | None:
    """Normalise the ``rate_limit=`` shorthand: ``"20/2"``, a RateLimit, or None (no limit)."""
    if value is None or isinstance(value, RateLimit):
        return value
    if isinstance(value, str):
        return RateLimit.parse(value)
    raise TypeError(f"rate_limit must be a RateLimit, a '100/60' string or None, got {value!r}")


class RateWindows:
    """Admit a request if fewer than ``max_rate`` were admitted in the last ``time_period``.

    Refused requests do not enter the window, so a client that retries too early does not
    push its own slot further away. Not thread-safe: the emulator serialises calls.
    """

    def __init__(self, limit: RateLimit | None, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}
        self._most: dict[str, int] = {}

    def admit(self, key: str) -> float | None:
        """Admit one request of ``key`` now (None), or return the seconds until a slot frees."""
        now = self._clock()
        period = self.limit.time_period if self.limit else _UNLIMITED_PERIOD
        stamps = self._admitted.setdefault(key, deque())
        while stamps and stamps[0] <= now - period:
            stamps.popleft()
        if self.limit is not None and len(stamps) >= self.limit.max_rate:
            # The slot that frees first for this request; not stamps[0] if the limit shrank.
            return stamps[len(stamps) - self.limit.max_rate] + period - now
        stamps.append(now)
        self._most[key] = max(self._most.get(key, 0), len(stamps))
        return None

    def max_in_window(self, key: str) -> int:
        """The most requests of ``key`` admitted within any one window of the period."""
        return self._most.get(key, 0)

    def clear(self) -> None:
        """Forget every admitted request."""
        self._admitted.clear()
        self._most.clear()


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` value for a wait: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
