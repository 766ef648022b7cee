"""README's "Without asyncio" example runs as written, against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from texin_async.testing import TexinEmulator

README = Path(__file__).resolve().parents[2] / "README.md"


def section_code() -> str:
    """The first Python block of README's "Without asyncio" section."""
    section = README.read_text(encoding="utf-8").split("\n## Without asyncio", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_example_runs(
    texin_env: None, texin_emulator: TexinEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The block sends one SMS, a batch of two and one more, and prints what README says."""
    exec(compile(section_code(), str(README), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("API-")
    assert printed[1] == "2 0 0"
    assert printed[2].startswith("0 sent API-")
    assert len(texin_emulator.messages) == 4
