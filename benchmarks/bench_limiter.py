"""Limiter: most requests in any window and share of the budget used, vs aiolimiter.

Real time, scaled: 100 requests per 1 s window, 400 requests queued at once, so each limiter
runs about four windows. "budget used" counts the first window: n / (max_rate x windows
spanned), where a limiter that bursts max_rate and then keeps pace scores 100%.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiolimiter import AsyncLimiter

from benchmarks._common import table
from texin_async import RateLimit
from texin_async._ratelimit import LocalRateLimiter

MAX_RATE, PERIOD, REQUESTS = 100, 1.0, 400


def max_in_any_window(times: list[float], period: float) -> int:
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def grant_times(acquire: Callable[[], Awaitable[object]]) -> list[float]:
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def one() -> None:
        await acquire()
        times.append(loop.time())

    await asyncio.gather(*(one() for _ in range(REQUESTS)))
    return times


async def measure() -> list[tuple[str, ...]]:
    ours = LocalRateLimiter(RateLimit(max_rate=MAX_RATE, time_period=PERIOD))
    bucket = AsyncLimiter(MAX_RATE, PERIOD)
    smooth = AsyncLimiter(1, PERIOD / MAX_RATE)
    candidates: dict[str, Callable[[], Awaitable[object]]] = {
        f"texin_async sliding window ({MAX_RATE}/{PERIOD:g}s, margin 0.3%)": lambda: ours.acquire(
            "k"
        ),
        f"aiolimiter AsyncLimiter({MAX_RATE}, P)": bucket.acquire,
        f"aiolimiter AsyncLimiter(1, P/{MAX_RATE})": smooth.acquire,
    }
    rows = []
    for name, acquire in candidates.items():
        times = await grant_times(acquire)
        spanned = (max(times) - min(times)) / PERIOD + 1
        rows.append(
            (
                name,
                f"{max_in_any_window(times, PERIOD)} (limit {MAX_RATE})",
                f"{REQUESTS / (MAX_RATE * spanned):.1%}",
            )
        )
    return rows


def main() -> None:
    rows = asyncio.run(measure())
    table(
        f"Limiter: {REQUESTS} queued requests, {MAX_RATE} per {PERIOD:g}s window",
        ["limiter", "most in any window", "budget used"],
        rows,
    )


if __name__ == "__main__":
    main()
