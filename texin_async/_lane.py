"""One key's budget and who may use it next: the scheduling rules, as pure state on a clock.

The in-process limiter keeps one :class:`Lane` per key; the Redis limiter applies the same
rules in its Lua scripts, on Redis's clock. A request of a :class:`Priority` may take a slot
when all of these hold:

1. **Pause**: no 429's ``Retry-After`` is holding the key.
2. **Window**: fewer than ``max_rate`` requests count: in flight, or answered within a slot
   lifetime (``time_period * (1 + margin)``). A request whose answer never came (a timeout,
   a dropped connection, a cancellation after it left) counts for two lifetimes, since a
   busy server may count it late; one that never left counts not at all.
3. **Reserve**: bulk and background leave :attr:`RateLimit.reserved` slots that only
   interactive requests may take, so a login code finds one even mid-campaign.
4. **Order**: interactive before bulk before background; first come, first served within a
   class. Starvation guard: a request that has waited two slot lifetimes (a campaign's own
   request may wait one, for the window it filled) is served as interactive, reserve and
   pacing included, so a flood of interactive sends slows a campaign but cannot stop it.
5. **Pacing**: once a campaign fills the window, or interactive traffic is about, bulk and
   background leave at most one per interval (``time_period / max_rate``), and keep that
   pace until a window passes without them; so a slot frees about every interval rather
   than all at once a window later. A quiet key lets a campaign burst up to the reserve.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._config import RateLimit

__all__ = ["Ending", "Lane", "Priority", "Waiter", "sustained_seconds"]

_T = TypeVar("_T")


class Priority(enum.IntEnum):
    """Traffic classes that share a key's budget; the lower, the sooner served.

    Direct calls default to INTERACTIVE (a code someone is waiting for), batches to BULK;
    BACKGROUND is for work that can wait (status polling, a balance refresh).
    """

    INTERACTIVE = 0
    BULK = 1
    BACKGROUND = 2


class Ending(enum.Enum):
    """How a slot's request ended, which decides how long the slot keeps counting."""

    #: An HTTP answer came: the server counted it by then; one lifetime from now.
    ANSWERED = "answered"
    #: It surely never reached the server: it does not count at all.
    NOT_SENT = "not sent"
    #: It left but no answer came: the server may count it late; two lifetimes from now.
    UNANSWERED = "unanswered"


@dataclass(eq=False)
class Waiter(Generic[_T]):
    """A request queued for a slot; ``token`` is whatever wakes it (the limiter's business)."""

    priority: Priority
    arrived: float
    seq: int
    token: _T


_SEQ = itertools.count()


