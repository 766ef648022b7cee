"""Per-key rate limiting: never trip the provider's window, use all of it, and serve a login
code before a campaign.

The provider allows ``max_rate`` requests in any ``time_period`` seconds per API key and
enforces it like a strict sliding window, so each key keeps a *sliding-window log* of its
last ``max_rate`` requests. A request's slot counts from when its *answer* arrived, not from
when it left: the server counts a request when it gets to it, which may be well after we
sent it, but never after it answered. The rules of who goes next (traffic classes, the
interactive reserve, pacing, the starvation guard) are :mod:`texin_async._lane`'s.

Why not aiolimiter: a leaky bucket cannot burst to the limit and also never exceed it in a
sliding window (``AsyncLimiter(100, 60)`` lets 199 through in the first minute); and the
budget here is shared by every thread and event loop of a process (and, in Lua, by every
process through Redis), which an asyncio-bound limiter cannot be.

Backends implement :class:`RateLimiter`: a request holds a slot for the length of an
``async with limiter.slot(key_id, priority)`` block, and how the block ends (an answer,
nothing sent, no answer) decides how long the slot keeps counting. :class:`LocalRateLimiter`
shares one lane per key by every client of the process; ``RedisRateLimiter`` shares it
across processes.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, NamedTuple, Protocol, runtime_checkable

import anyio
import anyio.lowlevel

from ._config import RateLimit
from ._exceptions import Fate, InvalidRequestError, TexinError
from ._lane import Ending, Lane, Priority, sustained_seconds
from ._logs import fields, logger

__all__ = [
    "LocalRateLimiter",
    "LimiterPlan",
    "Priority",
    "RateLimiter",
    "claim",
    "ending_of",
    "note_wait",
]


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: A wait this long (or of unknown length) is logged at INFO, at most every _NOTE_EVERY s.
_NOTE_AFTER = 1.0
_NOTE_EVERY = 10.0


class LimiterPlan(NamedTuple):
    """What a key's limiter expects: how long ``requests`` more would take from now."""

    #: Seconds until the last of them could go, at the key's budget and pace.
    seconds: float
    #: Seconds the key stays paused by a 429, if it is.
    paused_for: float
    #: Requests already queued that go before them.
    ahead: int


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs from a limiter: a slot per request, a key-wide pause, a plan.

    ``key_id`` identifies an API key without revealing it (a hash prefix).
    """

    def slot(
        self, key_id: str, priority: Priority = Priority.INTERACTIVE
    ) -> AbstractAsyncContextManager[object]:
        """Wait for a slot of ``key_id``'s budget and hold it for the block.

        How the block ends decides how long the slot keeps counting (:func:`ending_of`):
        normally one lifetime from now; not at all if the request surely never left; two
        lifetimes if it left and no answer came.
        """
        ...

    async def pause(self, key_id: str, seconds: float) -> None:
        """Hold every request of ``key_id`` for ``seconds`` from now (a 429's Retry-After)."""
        ...

    async def plan(self, key_id: str, requests: int, priority: Priority) -> LimiterPlan:
        """How long ``requests`` more of ``priority`` would take (for an honest ETA)."""
        ...

    async def remember(self, key_id: str, sent_at: Sequence[float]) -> None:
        """Count requests a previous run sent at these wall-clock times: as requests whose
        answer is not known, for two slot lifetimes from when they left."""
        ...


def ending_of(error: BaseException | None) -> Ending:
    """How a request ended, from what it raised (None: an answer came)."""
    if error is None:
        return Ending.ANSWERED
    if isinstance(error, TexinError):
        if error.fate is Fate.NOT_SENT:
            return Ending.NOT_SENT
        if error.fate is not Fate.NO_ANSWER:
            return Ending.ANSWERED  # refused, a 5xx, an odd answer: an answer all the same
    return Ending.UNANSWERED  # no answer, a cancellation, the unforeseen: it may count late


class _Wake:
    """Wakes one waiting task from any thread: its own loop's event, set thread-safely."""

    __slots__ = ("_event", "_notify", "_thread")

    def __init__(self) -> None:
        self._thread = threading.get_ident()
        native = anyio.lowlevel.current_token().native_token
        # asyncio's loop or trio's token: each can run a callback soon, from any thread.
        self._notify: Callable[[Callable[[], object]], object] = (
            native.call_soon_threadsafe
            if isinstance(native, asyncio.AbstractEventLoop)
            else native.run_sync_soon  # type: ignore[attr-defined]
        )
        self._event = anyio.Event()

    def arm(self) -> None:
        """A fresh event for the next sleep (call under the limiter's lock)."""
        if self._event.is_set():
            self._event = anyio.Event()

    def set(self) -> None:
        event = self._event
        if threading.get_ident() == self._thread:
            event.set()
        else:
            self._notify(event.set)

    async def sleep(self, seconds: float | None, sleep: Sleep | None) -> None:
        """Until woken, or ``seconds`` pass (None: until woken)."""
        if seconds is None:
            await self._event.wait()
        elif sleep is not None:  # an injected (fake) clock's sleep
            await sleep(seconds)
        else:
            with anyio.move_on_after(seconds):
                await self._event.wait()


class LocalRateLimiter:
    """The in-process limiter: one lane per key, shared by every client, task, thread and
    event loop of the process (:meth:`shared`), so one key has one budget.

    A lane is freed once nothing in it counts any more (no slot within its lifetime, no
    pause, no waiter), so a process that sends for many keys keeps state only for the busy.

    Args:
        rate_limit: The budget per key, or None for no client-side limit (429 pauses and
            the order of waiters still apply).
        clock: Monotonic seconds, the same for every thread; ``time.monotonic`` by default.
        sleep: How to wait a known time; by default on the event loop. Tests inject a fake.
    """

    __slots__ = ("_clock", "_idle", "_lanes", "_lock", "_sleep", "rate_limit")

    def __init__(
        self,
        rate_limit: RateLimit | None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep | None = None,
    ) -> None:
        self.rate_limit = rate_limit
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[str, Lane[_Wake]] = {}
        self._idle: list[tuple[float, str]] = []  # (when a lane may be idle, its key): a heap
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, rate_limit: RateLimit | None) -> LocalRateLimiter:
        """The process-wide limiter for ``rate_limit``, made on first use."""
        with _SHARED_LOCK:
            limiter = _SHARED.get(rate_limit)
            if limiter is None:
                limiter = _SHARED[rate_limit] = cls(rate_limit)
            return limiter

    # -- RateLimiter -------------------------------------------------------------------------

    def slot(
        self, key_id: str, priority: Priority = Priority.INTERACTIVE
    ) -> AbstractAsyncContextManager[None]:
        """Hold a slot of ``key_id`` for the block; see :meth:`RateLimiter.slot`."""
        return _Slot(self, key_id, priority)

    async def pause(self, key_id: str, seconds: float) -> None:
        """Hold ``key_id`` for ``seconds`` (never shortens a pause)."""
        with self._lock:
            lane = self._lane(key_id)
            lane.pause(self._clock(), seconds)

    async def plan(
        self, key_id: str, requests: int, priority: Priority = Priority.BULK
    ) -> LimiterPlan:
        """How long ``requests`` more of ``priority`` would take from now."""
        with self._lock:
            lane = self._lanes.get(key_id) or Lane(self.rate_limit)
            return _plan(lane, self._clock(), requests, Priority(priority))

    async def remember(self, key_id: str, sent_at: Sequence[float]) -> None:
        """Count a previous run's requests, sent at those wall-clock times."""
        offset = self._clock() - time.time()
        with self._lock:
            self._lane(key_id).remember(sent + offset for sent in sent_at)

    # -- the queue -------------------------------------------------------------------------

    async def _acquire(self, key_id: str, priority: Priority) -> None:
        """Wait for a slot and take it; cancellation while waiting takes nothing."""
        waiter = None
        try:
            while True:
                with self._lock:
                    lane = self._lane(key_id)
                    now = self._clock()
                    served_as = lane.class_of(
                        priority, now if waiter is None else waiter.arrived, now
                    )
                    delay = self._delay(lane, now, priority, served_as, waiter)
                    if delay == 0:
                        if waiter is not None:
                            lane.waiters.remove(waiter)
                        lane.take(now, priority)
                        self._wake_head(lane, now)  # the next in line may go as well
                        return
                    if waiter is None:
                        waiter = lane.enqueue(priority, now, _Wake())
                        self._note(key_id, lane, now, priority, delay)
                    waiter.token.arm()
                await waiter.token.sleep(delay, self._sleep)
        except BaseException:
            if waiter is not None:
                with self._lock:
                    lane = self._lane(key_id)
                    if waiter in lane.waiters:
                        lane.waiters.remove(waiter)
                    self._wake_head(lane, self._clock())
            raise

    @staticmethod
    def _delay(
        lane: Lane[_Wake], now: float, priority: Priority, served_as: Priority, waiter: Any
    ) -> float | None:
        """0 to go now; else seconds to sleep, or None to sleep until woken."""
        head = lane.head(now)
        if (waiter is None and lane.ahead_of(priority, now)) or waiter not in (None, head):
            # Others go first. Aging may have made one of them the head while it sleeps
            # until woken: wake it (a spurious wake-up only costs it a look).
            if head is not None:
                head.token.set()
            return None
        return lane.wait(now, served_as)

    def _release(self, key_id: str, ending: Ending) -> None:
        with self._lock:
            lane = self._lane(key_id)
            now = self._clock()
            lane.release(now, ending)
            self._wake_head(lane, now)
            if lane.sweep_at is None and (idle_at := lane.idle_at()) is not None:
                lane.sweep_at = idle_at  # one entry per lane in the sweep heap
                heapq.heappush(self._idle, (idle_at, key_id))

    @staticmethod
    def _wake_head(lane: Lane[_Wake], now: float) -> None:
        head = lane.head(now)
        if head is not None:
            head.token.set()

    def _lane(self, key_id: str) -> Lane[_Wake]:
        """``key_id``'s lane, made on first use (freeing lanes that fell idle)."""
        self._sweep(self._clock())
        lane = self._lanes.get(key_id)
        if lane is None:
            lane = self._lanes[key_id] = Lane(self.rate_limit)
        return lane

    def _sweep(self, now: float) -> None:
        """Drop the lanes that hold nothing that counts any more."""
        idle = self._idle
        while idle and idle[0][0] <= now:
            _, key = heapq.heappop(idle)
            lane = self._lanes.get(key)
            if lane is None:
                continue
            lane.sweep_at = None
            at = lane.idle_at()
            if at is not None and at <= now:
                del self._lanes[key]
            elif at is not None:  # used since: look again when it may be idle
                lane.sweep_at = at
                heapq.heappush(idle, (at, key))

    def _note(
        self, key_id: str, lane: Lane[_Wake], now: float, priority: Priority, delay: float | None
    ) -> None:
        note_wait(key_id, lane, now, priority, delay, self.rate_limit)

    def lanes(self) -> int:
        """How many keys hold state now (those fallen idle are freed first)."""
        with self._lock:
            self._sweep(self._clock())
            return len(self._lanes)

    def __repr__(self) -> str:
        return f"LocalRateLimiter({self.rate_limit!r}, lanes={len(self._lanes)})"


