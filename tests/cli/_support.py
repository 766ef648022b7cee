"""Helpers for the CLI's tests: a run's result, the emulator's counts, CSV files."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from texin_async.testing import TexinEmulator


@dataclass(frozen=True)
class Result:
    """What one ``texin`` run exited with and printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as one JSON document."""
        return json.loads(self.out)

    def error(self) -> str:
        """The run's error report: exactly one line on stderr."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("texin: error: "), lines[0]
        return lines[0]

    def error_json(self) -> Any:
        """The run's ``--json`` error report: one JSON object on stderr."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        return json.loads(lines[0])["error"]


class Texin(Protocol):
    """Runs ``texin ARGS`` in process."""

    def __call__(self, *args: str) -> Result: ...


#: Writes rows under a header as a CSV file; its path.
WriteCsv = Callable[..., Path]


def sends(emulator: TexinEmulator) -> int:
    """How many send requests the emulator answered."""
    names = ("send_sms", "send_bulk_sms")
    return sum(n for (name, _), n in emulator.requests().items() if name in names)


def requests_to(emulator: TexinEmulator, endpoint: str) -> int:
    """How many requests went to ``endpoint``."""
    return sum(n for (name, _), n in emulator.requests().items() if name == endpoint)


def people(count: int, start: int = 0) -> list[tuple[str, str]]:
    """``count`` distinct valid numbers, each with a name."""
    return [(f"07{10_000_000 + i:08d}", f"Name{i}") for i in range(start, start + count)]


def read_report(path: Path) -> list[dict[str, str]]:
    """The report file's rows."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def flat(text: str) -> str:
    """``text`` with every run of whitespace as one space, as a terminal's wrapping is undone."""
    return " ".join(text.split())
