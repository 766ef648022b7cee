"""Limiter: most requests a strict server could see in one window, and budget used.

Real time, scaled: 100 requests per 1 s window; 400 requests queued at once, each answered
LATENCY seconds after it leaves, so each limiter runs about four windows.

A strict server counts a request when it gets to it: any time between its departure and its
answer. "worst case in a window" counts, for each window, every request that could have
been seen in it (left before the window ended, answered after it began). "budget used" is
n / (max_rate x windows spanned): bursting max_rate and then keeping pace scores 100%.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from aiolimiter import AsyncLimiter

from benchmarks._common import table
from texin_async import RateLimit
from texin_async._ratelimit import LocalRateLimiter

# 5 ms per 1 s window is a 300 ms round trip on the provider's 60 s window.
MAX_RATE, PERIOD, REQUESTS, LATENCY = 100, 1.0, 400, 0.005
Spans = list[tuple[float, float]]


def worst_case_in_window(spans: Spans) -> int:
    """Most requests whose (departure, answer) span touches one window (t - PERIOD, t]."""
    ends = [d for d, _ in spans]
    return max(sum(1 for d, a in spans if d <= t and a > t - PERIOD) for t in ends)


async def run(slot: Callable[[], AbstractAsyncContextManager[object]]) -> Spans:
    loop = asyncio.get_running_loop()
    spans: Spans = []

    async def one() -> None:
        async with slot():
            departed = loop.time()
            await asyncio.sleep(LATENCY)
            spans.append((departed, loop.time()))

    await asyncio.gather(*(one() for _ in range(REQUESTS)))
    return spans


async def measure() -> list[tuple[str, ...]]:
    ours = LocalRateLimiter(RateLimit(max_rate=MAX_RATE, time_period=PERIOD, reserve=0))
    bucket = AsyncLimiter(MAX_RATE, PERIOD)
    smooth = AsyncLimiter(1, PERIOD / MAX_RATE)
    candidates: dict[str, Callable[[], AbstractAsyncContextManager[object]]] = {
        "texin_async sliding window": lambda: ours.slot("k"),
        f"aiolimiter AsyncLimiter({MAX_RATE}, P)": lambda: bucket,
        f"aiolimiter AsyncLimiter(1, P/{MAX_RATE})": lambda: smooth,
    }
    rows: list[tuple[str, ...]] = []
    for name, slot in candidates.items():
        spans = await run(slot)
        departures = [d for d, _ in spans]
        spanned = (max(departures) - min(departures)) / PERIOD + 1
        rows.append(
            (
                name,
                f"{worst_case_in_window(spans)} (limit {MAX_RATE})",
                f"{REQUESTS / (MAX_RATE * spanned):.1%}",
            )
        )
    return rows


def main() -> None:
    rows = asyncio.run(measure())
    table(
        f"Limiter: {REQUESTS} queued requests, {MAX_RATE} per {PERIOD:g}s window, "
        f"{LATENCY * 1000:g} ms per answer",
        ["limiter", "worst case a strict server sees in a window", "budget used"],
        rows,
    )


if __name__ == "__main__":
    main()
