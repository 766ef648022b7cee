"""One process of bench_keys: sends one SMS for each of N keys, prints its figures as JSON.

Usage: ``python -m benchmarks._keys_worker MODE BASE_URL N [REDIS_URL]`` where MODE is
``views`` (one client, ``for_key`` per key), ``clients`` (a TexinClient per key, as README
suggested before), ``single`` (one key, N sends: the CPU baseline) or ``redis`` (views on a
RedisRateLimiter shared with other processes sending for the same keys).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable

from benchmarks._common import peak_rss_mb
from texin_async import LocalRateLimiter, RateLimit, RedisRateLimiter, TexinClient

#: Short windows, so that "a window after the last send" comes soon.
LIMIT = RateLimit(max_rate=100, time_period=2.0, reserve=0)
UNSATURATED = RateLimit(max_rate=10**9, time_period=2.0, reserve=0)
STRICT = RateLimit(max_rate=2, time_period=2.0, reserve=0)
CONCURRENCY = 32


def key(i: int) -> str:
    return f"acct-{i:06d}-secret"


async def fan_out(sends: list[Callable[[], Awaitable[object]]]) -> None:
    queue = iter(sends)

    async def worker() -> None:
        for send in queue:
            await send()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def views(url: str, n: int) -> dict[str, float]:
    async with TexinClient(key(0), base_url=url, rate_limit=LIMIT, max_connections=32) as root:
        started = time.process_time()
        clients = [root.for_key(key(i)) for i in range(n)]
        setup = (time.process_time() - started) / n
        return await measure(clients, setup, LocalRateLimiter.shared(LIMIT))


async def per_client(url: str, n: int) -> dict[str, float]:
    started = time.process_time()
    clients = [TexinClient(key(i), base_url=url, rate_limit=LIMIT) for i in range(n)]
    setup = (time.process_time() - started) / n
    try:
        return await measure(clients, setup, LocalRateLimiter.shared(LIMIT))
    finally:
        for client in clients:
            await client.aclose()


async def single(url: str, n: int) -> dict[str, float]:
    # A key of its own: its N sends would spend the balance of key(0), which the others use.
    async with TexinClient(
        key(999_999), base_url=url, rate_limit=UNSATURATED, max_connections=32
    ) as c:
        return await measure([c] * n, 0.0, LocalRateLimiter.shared(UNSATURATED))


async def measure(
    clients: list[TexinClient], setup: float, limiter: LocalRateLimiter
) -> dict[str, float]:
    sends = [_sender(c, "Your statement is ready") for c in clients]
    started = time.process_time()
    await fan_out(sends)
    cpu = (time.process_time() - started) / len(sends)
    peak = limiter.lanes()
    await asyncio.sleep(LIMIT.slot_lifetime + 0.2)
    return {
        "setup_ms": setup * 1000,
        "cpu_per_send_us": cpu * 1e6,
        "lanes_peak": peak,
        "lanes_after_a_window": limiter.lanes(),
        "peak_rss_mb": peak_rss_mb(),
    }


async def shared_through_redis(url: str, n: int, redis_url: str) -> dict[str, float]:
    """One SMS for each of n keys that other processes also send for, at 2 per 2 s a key."""
    async with (
        RedisRateLimiter(redis_url, rate_limit=STRICT) as limiter,
        TexinClient(key(0), base_url=url, limiter=limiter, max_connections=32) as root,
    ):
        clients = [root.for_key(key(i)) for i in range(n)]
        started = time.perf_counter()
        await fan_out([_sender(c, "hi") for c in clients])
        return {"seconds": time.perf_counter() - started}


def _sender(client: TexinClient, text: str) -> Callable[[], Awaitable[object]]:
    return lambda: client.send_sms("0712345678", text)


def main() -> None:
    mode, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "redis":
        figures = asyncio.run(shared_through_redis(url, n, sys.argv[4]))
    else:
        run = {"views": views, "clients": per_client, "single": single}[mode]
        figures = asyncio.run(run(url, n))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
