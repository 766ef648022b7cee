"""The in-process limiter (texin_async._ratelimit, _lane) on a fake clock: the sliding
window, late counts, traffic classes, the reserve, pacing and the starvation guard."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from texin_async import LimiterPlan, Priority, RateLimit
from texin_async._exceptions import APIConnectionError, APITimeoutError
from texin_async._lane import sustained_seconds
from texin_async._ratelimit import LocalRateLimiter, RateLimiter

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("asyncio", "trio")]

INTERACTIVE, BULK, BACKGROUND = Priority.INTERACTIVE, Priority.BULK, Priority.BACKGROUND


class FakeClock:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def max_in_any_window(times: list[float], period: float) -> int:
    """Most timestamps inside any half-open window (t - period, t]."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def make(limit: RateLimit | None) -> tuple[LocalRateLimiter, FakeClock]:
    clock = FakeClock()
    return LocalRateLimiter(limit, clock=clock, sleep=clock.sleep), clock


async def grant_times(
    limiter: LocalRateLimiter,
    clock: FakeClock,
    n: int,
    latency: float = 0.0,
    priority: Priority = INTERACTIVE,
) -> list[float]:
    """n concurrent requests taking ``latency`` seconds each; when each was let go."""
    times: list[float] = []

    async def one() -> None:
        async with limiter.slot("k", priority):
            times.append(clock())
            clock.now += latency

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return times


@asynccontextmanager
async def held(
    limiter: LocalRateLimiter, n: int, priority: Priority = INTERACTIVE
) -> AsyncIterator[None]:
    """``n`` slots held for the length of the block, then answered."""
    async with anyio.create_task_group() as tg:
        release = anyio.Event()
        taken = 0

        async def hold() -> None:
            nonlocal taken
            async with limiter.slot("k", priority):
                taken += 1
                await release.wait()

        for _ in range(n):
            tg.start_soon(hold)
        while taken < n:
            await anyio.lowlevel.checkpoint()
        yield
        release.set()


# -- the window ------------------------------------------------------------------------------


async def test_interactive_bursts_to_the_whole_budget() -> None:
    """The first max_rate interactive requests leave without waiting."""
    limiter, clock = make(RateLimit(max_rate=100, time_period=60.0))
    assert await grant_times(limiter, clock, 100) == [0.0] * 100


async def test_request_past_the_budget_waits_for_the_oldest_slot() -> None:
    """Request max_rate + 1 leaves once the first slot is a full window (plus margin) old."""
    limiter, clock = make(RateLimit(max_rate=10, time_period=60.0, margin=0.003))
    times = await grant_times(limiter, clock, 11)
    assert times[-1] == pytest.approx(60.0 * 1.003)


async def test_window_of_a_slot_starts_when_its_answer_arrives() -> None:
    """A slow request's slot counts from its answer: the server may have seen it late."""
    limiter, clock = make(RateLimit(max_rate=1, time_period=10.0, margin=0.0, reserve=0))
    assert await grant_times(limiter, clock, 2, latency=3.0) == [0.0, 13.0]


@pytest.mark.parametrize(
    ("error", "free_at"),
    [
        (APITimeoutError("no answer"), 20.0),  # may be counted late: two lifetimes
        (asyncio.CancelledError(), 20.0),  # cancelled after it may have left
        (APIConnectionError("refused"), 0.0),  # never reached the server: not counted
    ],
)
async def test_how_a_request_ended_decides_how_long_its_slot_counts(
    error: BaseException | type[BaseException], free_at: float
) -> None:
    """An unanswered request counts two windows (a busy server may count it late); one
    that never left counts not at all."""
    limiter, clock = make(RateLimit(max_rate=1, time_period=10.0, margin=0.0, reserve=0))
    with pytest.raises(BaseException):  # noqa: B017 - whichever error it was
        async with limiter.slot("k"):
            raise error
    assert await grant_times(limiter, clock, 1) == [free_at]


