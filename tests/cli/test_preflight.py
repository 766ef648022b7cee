"""The check before the first send, called directly: repeats across runs, and its memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import anyio

from texin_async._cli._csv import open_source
from texin_async._cli._preflight import Plan, Rules, preflight


def numbers_file(path: Path, count: int, *, repeat_last_as_first: bool = False) -> Path:
    """A CSV of ``count`` distinct numbers; optionally the last row repeats the first."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone\n")
        for index in range(count - 1):
            handle.write(f"07{index:08d}\n")
        handle.write("0700000000\n" if repeat_last_as_first else f"07{count - 1:08d}\n")
    return path


def check(path: Path) -> Plan:
    """The plan of a --text batch over ``path``."""
    source = open_source(path, column="phone", text="Hi", template=None)
    return anyio.run(preflight, source, Rules())


def test_repeat_is_found_across_sorted_runs(tmp_path: Path) -> None:
    """A number on row 1 and again on row 70,000 is found, though they sort in different runs."""
    plan = check(numbers_file(tmp_path / "in.csv", 70_000, repeat_last_as_first=True))
    assert plan.repeated_numbers == 1
    assert plan.repeats[0].number == "254700000000"
    assert plan.repeats[0].rows == (1, 70_000)


def test_memory_grows_by_a_few_bytes_per_row(tmp_path: Path) -> None:
    """The check keeps about 8 bytes per row (a 64-bit int), not a string per number.

    Both sizes are over the 65,536 keys sorted at a time, so their peaks differ by what is
    kept per row alone.
    """
    peaks = []
    for count in (70_000, 100_000):
        path = numbers_file(tmp_path / f"{count}.csv", count)
        tracemalloc.start()
        try:
            assert check(path).rows == count
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    per_row = (peaks[1] - peaks[0]) / 30_000
    assert per_row < 24  # a set of the normalised strings alone takes over 80
