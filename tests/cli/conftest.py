"""Run ``texin`` in process against the emulator the texin_async pytest plugin serves.

:func:`texin` calls the app's ``run(argv)`` with stdout and stderr captured, and checks that
the API key never appears in what it printed; subprocesses are kept for what needs a real
process (see test_processes.py).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from texin_async._cli._app import run

from ._support import Result, Texin, WriteCsv


@pytest.fixture
def texin(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    texin_emulator_url: str,
    texin_api_key: str,
) -> Texin:
    """``texin`` with TEXIN_BASE_URL at the reset emulator and its default account's key."""
    monkeypatch.setenv("TEXIN_BASE_URL", texin_emulator_url)
    monkeypatch.setenv("TEXIN_API_KEY", texin_api_key)
    monkeypatch.delenv("TEXIN_RATE_LIMIT", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def call(*args: str) -> Result:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        keys = [os.environ.get("TEXIN_API_KEY"), *_option_values(args, "--api-key")]
        for output in (out, err):
            assert not any(key and key in output for key in keys)
            assert "Traceback" not in output or "--debug" in args
        return Result(code, out, err)

    return call


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """Writes rows under a header as ``in.csv`` (or ``name``) in the test's folder."""

    def write(
        rows: Sequence[Sequence[str]], header: str = "phone,name", name: str = "in.csv"
    ) -> Path:
        path = tmp_path / name
        lines = [header, *(",".join(row) for row in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


def _option_values(args: Sequence[str], option: str) -> list[str]:
    """The values given to ``option`` in ``args``."""
    return [value for name, value in itertools.pairwise(args) if name == option]