class Lane(Generic[_T]):
    """One key's window, pause, pacing and queue. Not thread-safe: the caller locks."""

    __slots__ = (
        "_expiries",
        "_in_flight",
        "_last",
        "_pace_next",
        "_paced_until",
        "limit",
        "noted_at",
        "paused_until",
        "sweep_at",
        "waiters",
    )

    def __init__(self, limit: RateLimit | None) -> None:
        self.limit = limit
        # When each finished slot stops counting (a heap: late counts break arrival order).
        self._expiries: list[float] = []
        self._last = float("-inf")  # the latest expiry ever pushed
        self._in_flight = 0
        self.paused_until = float("-inf")
        self._paced_until = float("-inf")
        self._pace_next = float("-inf")
        self.waiters: list[Waiter[_T]] = []
        #: When a wait was last logged, and when the lane is due a look for idleness: the
        #: limiter's bookkeeping, kept here so that it goes with the lane.
        self.noted_at = float("-inf")
        self.sweep_at: float | None = None

    # -- the rules -------------------------------------------------------------------------

    def class_of(self, priority: Priority, arrived: float, now: float) -> Priority:
        """The class a request is served as: interactive once it has waited two windows
        (a campaign's own requests may wait one, for the window it filled)."""
        if self.limit is not None and now - arrived > 2 * self.limit.slot_lifetime:
            return Priority.INTERACTIVE
        return priority

    def wait(self, now: float, served_as: Priority) -> float | None:
        """Seconds until a request served as ``served_as`` may go (0: now; None: when a
        request in flight ends). A bulk request that finds the window full starts pacing."""
        if now < self.paused_until:
            return self.paused_until - now
        limit = self.limit
        if limit is None:
            return 0.0
        self._expire(now)
        used = self._in_flight + len(self._expiries)
        interactive = served_as is Priority.INTERACTIVE
        cap = limit.max_rate if interactive else limit.max_rate - limit.reserved
        if used >= cap:
            ahead = used - cap  # finished slots that must expire first, earliest first
            wait = (
                heapq.nsmallest(ahead + 1, self._expiries)[-1] - now
                if ahead < len(self._expiries)
                else None
            )
            if not interactive:  # a campaign filled the window: pace it from when it may go
                until = now + (limit.slot_lifetime if wait is None else wait)
                self._paced_until = max(self._paced_until, until + limit.slot_lifetime)
            return wait
        if not interactive and now < self._paced_until and now < self._pace_next:
            return self._pace_next - now
        return 0.0

    def take(self, now: float, priority: Priority) -> None:
        """Hold a slot (after :meth:`wait` said 0)."""
        self._in_flight += 1
        limit = self.limit
        if limit is None:
            return
        paced = now < self._paced_until
        if priority is not Priority.INTERACTIVE:  # campaign traffic, promoted or not
            self._pace_next = now + limit.interval
        if paced or priority is Priority.INTERACTIVE:  # keep pacing while a campaign runs
            self._paced_until = max(self._paced_until, now + limit.slot_lifetime)

    def release(self, now: float, ending: Ending) -> None:
        """A slot's request ended ``now``, as ``ending`` says."""
        self._in_flight -= 1
        limit = self.limit
        if limit is None or ending is Ending.NOT_SENT:
            return
        lifetimes = 1 if ending is Ending.ANSWERED else 2
        self._push(now + lifetimes * limit.slot_lifetime)

    def remember(self, sent_at: Iterable[float]) -> None:
        """Count requests a previous run sent at these times (on this lane's clock), as
        unanswered ones: for two slot lifetimes from when they left."""
        if self.limit is None:
            return
        lifetimes = 2 * self.limit.slot_lifetime
        for sent in sent_at:
            self._push(sent + lifetimes)
        while len(self._expiries) > self.limit.max_rate * 2:  # the latest ones matter
            heapq.heappop(self._expiries)

    def _push(self, expiry: float) -> None:
        heapq.heappush(self._expiries, expiry)
        self._last = max(self._last, expiry)

    def pause(self, now: float, seconds: float) -> None:
        """Hold the key until ``seconds`` from now (extends, never shortens, a pause)."""
        self.paused_until = max(self.paused_until, now + seconds)

    # -- the queue -------------------------------------------------------------------------

    def enqueue(self, priority: Priority, now: float, token: _T) -> Waiter[_T]:
        waiter = Waiter(priority, now, next(_SEQ), token)
        self.waiters.append(waiter)
        return waiter

    def head(self, now: float) -> Waiter[_T] | None:
        """The waiter to serve next: by class served as, then arrival."""
        if not self.waiters:
            return None
        return min(self.waiters, key=lambda w: self._order(w, now))

    def _order(self, waiter: Waiter[_T], now: float) -> tuple[Priority, float, int]:
        return (self.class_of(waiter.priority, waiter.arrived, now), waiter.arrived, waiter.seq)

    def ahead_of(self, priority: Priority, now: float) -> int:
        """Waiters that would go before a newcomer of ``priority`` arriving ``now``."""
        return sum(1 for w in self.waiters if self.class_of(w.priority, w.arrived, now) <= priority)

    # -- what it holds ---------------------------------------------------------------------

    def paced(self, now: float) -> bool:
        """Whether bulk and background are paced now."""
        return now < self._paced_until

    def counted(self, now: float) -> int:
        """Requests that count against the window now (in flight or recent)."""
        self._expire(now)
        return self._in_flight + len(self._expiries)

    def idle_at(self) -> float | None:
        """When this lane will hold nothing that counts, or None while anything is in use."""
        if self._in_flight or self.waiters:
            return None
        return max(self._last, self.paused_until, self._paced_until)

    def _expire(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0] <= now:
            heapq.heappop(expiries)

    def __repr__(self) -> str:
        limit = f"{self.limit.max_rate} per {self.limit.time_period:g}s" if self.limit else "none"
        return (
            f"<Lane {self._in_flight} in flight, {len(self._expiries)} recent, "
            f"{len(self.waiters)} waiting, limit {limit}>"
        )


def sustained_seconds(
    limit: RateLimit, priority: Priority, counted: int, needed: int, paced: bool
) -> float:
    """About how long ``needed`` more requests take when ``counted`` already count: what
    the window has free goes now, the rest at the key's sustained pace."""
    interactive = priority is Priority.INTERACTIVE
    cap = limit.max_rate if interactive else limit.max_rate - limit.reserved
    beyond = max(0, needed - max(0, cap - counted))
    seconds = beyond * limit.slot_lifetime / max(1, cap)
    if paced and not interactive:
        seconds = max(seconds, needed * limit.interval)
    return seconds
