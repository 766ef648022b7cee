"""Batches: requests per recipient, throughput and CPU against a hand-written gather, memory
for 10^5 and 10^6 generator items, and the journal's cost per item.

The emulator runs in its own process with its rate limit lifted, so ``time.process_time()``
here is the client's CPU only. The baseline is what a user would write without the batch
engine: ``asyncio.gather`` over ``send_sms``, bounded by a semaphore of the same width.
Peak RSS is measured in a fresh subprocess per size, so one run's heap does not hide
another's, on two paths: ``dry_run`` (the whole pipeline, no HTTP) and real sends to the
emulator (a simulation account, 100 numbers per bulk request). Takes about a minute.
"""

from __future__ import annotations

import asyncio
import functools
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks._common import emulator_process, peak_rss_mb, table
from texin_async import Message, RateLimit, TexinClient

KEY = "bench-key"
WIDTH = 8  # max_in_flight of the batch, semaphore of the baseline, connections of both
BUDGET = RateLimit(max_rate=10**9, time_period=60.0)  # the limiter stays on, never binds
ROUNDS = 3
RSS_SIZES = (100_000, 1_000_000)
RSS_TARGET_MB = 150
EMULATOR = ("--rate-limit", "none", "--account", f"{KEY}:1000000000:sim")


def number(i: int) -> str:
    return f"07{i % 100_000_000:08d}"


def one_text(count: int) -> Iterator[Message]:
    return (Message(number(i), "Your order has shipped") for i in range(count))


def personalised(count: int) -> Iterator[Message]:
    return (Message(number(i), f"Hi customer {i}, your code is {i % 9973}") for i in range(count))


CASES = [("one text, 5,000", one_text, 5_000), ("personalised, 1,000", personalised, 1_000)]


def client(url: str) -> TexinClient:
    return TexinClient(KEY, base_url=url, rate_limit=BUDGET, max_connections=WIDTH)


Make = Callable[[int], Iterator[Message]]


async def by_batch(url: str, make: Make, count: int, **options: Any) -> int:
    """Send ``make(count)`` with send_batch; the number of requests it made."""
    async with client(url) as c:
        report = await c.send_batch(make(count), max_in_flight=WIDTH, **options)
        assert report.sent == report.total, report
        return report.requests


async def by_gather(url: str, make: Make, count: int) -> int:
    """The baseline: asyncio.gather over send_sms under a semaphore."""
    async with client(url) as c:
        gate = asyncio.Semaphore(WIDTH)

        async def one(message: Message) -> object:
            async with gate:
                return await c.send_sms(message.recipient, message.text)

        return len(await asyncio.gather(*(one(m) for m in make(count))))


async def measured(run: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, requests) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    requests = await run()
    return time.perf_counter() - wall, time.process_time() - cpu, requests