def note_wait(
    key_id: str,
    lane: Lane[Any],
    now: float,
    priority: Priority,
    delay: float | None,
    limit: RateLimit | None,
) -> None:
    """Say at INFO that a request waits for the key's budget, and how long: at most every
    10 s a key, and only for a wait of a second or more (or of unknown length)."""
    if (delay is not None and delay < _NOTE_AFTER) or now - lane.noted_at < _NOTE_EVERY:
        return
    lane.noted_at = now
    budget = f"{limit.max_rate} per {limit.time_period:g}s" if limit else "no limit"
    wait = "until a request in flight ends" if delay is None else f"{delay:.1f}s"
    logger.info(
        "texin key %s: a %s request waits %s for the rate limit (%s; %d queued)",
        key_id,
        priority.name.lower(),
        wait,
        budget,
        len(lane.waiters),
        extra=fields(
            key_id=key_id, wait=delay, priority=priority.name.lower(), queued=len(lane.waiters)
        ),
    )


class _Slot:
    """One request's hold on a slot of the in-process limiter (``async with``)."""

    __slots__ = ("_key_id", "_limiter", "_priority")

    def __init__(self, limiter: LocalRateLimiter, key_id: str, priority: Priority) -> None:
        self._limiter, self._key_id, self._priority = limiter, key_id, priority

    async def __aenter__(self) -> None:
        await self._limiter._acquire(self._key_id, self._priority)

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._limiter._release(self._key_id, ending_of(exc))


def _plan(lane: Lane[Any], now: float, requests: int, priority: Priority) -> LimiterPlan:
    """An estimate: free slots go now, the rest at the key's sustained pace."""
    paused_for = max(0.0, lane.paused_until - now)
    ahead = lane.ahead_of(priority, now)
    if lane.limit is None:
        return LimiterPlan(paused_for, paused_for, ahead)
    needed = requests + ahead
    seconds = sustained_seconds(lane.limit, priority, lane.counted(now), needed, lane.paced(now))
    return LimiterPlan(paused_for + seconds, paused_for, ahead)


_SHARED: dict[RateLimit | None, LocalRateLimiter] = {}
_SHARED_LOCK = threading.Lock()
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
