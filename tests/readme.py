"""README.md's fenced code blocks, found by section, and a way to run its Python ones.

Every block is run (or, where running it is unsafe, checked) by some test; test_readme.py
lists which, and fails when README gains a block no test runs.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["README", "Block", "block", "blocks", "run_python"]

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^```(\w*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: the heading it is under, its language tag, its text and line."""

    section: str
    lang: str
    code: str
    line: int


def blocks() -> list[Block]:
    """Every fenced block of README, in order."""
    found: list[Block] = []
    section, lang, start = "", "", 0
    lines: list[str] = []
    in_block = False
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        fence = _FENCE.match(line)
        if in_block and line == "```":
            found.append(Block(section, lang, "".join(f"{text}\n" for text in lines), start))
            in_block = False
        elif in_block:
            lines.append(line)
        elif fence:
            in_block, lang, start, lines = True, fence[1], number + 1, []
        elif line.startswith("#"):
            section = line.lstrip("#").strip()
    return found


def block(section: str, lang: str, index: int = 0) -> Block:
    """The ``index``-th block of ``lang`` under the heading ``section``."""
    matching = [b for b in blocks() if (b.section, b.lang) == (section, lang)]
    assert len(matching) > index, f"README has no {lang} block {index} under {section!r}"
    return matching[index]


async def run_python(found: Block, namespace: dict[str, Any]) -> None:
    """Run a Python block as written, top-level ``await`` and ``async with`` included, in
    ``namespace``; a traceback points at the README line."""
    source = "\n" * (found.line - 1) + found.code
    code = compile(source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # the block itself: README is ours
    if inspect.iscoroutine(result):
        await result
