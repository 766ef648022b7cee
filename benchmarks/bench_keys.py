"""Many keys in one process: a platform sending one SMS for each of 10,000 accounts.

Each configuration runs in a process of its own (so its peak RSS is its own), against an
emulator in another process that serves any key starting with "acct-". Figures:

- peak RSS of the sending process;
- CPU to set up a key (a ``for_key`` view, or a whole TexinClient as before);
- limiter state (lanes) at its peak and a window after the last send;
- CPU per send, against one key sending as many (the single-key client);
- and, through Redis, 4 processes sending for the same 2,500 keys at a strict 2 per 2 s a
  key: the 429s the server gave.

Goals (issue 15): peak RSS <= 150 MB, <= 0.1 ms CPU to set up a key, limiter state back to
<= 1% of its peak a window after the last send, CPU per send within 1.2x of the single-key
client; through Redis, zero 429s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from benchmarks._common import table
from benchmarks._keys_worker import key
from benchmarks.bench_redis import redis_server
from texin_async.testing import TexinEmulator, serve_in_thread

KEYS, BASELINE_KEYS, PROCESSES, SHARED_KEYS = 10_000, 500, 4, 2_500


def worker(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._keys_worker", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode:
        raise SystemExit(f"bench_keys: worker {args[0]} failed:\n{out.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def local_rows(url: str) -> list[tuple[str, ...]]:
    single = worker("single", url, str(KEYS))
    rows: list[tuple[str, ...]] = []
    for name, mode, n in (
        ("a TexinClient per key (before)", "clients", BASELINE_KEYS),
        ("one client, for_key per key", "views", KEYS),
    ):
        got = worker(mode, url, str(n))
        rows.append(
            (
                f"{n:,} keys, {name}",
                f"{got['peak_rss_mb']:.0f} MB",
                f"{got['setup_ms']:.3f} ms",
                f"{got['lanes_peak']:,} → {got['lanes_after_a_window']:,}",
                f"{got['cpu_per_send_us']:.0f} µs "
                f"({got['cpu_per_send_us'] / single['cpu_per_send_us']:.2f}x)",
            )
        )
    rows.append(
        (
            f"1 key, {KEYS:,} sends (baseline)",
            f"{single['peak_rss_mb']:.0f} MB",
            "-",
            "-",
            f"{single['cpu_per_send_us']:.0f} µs (1.00x)",
        )
    )
    return rows


def redis_rows() -> list[tuple[str, ...]]:
    """4 processes, each sending one SMS for each of the same 2,500 keys."""
    with redis_server() as redis_url:
        if redis_url is None:
            print("\nbench_keys: redis-server is not installed; the Redis row is skipped")
            return []
        emulator = TexinEmulator(rate_limit="2/2", key_prefix="acct-")
        with serve_in_thread(emulator) as url:
            command = [sys.executable, "-m", "benchmarks._keys_worker", "redis", url]
            runs = [
                subprocess.Popen([*command, str(SHARED_KEYS), redis_url], stdout=subprocess.PIPE)
                for _ in range(PROCESSES)
            ]
            outs = [json.loads(run.communicate(timeout=900)[0]) for run in runs]
        rejected = sum(emulator.rate_limited(key(i)) for i in range(SHARED_KEYS))
    seconds = max(out["seconds"] for out in outs)
    return [
        (
            f"{PROCESSES} processes x the same {SHARED_KEYS:,} keys, 2 per 2 s a key",
            f"{PROCESSES * SHARED_KEYS:,} sends in {seconds:.1f} s",
            str(rejected),
        )
    ]


def main() -> None:
    emulator = TexinEmulator(rate_limit=None, key_prefix="acct-")
    with serve_in_thread(emulator) as url:
        rows = local_rows(url)
    table(
        "One SMS for each of many keys in one process",
        [
            "setting",
            "peak RSS",
            "CPU to set up a key",
            "limiter lanes: peak → a window later",
            "CPU per send",
        ],
        rows,
    )
    redis = redis_rows()
    if redis:
        table("Many keys shared by processes through Redis", ["setting", "sends", "429s"], redis)


if __name__ == "__main__":
    main()
