"""How the project runs its own tests: what CI runs, and on which event loops."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from project_files import ROOT, nox_session, pyproject


def test_slow_tests_run_by_default_and_in_ci() -> None:
    """`slow` only lets a developer leave tests out: pytest's own options and nox's tests
    session select no markers, and CI runs nox."""
    options = pyproject()["tool"]["pytest"]["ini_options"]
    assert [m for m in options["markers"] if m.startswith("slow:")]
    assert [o for o in options["addopts"] if o.startswith("-m")] == []
    assert 'session.run("pytest", *session.posargs,' in nox_session("tests")
    assert "python3 -m nox\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_anyio_claim_is_backed_by_tests_on_trio() -> None:
    """`Framework :: AnyIO` is claimed while trio is a dev dependency and test modules run
    on trio (marked ``event_loops("asyncio", "trio")``)."""
    project = pyproject()["project"]
    assert "Framework :: AnyIO" in project["classifiers"]
    assert [d for d in project["optional-dependencies"]["dev"] if d.startswith("trio")]
    on_trio = [
        path.relative_to(ROOT / "tests").as_posix()
        for path in (ROOT / "tests").rglob("test_*.py")
        if 'event_loops("asyncio", "trio")' in path.read_text(encoding="utf-8")
    ]
    assert {"test_client.py", "test_ratelimit.py", "batch/test_engine.py"} <= set(on_trio)


@pytest.mark.parametrize(("loops", "trio_runs"), [("asyncio,trio", True), ("asyncio", False)])
def test_texin_test_loops_says_which_loops_the_marked_tests_repeat_on(
    loops: str, trio_runs: bool
) -> None:
    """nox gives the newest Python "asyncio,trio" and the others "asyncio": the trio runs of
    a marked test are collected only when trio is named."""
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_retry.py",
        ],
        cwd=ROOT,
        env={**os.environ, "TEXIN_TEST_LOOPS": loops},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "test_retry.py::" in collected
    assert ("[trio" in collected) is trio_runs  # else each runs once, on asyncio
    noxfile = nox_session("tests")
    assert '"asyncio,trio" if session.python == PYTHONS[-1] else "asyncio"' in noxfile
