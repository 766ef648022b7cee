"""Per-key rate limiting: never trip the provider's window, yet use all of it.

The provider allows ``max_rate`` requests in any ``time_period`` seconds per API key and
enforces it like a strict sliding window. A leaky bucket cannot honour that and still burst:
aiolimiter's ``AsyncLimiter(100, 60)`` lets 199 requests through in the first minute (a full
bucket, then one every 0.6 s), while ``AsyncLimiter(1, 0.6)`` stays under 100 but has no burst
and sustains 95-99%. So this module keeps a *sliding-window log* of the last ``max_rate``
requests, and a request may leave only while fewer than ``max_rate`` are in flight or younger
than ``time_period * (1 + margin)``.

A request's age counts from when its *answer* arrived, not from when it left: the server
counts a request when it gets to it, which may be well after we sent it (new connections,
its own queue), but never after it answered. Stamping at departure let a burst of fresh
connections trip a strict server in our tests; stamping at the answer cannot. The price is
one round trip per window (about 0.5% at 300 ms per 60 s); ``margin`` adds a little more for
clock drift. A burst of ``max_rate`` still goes at once. Memory is ``max_rate`` floats per key.

A 429 means the server saw more than we did (another process, another host): the whole key
pauses for the server's ``Retry-After``, so every task waits, not only the one that was told.

Backends implement :class:`RateLimiter`; :class:`LocalRateLimiter` shares one window per key
among every client in the same event loop, and a Redis backend shares it across processes.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import anyio
from anyio.lowlevel import RunVar

from ._config import RateLimit
from ._exceptions import InvalidRequestError

__all__ = ["LocalRateLimiter", "RateLimiter", "SlidingWindow", "claim"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs from a limiter: a slot per request and a key-wide pause.

    Every ``acquire`` is followed by one ``release`` once the request has its answer (or
    failed): the slot's window starts then. ``key_id`` identifies an API key without
    revealing it (a hash prefix).
    """

    async def acquire(self, key_id: str) -> None:
        """Wait until ``key_id`` may send one request, and hold a slot for it."""
        ...

    async def release(self, key_id: str) -> None:
        """The request that held a slot is over: its window runs from now."""
        ...

    async def pause(self, key_id: str, seconds: float) -> None:
        """Hold every request of ``key_id`` for ``seconds`` from now (a 429's Retry-After)."""
        ...


