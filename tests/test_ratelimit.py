"""The in-process sliding-window limiter, on a fake clock: deterministic and instant."""

from __future__ import annotations

import anyio
import pytest

from texin_async import RateLimit
from texin_async._ratelimit import LocalRateLimiter, RateLimiter, SlidingWindow

pytestmark = pytest.mark.anyio


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
    limiter: LocalRateLimiter, clock: FakeClock, n: int, latency: float = 0.0
) -> list[float]:
    """n concurrent requests taking ``latency`` seconds each; when each was let go."""
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire("k")
        times.append(clock())
        clock.now += latency
        await limiter.release("k")

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return times


async def test_burst_of_max_rate_goes_at_once() -> None:
    """The first max_rate requests leave without waiting."""
    limiter, clock = make(RateLimit(max_rate=100, time_period=60.0))
    times = await grant_times(limiter, clock, 100)
    assert times == [0.0] * 100


async def test_request_past_the_budget_waits_for_the_oldest_slot() -> None:
    """Request max_rate + 1 leaves once the first slot is a full window (plus margin) old."""
    limit = RateLimit(max_rate=10, time_period=60.0, margin=0.003)
    limiter, clock = make(limit)
    times = await grant_times(limiter, clock, 11)
    assert times[-1] == pytest.approx(60.0 * 1.003)


async def test_window_of_a_slot_starts_when_its_answer_arrives() -> None:
    """A slow request's slot counts from its answer: the server may have seen it late."""
    limit = RateLimit(max_rate=1, time_period=10.0, margin=0.0)
    limiter, clock = make(limit)
    times = await grant_times(limiter, clock, 2, latency=3.0)
    assert times == [0.0, 13.0]


async def test_full_window_of_requests_in_flight_waits_for_an_answer() -> None:
    """When every slot is in flight, the next request waits for one to finish."""
    limit = RateLimit(max_rate=2, time_period=1.0, margin=0.0)
    limiter, clock = make(limit)
    await limiter.acquire("k")
    await limiter.acquire("k")
    order: list[str] = []

    async def third() -> None:
        await limiter.acquire("k")
        order.append(f"granted at {clock():g}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(third)
        await anyio.wait_all_tasks_blocked()
        order.append("released")
        clock.now = 5.0
        await limiter.release("k")
    assert order == ["released", "granted at 6"]


async def test_slow_answers_never_let_a_strict_server_see_too_many() -> None:
    """With latency, the server-side arrivals (anywhere in flight) stay within the budget."""
    limiter, clock = make(RateLimit(max_rate=10, time_period=1.0, margin=0.0))
    times = await grant_times(limiter, clock, 100, latency=0.05)
    # Worst case the server sees a request at the very end of its flight.
    assert max_in_any_window([t + 0.05 for t in times[:10]] + times[10:], 1.0) <= 10


async def test_never_more_than_max_rate_in_any_window() -> None:
    """Across many windows of queued work, no window holds more than max_rate requests."""
    limiter, clock = make(RateLimit(max_rate=100, time_period=60.0))
    times = await grant_times(limiter, clock, 1000)
    assert max_in_any_window(times, 60.0) == 100


async def test_queued_work_uses_at_least_99_percent_of_the_budget() -> None:
    """After the burst, queued work sustains >= 99% of max_rate per period."""
    limiter, clock = make(RateLimit(max_rate=100, time_period=60.0))
    times = await grant_times(limiter, clock, 1000, latency=0.01)
    periods = (times[-1] - times[0]) / 60.0
    used = (len(times) - 100) / (100 * periods)
    assert used >= 0.99


async def test_pause_holds_every_waiter_of_the_key() -> None:
    """A 429 pause delays all of the key's requests, even ones with free slots."""
    limiter, clock = make(RateLimit(max_rate=100, time_period=60.0))
    await limiter.pause("k", 5.0)
    times = await grant_times(limiter, clock, 3)
    assert times == [5.0, 5.0, 5.0]


async def test_pause_never_shortens_an_earlier_pause() -> None:
    """A shorter pause after a longer one leaves the longer one in force."""
    limiter, clock = make(RateLimit())
    await limiter.pause("k", 10.0)
    await limiter.pause("k", 1.0)
    await limiter.acquire("k")
    assert clock() == 10.0


async def test_pause_applies_when_limiting_is_off() -> None:
    """rate_limit=None sends freely but still honours a server's Retry-After."""
    limiter, clock = make(None)
    assert await grant_times(limiter, clock, 500) == [0.0] * 500
    await limiter.pause("k", 2.0)
    await limiter.acquire("k")
    assert clock() == 2.0


async def test_keys_have_separate_budgets() -> None:
    """One key's exhausted budget does not hold back another key."""
    limiter, clock = make(RateLimit(max_rate=2, time_period=60.0))
    for _ in range(2):
        await limiter.acquire("a")
        await limiter.release("a")
    await limiter.acquire("b")
    assert clock() == 0.0


async def test_cancelled_waiter_takes_no_slot() -> None:
    """A request cancelled while waiting leaves its place to the next one."""
    limit = RateLimit(max_rate=1, time_period=10.0, margin=0.0)
    window = SlidingWindow(limit, clock=anyio.current_time, sleep=anyio.sleep)
    await window.acquire()
    window.release()
    with anyio.move_on_after(0.01):
        await window.acquire()
    assert window.in_window() == 1


async def test_window_repr_shows_its_state() -> None:
    """The repr tells how full the window is and whether the key is paused."""
    limiter, _ = make(RateLimit(max_rate=5, time_period=2.0))
    await limiter.acquire("k")
    await limiter.acquire("k")
    await limiter.release("k")
    await limiter.pause("k", 1.5)
    assert repr(limiter.window("k")) == (
        "<SlidingWindow 2 in window (1 in flight), limit 5 per 2s, paused 1.50s>"
    )


def test_shared_limiter_is_one_per_rate_limit() -> None:
    """Clients with equal RateLimits share one limiter, so one budget per key."""
    a = LocalRateLimiter.shared(RateLimit(max_rate=7, time_period=1.0))
    b = LocalRateLimiter.shared(RateLimit(max_rate=7, time_period=1.0))
    assert a is b
    assert a is not LocalRateLimiter.shared(RateLimit(max_rate=8, time_period=1.0))


def test_each_event_loop_gets_its_own_window() -> None:
    """A window made in one event loop is not reused (with its lock) in the next."""
    limiter = LocalRateLimiter(RateLimit(max_rate=3, time_period=60.0))
    seen: list[tuple[SlidingWindow, int]] = []

    async def use() -> None:
        await limiter.acquire("k")
        await limiter.release("k")
        seen.append((limiter.window("k"), limiter.window("k").in_window()))

    anyio.run(use)
    anyio.run(use)
    (first, _), (second, used) = seen
    assert first is not second
    assert used == 1


def test_local_limiter_satisfies_the_protocol() -> None:
    """LocalRateLimiter is a RateLimiter, so the client accepts it and its peers alike."""
    assert isinstance(LocalRateLimiter(RateLimit()), RateLimiter)


def test_least_seconds_for_counts_the_burst_then_a_window_per_budget() -> None:
    """The plan the CLI prints: max_rate at once, then one window per further max_rate."""
    limit = RateLimit(max_rate=100, time_period=60.0)
    assert [limit.least_seconds_for(n) for n in (1, 100, 101, 300)] == [0.0, 0.0, 0.6, 120.0]