async def best(run: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    """The fastest of ``ROUNDS`` runs (least noise)."""
    return min([await measured(run) for _ in range(ROUNDS)])


# -- the sections ----------------------------------------------------------------------------


async def request_counts(url: str) -> None:
    """10,000 recipients of one text take ceil(10,000 / chunk_size) requests."""
    rows = []
    for chunk in (50, 100, 250, 1000):
        requests = await by_batch(url, one_text, 10_000, chunk_size=chunk)
        expected = math.ceil(10_000 / chunk)
        assert requests == expected, (chunk, requests, expected)
        rows.append((chunk, requests, expected, "yes"))
    table(
        "Requests for 10,000 recipients of one text",
        ["chunk_size", "requests", "ceil(10,000 / chunk_size)", "equal"],
        rows,
    )


async def throughput(url: str) -> None:
    """Recipients per second and client CPU per recipient, batch against gather."""
    rows = []
    for label, make, count in CASES:
        base = await best(functools.partial(by_gather, url, make, count))
        batch = await best(functools.partial(by_batch, url, make, count))
        for name, (wall, cpu, requests) in (("gather + send_sms", base), ("send_batch", batch)):
            rows.append(
                (
                    label,
                    name,
                    requests,
                    f"{count / wall:,.0f}",
                    f"{base[0] / wall:.2f}x",
                    f"{cpu / count * 1e6:.0f}",
                    f"{cpu / base[1]:.2f}x",
                )
            )
    table(
        f"Throughput, emulator limit lifted (width {WIDTH}, best of {ROUNDS})",
        [
            "input",
            "sender",
            "requests",
            "recipients/s",
            "speed vs gather",
            "µs CPU/recipient",
            "CPU vs gather",
        ],
        rows,
    )


async def journal_cost(url: str) -> None:
    """Wall and CPU per item with and without the journal (sqlite, WAL, synchronous=FULL)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, make, count in CASES:
            plain = await best(functools.partial(by_batch, url, make, count))
            logged = await best(_journaled(url, make, count, Path(tmp) / label))
            rows.append(
                (
                    label,
                    plain[2],
                    f"{plain[0] / count * 1e6:.0f}",
                    f"{logged[0] / count * 1e6:.0f}",
                    f"{(logged[0] - plain[0]) / count * 1e6:+.0f}",
                    f"{(logged[1] - plain[1]) / count * 1e6:+.0f}",
                    f"{logged[0] / plain[0]:.2f}x",
                )
            )
    table(
        "Journal overhead per item (two transactions per request)",
        [
            "input",
            "requests",
            "µs/item without",
            "µs/item with",
            "+ wall µs/item",
            "+ CPU µs/item",
            "wall ratio",
        ],
        rows,
    )


def _journaled(url: str, make: Make, count: int, stem: Path) -> Callable[[], Awaitable[int]]:
    """A run that journals to a fresh file each time (a reused one would skip everything)."""
    runs = iter(range(ROUNDS))

    async def run() -> int:
        return await by_batch(url, make, count, journal=f"{stem}-{next(runs)}.sqlite")

    return run


def peak_rss() -> None:
    """Peak RSS of a batch of 10^5 and 10^6 generator items, each in a fresh process."""
    rows = []
    peaks: dict[tuple[str, int], float] = {}
    with emulator_process(*EMULATOR) as url:
        for mode in ("dry_run", "emulator"):
            for size in RSS_SIZES:
                start, peak, seconds = _child_rss(mode, size, url)
                peaks[mode, size] = peak
                rows.append(
                    (
                        mode,
                        f"{size:,}",
                        f"{start:.0f}",
                        f"{peak:.0f}",
                        f"{seconds:.1f}",
                        "yes" if peak < RSS_TARGET_MB else "NO",
                    )
                )
    table(
        "Peak RSS, items from a generator (MB; fresh process each; target < 150 MB)",
        ["path", "items", "RSS after imports", "peak RSS", "seconds", "< 150 MB"],
        rows,
    )
    for mode in ("dry_run", "emulator"):
        small, large = (peaks[mode, size] for size in RSS_SIZES)
        growth = large / small - 1
        print(f"{mode}: 10^5 -> 10^6 peak RSS growth {growth:+.1%} (target <= +10%)")


def _child_rss(mode: str, size: int, url: str) -> tuple[float, float, float]:
    code = f"from benchmarks.bench_batch import rss_child; rss_child({mode!r}, {size}, {url!r})"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def rss_child(mode: str, size: int, url: str) -> None:
    """In a fresh process: RSS after imports, peak RSS after the batch, seconds taken."""
    start = peak_rss_mb()
    began = time.perf_counter()

    async def run() -> None:
        async with client(url) as c:
            report = await c.send_batch(one_text(size), dry_run=mode == "dry_run")
            assert report.total == size, report

    asyncio.run(run())
    peak = peak_rss_mb()
    print(f"{start:.1f} {peak:.1f} {time.perf_counter() - began:.2f}")


def main() -> None:
    with emulator_process(*EMULATOR) as url:
        asyncio.run(request_counts(url))
        asyncio.run(throughput(url))
        asyncio.run(journal_cost(url))
    peak_rss()


if __name__ == "__main__":
    main()
