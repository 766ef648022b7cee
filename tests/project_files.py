"""The project's own files as tests read them: pyproject.toml's table, a noxfile session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

__all__ = ["ROOT", "nox_session", "pyproject"]

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict[str, Any]:
    """pyproject.toml as a table; the test is skipped where tomllib is missing (3.10)."""
    tomllib = pytest.importorskip("tomllib")
    with (ROOT / "pyproject.toml").open("rb") as handle:
        table: dict[str, Any] = tomllib.load(handle)
    return table


def nox_session(name: str) -> str:
    """The source of one session function in noxfile.py."""
    source = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    return source.split(f"\ndef {name}(", 1)[1].split("\n@nox.session", 1)[0]