async def test_full_window_of_requests_in_flight_waits_for_an_answer() -> None:
    """When every slot is in flight, the next request waits for one to finish."""
    limiter, clock = make(RateLimit(max_rate=2, time_period=1.0, margin=0.0, reserve=0))
    order: list[str] = []

    async def third() -> None:
        async with limiter.slot("k"):
            order.append(f"granted at {clock():g}")

    async with anyio.create_task_group() as tg, held(limiter, 2):
        tg.start_soon(third)
        await anyio.wait_all_tasks_blocked()
        order.append("released")
        clock.now = 5.0
    assert order == ["released", "granted at 6"]


async def test_never_more_than_max_rate_in_any_window() -> None:
    """Across many windows of queued work, of every class, no window holds more than
    max_rate requests, however they end."""
    limiter, clock = make(RateLimit(max_rate=100, time_period=60.0))
    times: list[float] = []

    async def one(i: int) -> None:
        async with limiter.slot("k", Priority(i % 3)):
            times.append(clock())
            clock.now += 0.05

    async with anyio.create_task_group() as tg:
        for i in range(1000):
            tg.start_soon(one, i)
    assert max_in_any_window(times, 60.0) <= 100


async def test_queued_interactive_work_uses_99_percent_of_the_budget() -> None:
    """Interactive requests queued back to back sustain >= 99% of max_rate per window."""
    limit = RateLimit(max_rate=100, time_period=60.0)
    limiter, clock = make(limit)
    times = await grant_times(limiter, clock, 1000, latency=0.0)
    used = 900 / (max(times) - times[100]) * limit.time_period / limit.max_rate
    assert used >= 0.99


# -- classes, reserve, pacing, the starvation guard -------------------------------------------


async def test_bulk_leaves_the_reserve_to_interactive() -> None:
    """A campaign's burst stops short of the reserve; a login code takes a reserved slot."""
    limit = RateLimit(max_rate=100, time_period=60.0)
    assert limit.reserved == 2
    limiter, clock = make(limit)
    assert await grant_times(limiter, clock, 98, priority=BULK) == [0.0] * 98
    assert await grant_times(limiter, clock, 2) == [clock.now] * 2


async def test_waiters_go_by_class_then_arrival() -> None:
    """When several wait, interactive goes first, then bulk, then background; each class
    first come, first served."""
    limiter, _ = make(RateLimit(max_rate=6, time_period=10.0, margin=0.0, reserve=0))
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        async with limiter.slot("k", priority):
            order.append(name)

    async with anyio.create_task_group() as tg, held(limiter, 6):
        for name, priority in [("bg1", BACKGROUND), ("b1", BULK), ("i1", INTERACTIVE),
                               ("b2", BULK), ("i2", INTERACTIVE), ("bg2", BACKGROUND)]:  # fmt: skip
            tg.start_soon(one, name, priority)
            await anyio.wait_all_tasks_blocked()
    assert order == ["i1", "i2", "b1", "b2", "bg1", "bg2"]


async def test_a_quiet_key_lets_a_campaign_burst_then_paces_it() -> None:
    """On a quiet key bulk bursts to the reserve; once the window is full, one request an
    interval (time_period / max_rate), so a slot frees every interval, not all at once."""
    limit = RateLimit(max_rate=10, time_period=10.0, margin=0.0, reserve=0.1)
    limiter, clock = make(limit)
    times = await grant_times(limiter, clock, 30, priority=BULK)
    assert times[:9] == [0.0] * 9
    second_window = sorted(times[9:18])
    gaps = [b - a for a, b in itertools.pairwise(second_window)]
    assert min(gaps) >= limit.interval - 1e-9
    assert max_in_any_window(times[:18], limit.time_period) <= limit.max_rate - limit.reserved


