"""Interactive and bulk on one key: how long a login code waits while a campaign runs.

Scaled time: the emulator's strict window is 20 requests per 4 s (15x the provider's 100 per
60 s), so a figure as a fraction of the window reads the same at the real rate (2% of 4 s is
2% of 60 s, 1.2 s). A campaign of personalised texts (one request each) saturates the key
while a one-time code is sent every 1.3 s; each code's wait is the time its send_sms took.

Two lines per setting: "one line" (every request in one FIFO queue, no reserve, no pacing:
how the SDK behaved before traffic classes) and "classes" (the code INTERACTIVE, the
campaign BULK, the default 2% reserve). Then the same across two processes sharing the key
through RedisRateLimiter: one runs the campaign, the other sends the codes.

Goals (issue 11): codes wait <= 2% of the window in the median and <= 5% at p99; the
campaign uses >= 95% of the budget the codes leave; zero 429s at the strict server.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

from benchmarks._common import table
from benchmarks.bench_redis import redis_server
from texin_async import Message, Priority, RateLimit, TexinClient
from texin_async.testing import Account, TexinEmulator, serve_in_thread

KEY = "bench-priority-key"
LIMIT = RateLimit(max_rate=20, time_period=4.0)
ONE_LINE = RateLimit(max_rate=20, time_period=4.0, reserve=0)
CAMPAIGN, CODE_EVERY, WARM_UP = 200, 1.3, 4.0


async def codes(client: TexinClient, until: asyncio.Event, priority: Priority) -> list[float]:
    """Send a code every CODE_EVERY seconds until ``until``; each one's wait in seconds."""
    waits: list[float] = []
    await asyncio.sleep(WARM_UP)  # once the campaign has filled the window
    while not until.is_set():
        started = time.perf_counter()
        await client.send_sms("0711000000", "Your code is 4821", priority=priority)
        waits.append(time.perf_counter() - started)
        await asyncio.sleep(CODE_EVERY)
    return waits


def campaign_items() -> list[Message]:
    return [Message(f"07{i:08d}", f"Hi {i}, your offer is ready") for i in range(CAMPAIGN)]


async def one_process(url: str, limit: RateLimit, classes: bool) -> tuple[list[float], float]:
    """Codes' waits and the campaign's requests per second, one client for both."""
    interactive = Priority.INTERACTIVE if classes else Priority.BULK
    async with TexinClient(KEY, base_url=url, rate_limit=limit) as client:
        done = asyncio.Event()
        waiting = asyncio.create_task(codes(client, done, interactive))
        started = time.perf_counter()
        report = await client.send_batch(campaign_items(), priority=Priority.BULK)
        elapsed = time.perf_counter() - started
        done.set()
        waits = await waiting
    return waits, report.requests / elapsed


def row(name: str, waits: list[float], campaign_rate: float, rejected: int) -> tuple[str, ...]:
    """Figures as fractions of the window; budget use against what the codes leave."""
    window = LIMIT.time_period
    waits = sorted(waits)
    p99 = waits[min(len(waits) - 1, round(0.99 * (len(waits) - 1)))]
    left = LIMIT.max_rate / window - 1 / CODE_EVERY  # requests a second the codes leave
    return (
        name,
        f"{statistics.median(waits) / window:.1%}",
        f"{p99 / window:.1%}",
        f"{max(waits) / window:.1%}",
        f"{campaign_rate / left:.1%}",
        str(rejected),
    )


def local_rows() -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for name, limit, classes in (("one line (before)", ONE_LINE, False), ("classes", LIMIT, True)):
        emulator = TexinEmulator([Account(api_key=KEY, balance=10**6)], rate_limit="20/4")
        with serve_in_thread(emulator) as url:
            waits, rate = asyncio.run(one_process(url, limit, classes))
        rows.append(row(f"one process, {name}", waits, rate, emulator.rate_limited(KEY)))
    return rows


def redis_rows() -> list[tuple[str, ...]]:
    """The same, the campaign in one process and the codes in another, through Redis."""
    rows: list[tuple[str, ...]] = []
    with redis_server() as redis_url:
        if redis_url is None:
            print("\nbench_priority: redis-server is not installed; the Redis rows are skipped")
            return rows
        for name, classes in (("one line (before)", False), ("classes", True)):
            emulator = TexinEmulator([Account(api_key=KEY, balance=10**6)], rate_limit="20/4")
            with serve_in_thread(emulator) as url:
                args = [sys.executable, "-m", "benchmarks._priority_worker", url, redis_url]
                args.append(str(int(classes)))
                campaign = subprocess.Popen([*args, "campaign"], stdout=subprocess.PIPE)
                codes_run = subprocess.run([*args, "codes"], capture_output=True, check=True)
                out, _ = campaign.communicate(timeout=600)
            waits = json.loads(codes_run.stdout)
            rate = json.loads(out)
            rejected = emulator.rate_limited(KEY)
            rows.append(row(f"two processes, Redis, {name}", waits, rate, rejected))
    return rows


def main() -> None:
    rows = local_rows() + redis_rows()
    table(
        f"A code every {CODE_EVERY} s while a {CAMPAIGN}-request campaign saturates the key "
        f"({LIMIT.max_rate} per {LIMIT.time_period:g} s, strict server)",
        [
            "setting",
            "code wait, median",
            "p99",
            "max",
            "campaign's use of the budget codes leave",
            "429s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
