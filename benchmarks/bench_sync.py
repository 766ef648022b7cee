"""SyncTexinClient: CPU per send_sms against the async client and bare ``requests.post``, and
32 threads sharing one client at a strict server.

The emulator runs in its own process, so ``time.process_time()`` is this process's CPU only:
the caller's thread and the background loop's together. Configurations are measured in
interleaved rounds, the best of each kept. ``requests.post`` is the API documentation's own
example: one new connection per call. The thread test runs in scaled time (100 requests per
2 s window instead of per minute), retries off so that a single 429 would show, beside the
async client's tasks as a baseline. The last table is the cost of handing outcomes from
the loop to a sync ``for`` loop (a dry run: no HTTP at all).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from benchmarks._common import emulator_process, table
from texin_async import RateLimit, RateLimitError, RetryPolicy, SyncTexinClient, TexinClient
from texin_async._transport import TransportChoice

KEY = "bench-key"
N, ROUNDS = 500, 3
BODY = {"api_key": KEY, "recipient": "254712345678", "message": "Benchmark message"}
HEADERS = {"Content-Type": "application/json"}
# A budget no run reaches: the limiter stays on the path, as in bench_client.
HUGE = RateLimit(max_rate=10**9, time_period=60.0)
# 100 per 2 s is the provider's window 30x faster: client CPU per request, which does not
# scale, weighs 30x more than at the real limit.
CALLERS, MAX_RATE, PERIOD, SENDS = 32, 100, 2.0, 400
DRY_ITEMS = 20_000


def cpu_per_call(one: Callable[[], object]) -> float:
    """Warm up, then CPU seconds per call of ``one``."""
    for _ in range(20):
        one()
    start = time.process_time()
    for _ in range(N):
        one()
    return (time.process_time() - start) / N


def bare_requests(url: str) -> float:
    return cpu_per_call(lambda: requests.post(url + "send_sms", json=BODY, headers=HEADERS).json())


def requests_session(url: str) -> float:
    with requests.Session() as session:
        return cpu_per_call(
            lambda: session.post(url + "send_sms", json=BODY, headers=HEADERS).json()
        )


def sync_client(url: str, transport: TransportChoice = None) -> float:
    with SyncTexinClient(KEY, base_url=url, rate_limit=HUGE, transport=transport) as client:
        return cpu_per_call(lambda: client.send_sms("0712345678", "Benchmark message"))


def async_client(url: str, transport: TransportChoice = None) -> float:
    async def run() -> float:
        async with TexinClient(KEY, base_url=url, rate_limit=HUGE, transport=transport) as client:
            for _ in range(20):
                await client.send_sms("0712345678", "Benchmark message")
            start = time.process_time()
            for _ in range(N):
                await client.send_sms("0712345678", "Benchmark message")
            return (time.process_time() - start) / N

    return asyncio.run(run())


RUNS: dict[str, Callable[[str], float]] = {
    "bare requests.post (new connection per call)": bare_requests,
    "requests.Session().post (keep-alive)": requests_session,
    "TexinClient (httpx), awaited": async_client,
    "SyncTexinClient (httpx)": sync_client,
    "TexinClient (native aiohttp), awaited": lambda url: async_client(url, "aiohttp"),
    "SyncTexinClient (native aiohttp)": lambda url: sync_client(url, "aiohttp"),
}
#: Each sync row's async counterpart, for the ratio.
ASYNC_OF = {
    "SyncTexinClient (httpx)": "TexinClient (httpx), awaited",
    "SyncTexinClient (native aiohttp)": "TexinClient (native aiohttp), awaited",
}


def cpu_table() -> None:
    with emulator_process("--rate-limit", "none", "--account", f"{KEY}:1000000000") as url:
        cpu: dict[str, float] = {}
        for _ in range(ROUNDS):
            for name, run in RUNS.items():
                cpu[name] = min(cpu.get(name, float("inf")), run(url))
    base = cpu["bare requests.post (new connection per call)"]
    rows = [
        (
            name,
            f"{seconds * 1e6:.0f}",
            f"{seconds / cpu[ASYNC_OF[name]]:.2f}x" if name in ASYNC_OF else "",
            f"{seconds / base:.2f}x",
        )
        for name, seconds in cpu.items()
    ]
    table(
        f"CPU per send_sms, one caller ({N} requests, best of {ROUNDS})",
        ["client", "µs CPU / request", "vs its async client", "vs bare requests.post"],
        rows,
    )


Answers = tuple[list[float], int]  # when each send answered, and how many got a 429


def answers_from_threads(url: str, limit: str, transport: TransportChoice) -> Answers:
    """``SENDS`` sends from ``CALLERS`` threads sharing one SyncTexinClient."""
    answers: list[float] = []
    refused = 0
    no_retries = RetryPolicy(attempts=1)

    def one(_: int) -> None:
        nonlocal refused
        try:
            client.send_sms("0712345678", "Benchmark message")
        except RateLimitError:
            refused += 1
        answers.append(time.monotonic())

    with (
        SyncTexinClient(
            KEY, base_url=url, rate_limit=limit, retry=no_retries, transport=transport
        ) as client,
        ThreadPoolExecutor(CALLERS) as pool,
    ):
        list(pool.map(one, range(SENDS)))
    return answers, refused


def answers_from_tasks(url: str, limit: str, transport: TransportChoice) -> Answers:
    """The same from ``CALLERS`` tasks sharing one TexinClient: the async baseline."""

    async def run() -> Answers:
        answers: list[float] = []
        refused = 0
        no_retries = RetryPolicy(attempts=1)
        async with TexinClient(
            KEY, base_url=url, rate_limit=limit, retry=no_retries, transport=transport
        ) as client:

            async def worker(count: int) -> None:
                nonlocal refused
                for _ in range(count):
                    try:
                        await client.send_sms("0712345678", "Benchmark message")
                    except RateLimitError:
                        refused += 1
                    answers.append(time.monotonic())

            shares = [SENDS // CALLERS + (i < SENDS % CALLERS) for i in range(CALLERS)]
            await asyncio.gather(*(worker(share) for share in shares))
        return answers, refused

    return asyncio.run(run())


def threads_table() -> None:
    limit = f"{MAX_RATE}/{PERIOD:g}"
    runs: dict[str, tuple[Any, TransportChoice]] = {
        f"{CALLERS} tasks, one TexinClient (httpx)": (answers_from_tasks, None),
        f"{CALLERS} threads, one SyncTexinClient (httpx)": (answers_from_threads, None),
        f"{CALLERS} tasks, one TexinClient (aiohttp)": (answers_from_tasks, "aiohttp"),
        f"{CALLERS} threads, one SyncTexinClient (aiohttp)": (answers_from_threads, "aiohttp"),
    }
    rows = []
    for name, (run, transport) in runs.items():
        # A fresh server per run: each starts with an empty window.
        with emulator_process("--rate-limit", limit, "--account", f"{KEY}:1000000000") as url:
            answers, refused = run(url, limit, transport)
        # A burst of MAX_RATE, then MAX_RATE per window: budget used is
        # sends / (MAX_RATE x windows spanned from the first answer to the last).
        spanned = (max(answers) - min(answers)) / PERIOD + 1
        rows.append((name, refused, f"{SENDS / (MAX_RATE * spanned):.1%}"))
    table(
        f"Callers sharing one client at a strict server, {MAX_RATE} per {PERIOD:g} s "
        f"({SENDS} sends, retries off)",
        ["callers", "429s", "budget used"],
        rows,
    )


def outcomes_table() -> None:
    items = [(f"07{10_000_000 + i:08d}", f"Hi {i}") for i in range(DRY_ITEMS)]
    url = "http://127.0.0.1:9/api/"  # a dry run sends nothing

    async def run_async() -> float:
        async with TexinClient(KEY, base_url=url, rate_limit=HUGE) as client:
            start = time.process_time()
            async for _ in client.iter_batch(items, dry_run=True):
                pass
            return (time.process_time() - start) / DRY_ITEMS

    def run_sync() -> float:
        with SyncTexinClient(KEY, base_url=url, rate_limit=HUGE) as client:
            start = time.process_time()
            for _ in client.iter_batch(items, dry_run=True):
                pass
            return (time.process_time() - start) / DRY_ITEMS

    cpu = {"TexinClient, async for": float("inf"), "SyncTexinClient, for": float("inf")}
    for _ in range(ROUNDS):
        cpu["TexinClient, async for"] = min(cpu["TexinClient, async for"], asyncio.run(run_async()))
        cpu["SyncTexinClient, for"] = min(cpu["SyncTexinClient, for"], run_sync())
    base = cpu["TexinClient, async for"]
    table(
        f"iter_batch, dry run of {DRY_ITEMS:,} items (best of {ROUNDS})",
        ["client", "µs CPU / outcome", "vs async"],
        [(name, f"{seconds * 1e6:.0f}", f"{seconds / base:.2f}x") for name, seconds in cpu.items()],
    )


def main() -> None:
    cpu_table()
    threads_table()
    outcomes_table()


if __name__ == "__main__":
    main()