async def test_interactive_traffic_paces_a_campaign_from_its_first_request() -> None:
    """With interactive requests about, bulk does not burst: one per interval."""
    limit = RateLimit(max_rate=10, time_period=10.0, margin=0.0, reserve=0.1)
    limiter, clock = make(limit)
    await grant_times(limiter, clock, 1)
    times = await grant_times(limiter, clock, 5, priority=BULK)
    assert sorted(times) == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


async def test_a_code_waits_at_most_about_an_interval_behind_a_paced_campaign() -> None:
    """Mid-campaign, with the reserve used, an interactive request takes the next slot to
    free, at most about one interval away."""
    limit = RateLimit(max_rate=10, time_period=10.0, margin=0.0, reserve=0.1)
    limiter, clock = make(limit)
    waits: list[float] = []

    async def code() -> None:
        for _ in range(6):
            await clock.sleep(2.3)
            asked = clock()
            async with limiter.slot("k", INTERACTIVE):
                waits.append(clock() - asked)

    async with anyio.create_task_group() as tg:
        tg.start_soon(grant_times, limiter, clock, 60, 0.0, BULK)
        tg.start_soon(code)
    assert max(waits) <= limit.interval + 1e-9


async def test_a_flood_of_interactive_sends_cannot_stop_a_campaign() -> None:
    """Starvation guard: a bulk request that has waited a whole window goes before
    interactive requests that came after it, reserve included."""
    limit = RateLimit(max_rate=2, time_period=10.0, margin=0.0, reserve=0.5)
    limiter, clock = make(limit)
    bulk_at: list[float] = []

    async def flood() -> None:
        for _ in range(40):
            async with limiter.slot("k", INTERACTIVE):
                pass

    async def campaign() -> None:
        await anyio.lowlevel.checkpoint()
        for _ in range(2):
            async with limiter.slot("k", BULK):
                bulk_at.append(clock())

    async with anyio.create_task_group() as tg:
        tg.start_soon(flood)
        tg.start_soon(campaign)
    flood_ended = clock()
    assert len(bulk_at) == 2
    assert max(bulk_at) < flood_ended - 5 * limit.time_period


async def test_a_cancelled_waiter_takes_no_slot_and_holds_no_one_up() -> None:
    """Cancelled while queued: it takes nothing, and the waiter behind it goes."""
    limiter, clock = make(RateLimit(max_rate=1, time_period=10.0, margin=0.0, reserve=0))
    got: list[str] = []

    async def one(name: str) -> None:
        async with limiter.slot("k", BULK):
            got.append(name)

    async with anyio.create_task_group() as tg, held(limiter, 1):
        scope = anyio.CancelScope()

        async def cancelled() -> None:
            with scope:
                await one("never")

        tg.start_soon(cancelled)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(one, "second")
        await anyio.wait_all_tasks_blocked()
        scope.cancel()
        await anyio.wait_all_tasks_blocked()
        clock.now = 10.0
    assert got == ["second"]


# -- pauses, plans, memory, many loops ---------------------------------------------------------


async def test_pause_holds_every_waiter_of_the_key_and_never_shortens() -> None:
    """A 429's Retry-After holds every request of the key; a shorter one later does not
    cut it short."""
    limiter, clock = make(RateLimit(max_rate=10, time_period=1.0))
    await limiter.pause("k", 5.0)
    await limiter.pause("k", 1.0)
    assert await grant_times(limiter, clock, 3) == [5.0] * 3


async def test_pause_applies_when_limiting_is_off() -> None:
    """rate_limit=None still honours the server's Retry-After."""
    limiter, clock = make(None)
    await limiter.pause("k", 2.0)
    assert await grant_times(limiter, clock, 2) == [2.0, 2.0]


async def test_keys_have_separate_budgets() -> None:
    """Each API key has its own window."""
    limiter, clock = make(RateLimit(max_rate=1, time_period=60.0, reserve=0))
    async with limiter.slot("a"), limiter.slot("b"):
        assert clock() == 0.0


