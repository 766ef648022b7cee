"""One of several processes sharing an API key through Redis, for tests/test_redis.py.

Usage: ``python tests/redis_worker.py BASE_URL REDIS_URL API_KEY REQUESTS``. Once imported
and connected to Redis it prints ``ready``, waits for a line on stdin, sends REQUESTS
requests at once (get_balance and send_sms in turn), then prints the monotonic time each
one completed, as a JSON list. CLOCK_MONOTONIC is system-wide on Linux, so the test can
merge the lists.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis.asyncio as aioredis

from texin_async import RateLimit, RedisRateLimiter, TexinClient


async def main(base_url: str, redis_url: str, api_key: str, requests: int) -> None:
    """Connect, wait for the go, send, report."""
    redis = aioredis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(redis, rate_limit=RateLimit(max_rate=20, time_period=2.0))
    async with redis, TexinClient(api_key, base_url=base_url, limiter=limiter) as client:
        await redis.ping()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        done: list[float] = []

        async def one(i: int) -> None:
            if i % 2:
                await client.get_balance()
            else:
                await client.send_sms("0712345678", f"shared budget {i}")
            done.append(time.monotonic())

        await asyncio.gather(*(one(i) for i in range(requests)))
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    url, redis_url, key, count = sys.argv[1:5]
    asyncio.run(main(url, redis_url, key, int(count)))
