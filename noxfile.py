"""Developer sessions: tests on every Python 3.10-3.13 found, lint, typecheck, bench.

``nox`` alone runs tests, lint and typecheck; ``nox -s bench`` runs the benchmarks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_venv = "yes"

SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


def _pyenv_bin_dirs() -> list[str]:
    """Interpreter folders pyenv keeps, newest patch first, so nox finds ``python3.X``."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if not root.is_dir():
        return []
    found = [p / "bin" for p in sorted(root.iterdir(), reverse=True) if (p / "bin").is_dir()]
    return [str(p) for p in found]


# pyenv shims only answer for the selected version; put every installed one on PATH.
os.environ["PATH"] = os.pathsep.join([*_pyenv_bin_dirs(), os.environ.get("PATH", "")])

PYTHONS = [v for v in SUPPORTED if shutil.which(f"python{v}")]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest options after ``--``)."""
    session.install("-e", ".[dev]")
    # trio's runs repeat the asyncio tests on a second loop: the newest Python has them.
    loops = "asyncio,trio" if session.python == PYTHONS[-1] else "asyncio"
    session.run("pytest", *session.posargs, env={"TEXIN_TEST_LOOPS": loops})


@nox.session(python=PYTHONS[-1:])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS[-1:])
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks (and what they import)."""
    session.install("-e", ".[dev,bench]")
    session.run("mypy")


@nox.session(python=PYTHONS[-1:], default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: ratios against baselines measured in the same run."""
    session.install("-e", ".[dev,bench]")
    session.run("python", "-m", "benchmarks", *session.posargs)