async def test_the_plan_counts_the_window_the_pace_and_those_ahead() -> None:
    """plan() says how long requests would take: free slots now, the rest at the pace."""
    limit = RateLimit(max_rate=10, time_period=10.0, margin=0.0, reserve=0)
    limiter, clock = make(limit)
    assert await limiter.plan("k", 10, INTERACTIVE) == LimiterPlan(0.0, 0.0, 0)
    await grant_times(limiter, clock, 10)
    plan = await limiter.plan("k", 20, BULK)
    assert plan.seconds == pytest.approx(20.0)
    await limiter.pause("k", 3.0)
    assert (await limiter.plan("k", 0, BULK)).paused_for == 3.0


async def test_requests_of_a_previous_run_count_when_remembered() -> None:
    """remember() counts requests a run sent before a restart (wall-clock times) as
    unanswered ones: for two slot lifetimes from when they left."""
    limit = RateLimit(max_rate=2, time_period=60.0, margin=0.0, reserve=0)
    limiter, clock = make(limit)
    await limiter.remember("k", [time.time() - 30, time.time() - 30])
    assert await grant_times(limiter, clock, 1) == [pytest.approx(90.0, abs=0.1)]


async def test_a_key_is_forgotten_once_nothing_in_it_counts() -> None:
    """Lanes of idle keys are freed: state grows with busy keys, not with keys ever seen."""
    limiter, clock = make(RateLimit(max_rate=10, time_period=1.0, margin=0.0))
    for key in range(100):
        async with limiter.slot(f"k{key}"):
            pass
    assert limiter.lanes() == 100
    clock.now = 5.0
    assert limiter.lanes() == 0


def test_one_budget_per_key_across_threads_and_event_loops() -> None:
    """Threads each running their own event loop on one key share one window."""
    limiter = LocalRateLimiter(RateLimit(max_rate=5, time_period=0.5, margin=0.0))
    times: list[float] = []
    lock = threading.Lock()

    async def worker() -> None:
        for _ in range(5):
            async with limiter.slot("k"):
                with lock:
                    times.append(time.monotonic())

    threads = [threading.Thread(target=asyncio.run, args=(worker(),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(times) == 15
    assert max_in_any_window(times, 0.5) <= 5


def test_shared_limiter_is_one_per_rate_limit() -> None:
    """Clients with equal RateLimits share one limiter, hence one budget per key."""
    limit = RateLimit(max_rate=7, time_period=1.0)
    same = RateLimit(max_rate=7, time_period=1.0)
    assert LocalRateLimiter.shared(limit) is LocalRateLimiter.shared(same)
    assert LocalRateLimiter.shared(limit) is not LocalRateLimiter.shared(None)


def test_local_limiter_satisfies_the_protocol() -> None:
    """LocalRateLimiter is a RateLimiter."""
    assert isinstance(LocalRateLimiter(None), RateLimiter)


@pytest.mark.parametrize(
    ("max_rate", "reserve", "reserved"), [(100, 0.02, 2), (20, 0.02, 1), (1, 0.02, 0), (50, 0, 0)]
)
def test_the_reserve_is_a_share_of_at_least_one_slot_never_all(
    max_rate: int, reserve: float, reserved: int
) -> None:
    """reserve=0.02 keeps 2 of 100 slots, 1 of 20, none of a budget of 1."""
    assert RateLimit(max_rate=max_rate, reserve=reserve).reserved == reserved


def test_sustained_seconds_count_the_free_slots_then_the_pace() -> None:
    """What fits the window goes now; each further bulk budget (max_rate less the reserve)
    takes a slot lifetime."""
    limit = RateLimit(max_rate=100, time_period=60.0, margin=0.0)
    assert sustained_seconds(limit, INTERACTIVE, 0, 100, False) == 0
    assert sustained_seconds(limit, BULK, 0, 98, False) == 0
    assert sustained_seconds(limit, BULK, 0, 196, False) == pytest.approx(60.0)
    assert sustained_seconds(limit, BULK, 0, 10, True) == pytest.approx(6.0)