class SlidingWindow:
    """One key's log in one event loop; waiters are served first come, first served."""

    __slots__ = (
        "_changed",
        "_clock",
        "_finished",
        "_in_flight",
        "_lock",
        "_paused_until",
        "_sleep",
        "limit",
    )

    def __init__(self, limit: RateLimit | None, *, clock: Clock, sleep: Sleep) -> None:
        self.limit = limit
        # When each finished request answered, oldest first; at most max_rate are needed.
        # With no limit, maxlen=0 keeps nothing: only pauses apply.
        self._finished: collections.deque[float] = collections.deque(
            maxlen=limit.max_rate if limit else 0
        )
        self._in_flight = 0
        self._paused_until = float("-inf")
        # fast_acquire: an uncontended request skips a trip through the event loop.
        self._lock = anyio.Lock(fast_acquire=True)
        self._changed = anyio.Event()
        self._clock = clock
        self._sleep = sleep

    def _wait_needed(self, now: float) -> float | None:
        """Seconds until a slot frees (0: free now), or None until a request finishes."""
        if now < self._paused_until:
            return self._paused_until - now
        if not self.limit:
            return 0.0
        lifetime = self.limit.slot_lifetime
        while self._finished and self._finished[0] + lifetime <= now:
            self._finished.popleft()
        if self._in_flight + len(self._finished) < self.limit.max_rate:
            return 0.0
        return self._finished[0] + lifetime - now if self._finished else None

    async def acquire(self) -> None:
        """Wait for a free slot and hold it; cancellation while waiting takes nothing."""
        # Holding the lock while waiting queues waiters in order: no thundering herd.
        async with self._lock:
            while (wait := self._wait_needed(self._clock())) != 0:
                if wait is None:
                    await self._changed.wait()
                else:
                    await self._sleep(wait)
            self._in_flight += 1

    def release(self) -> None:
        """The slot's request answered (or failed) now."""
        self._in_flight -= 1
        if self.limit:
            self._finished.append(self._clock())
        self._changed.set()
        self._changed = anyio.Event()

    def pause(self, seconds: float) -> None:
        """Hold the key until ``seconds`` from now (extends, never shortens, a pause)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def in_window(self) -> int:
        """Requests in flight or finished within the last ``time_period`` seconds."""
        if not self.limit:
            return self._in_flight
        since = self._clock() - self.limit.time_period
        return self._in_flight + sum(1 for t in self._finished if t > since)

    def __repr__(self) -> str:
        paused = max(0.0, self._paused_until - self._clock())
        budget = f"{self.limit.max_rate} per {self.limit.time_period:g}s" if self.limit else "none"
        return (
            f"<SlidingWindow {self.in_window()} in window ({self._in_flight} in flight), "
            f"limit {budget}, paused {paused:.2f}s>"
        )


class LocalRateLimiter:
    """The in-process limiter: one :class:`SlidingWindow` per key and event loop.

    Every client built with the same :class:`RateLimit` shares one instance
    (:meth:`shared`), so all their requests with one key draw on one budget.
    ``rate_limit=None`` keeps only the 429 pause.

    Args:
        rate_limit: The budget per key, or None for no client-side limit.
        clock: Seconds on a monotonic clock; the event loop's by default.
        sleep: How to wait; ``anyio.sleep`` by default. Tests inject both.
    """

    __slots__ = ("_clock", "_sleep", "_windows", "rate_limit")

    def __init__(
        self,
        rate_limit: RateLimit | None,
        *,
        clock: Clock = anyio.current_time,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.rate_limit = rate_limit
        self._clock = clock
        self._sleep = sleep
        # Windows hold loop-bound locks, so each event loop gets its own set.
        self._windows: RunVar[dict[str, SlidingWindow]] = RunVar("texin_async.windows")

    @classmethod
    def shared(cls, rate_limit: RateLimit | None) -> LocalRateLimiter:
        """The process-wide limiter for ``rate_limit``, made on first use."""
        try:
            return _SHARED[rate_limit]
        except KeyError:
            return _SHARED.setdefault(rate_limit, cls(rate_limit))

    def window(self, key_id: str) -> SlidingWindow:
        """The window of ``key_id`` in the running event loop, made lazily."""
        try:
            windows = self._windows.get()
        except LookupError:
            windows = {}
            self._windows.set(windows)
        try:
            return windows[key_id]
        except KeyError:
            window = windows[key_id] = SlidingWindow(
                self.rate_limit, clock=self._clock, sleep=self._sleep
            )
            return window

    async def acquire(self, key_id: str) -> None:
        """Wait for ``key_id``'s next slot."""
        await self.window(key_id).acquire()

    async def release(self, key_id: str) -> None:
        """End ``key_id``'s oldest held slot now."""
        self.window(key_id).release()

    async def pause(self, key_id: str, seconds: float) -> None:
        """Hold ``key_id`` in this event loop for ``seconds``."""
        self.window(key_id).pause(seconds)

    def __repr__(self) -> str:
        return f"LocalRateLimiter({self.rate_limit!r})"


_SHARED: dict[RateLimit | None, LocalRateLimiter] = {}
# key_id -> [the limiter its open clients use, how many they are]
_CLAIMS: dict[str, list[Any]] = {}
# Re-entrant: the garbage collector may run a dropped client's finalizer (a release) at
# any allocation, so also while this thread holds the lock in claim() or release().
_CLAIMS_LOCK = threading.RLock()


def claim(key_id: str, limiter: RateLimiter) -> Callable[[], None]:
    """Record an open client of ``key_id`` on ``limiter``; return the (idempotent) release.

    The provider has one budget per key, so every open client of a key in a process must
    draw on one limiter: two would each allow the whole budget.

    Raises:
        InvalidRequestError: another open client of the key uses a different limiter.
    """
    with _CLAIMS_LOCK:
        held = _CLAIMS.setdefault(key_id, [limiter, 0])
        if held[0] is not limiter:
            raise InvalidRequestError(
                f"API key {key_id} is already used by an open client with {_budget(held[0])}; "
                f"every client of one key must share its budget, not also {_budget(limiter)}: "
                "pass the same rate_limit (or the same limiter) to each"
            )
        held[1] += 1
    released = False

    def release() -> None:
        nonlocal released
        with _CLAIMS_LOCK:
            if released:
                return
            released = True
            held[1] -= 1
            if not held[1] and _CLAIMS.get(key_id) is held:
                del _CLAIMS[key_id]

    return release


def _budget(limiter: RateLimiter) -> str:
    if isinstance(limiter, LocalRateLimiter):
        return f"rate_limit={limiter.rate_limit!r}"
    return f"limiter={limiter!r}"
