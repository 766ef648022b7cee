"""Redis limiter: what sharing a key's budget costs per request, vs the in-process limiter.

The budget is never full here (unsaturated), so every figure is pure overhead: for the
in-process limiter a few dict and deque operations, for Redis one script round trip to a
redis-server on loopback for acquire and one for release. Best of five runs. Starts its own
redis-server on a free port; skips if the binary is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator

import redis

from benchmarks._common import table
from texin_async import LocalRateLimiter, RateLimit, RedisRateLimiter

N, REPEAT, TASKS = 2000, 5, 16
# Far more than N per window, so nobody ever waits.
UNSATURATED = RateLimit(max_rate=1_000_000, time_period=60.0)


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """Run a throwaway redis-server on a free loopback port; yield its URL (None: missing)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with redis.Redis(port=port, socket_connect_timeout=0.2) as client:
            for _ in range(500):
                with contextlib.suppress(redis.ConnectionError):
                    client.ping()
                    break
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def per_call(op: Callable[[], Awaitable[object]], *, tasks: int = 1) -> float:
    """Seconds per call of ``op``: best of REPEAT runs of N calls spread over ``tasks`` tasks."""
    best = float("inf")
    for _ in range(REPEAT):
        started = time.perf_counter()
        await asyncio.gather(*(_loop(op, N // tasks) for _ in range(tasks)))
        best = min(best, (time.perf_counter() - started) / N)
    return best


async def _loop(op: Callable[[], Awaitable[object]], n: int) -> None:
    for _ in range(n):
        await op()


async def measure(url: str) -> list[tuple[str, ...]]:
    local = LocalRateLimiter(UNSATURATED)
    async with RedisRateLimiter(url, rate_limit=UNSATURATED) as shared:
        async with shared.slot("warm-up"):  # connect and load the scripts outside the timing
            pass
        rows: list[tuple[str, ...]] = []
        for label, tasks in (
            ("a slot taken and given back (one request)", 1),
            (f"the same, {TASKS} tasks at once", TASKS),
        ):
            figures = []
            for limiter in (local, shared):

                async def op(limiter: LocalRateLimiter | RedisRateLimiter = limiter) -> None:
                    async with limiter.slot("k"):
                        pass

                figures.append(await per_call(op, tasks=tasks))
            ours, theirs = figures
            row = (label, f"{ours * 1e6:.1f}", f"{theirs * 1e6:.1f}", f"{theirs / ours:.0f}x")
            rows.append(row)
    return rows


def main() -> None:
    with redis_server() as url:
        if url is None:
            print("\nbench_redis: redis-server is not installed; skipped")
            return
        rows = asyncio.run(measure(url))
    table(
        f"Redis limiter: cost per call, unsaturated budget ({N} calls, best of {REPEAT})",
        ["operation", "LocalRateLimiter µs", "RedisRateLimiter µs", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
