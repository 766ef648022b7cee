"""One process of bench_priority's Redis rows: the campaign, or the codes.

Usage: ``python benchmarks/_priority_worker.py BASE_URL REDIS_URL CLASSES campaign|codes``.
CLASSES 1 sends the codes INTERACTIVE with the default reserve; 0 puts everything in one
line (BULK, no reserve), as before traffic classes. The campaign sets a Redis key when it
ends, which stops the codes. Each prints its figures as JSON: the campaign its requests per
second, the codes each one's wait in seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis.asyncio as aioredis

from benchmarks.bench_priority import CODE_EVERY, KEY, LIMIT, ONE_LINE, WARM_UP, campaign_items
from texin_async import Priority, RedisRateLimiter, TexinClient

DONE = "bench-priority:done"


async def main(url: str, redis_url: str, classes: bool, role: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(redis, rate_limit=LIMIT if classes else ONE_LINE)
    async with redis, TexinClient(KEY, base_url=url, limiter=limiter) as client:
        if role == "campaign":
            await redis.delete(DONE)
            started = time.perf_counter()
            report = await client.send_batch(campaign_items(), priority=Priority.BULK)
            await redis.set(DONE, "1")
            print(json.dumps(report.requests / (time.perf_counter() - started)))
            return
        priority = Priority.INTERACTIVE if classes else Priority.BULK
        waits: list[float] = []
        await asyncio.sleep(WARM_UP)
        while not await redis.exists(DONE):
            started = time.perf_counter()
            await client.send_sms("0711000000", "Your code is 4821", priority=priority)
            waits.append(time.perf_counter() - started)
            await asyncio.sleep(CODE_EVERY)
        print(json.dumps(waits))


if __name__ == "__main__":
    base_url, redis_url, classes, role = sys.argv[1:5]
    asyncio.run(main(base_url, redis_url, classes == "1", role))
