"""The extras in pyproject.toml install only what the code that needs them imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Distribution name -> the module it provides, where they differ.
MODULE_OF = {"httpx-aiohttp": "httpx_aiohttp", "opentelemetry-api": "opentelemetry"}


def extras() -> dict[str, list[str]]:
    """Each extra's distribution names, without version specifiers."""
    tomllib = pytest.importorskip("tomllib")
    with (ROOT / "pyproject.toml").open("rb") as handle:
        table = tomllib.load(handle)["project"]["optional-dependencies"]
    return {
        name: [re.split(r"[<>=!~\[ ;]", spec)[0] for spec in specs] for name, specs in table.items()
    }


def imported_under(folder: str) -> set[str]:
    """Top-level module names imported anywhere in ``folder``'s Python files."""
    names: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.partition(".")[0])
    return names


@pytest.mark.parametrize("extra", ["testing", "aiohttp", "redis", "cli", "otel"])
def test_runtime_extras_hold_only_what_the_package_imports(extra: str) -> None:
    """A runtime extra names no package that texin_async never imports (starlette, say)."""
    used = imported_under("texin_async")
    unused = [name for name in extras()[extra] if MODULE_OF.get(name, name) not in used]
    assert unused == []


def test_bench_extra_holds_what_only_the_benchmarks_import() -> None:
    """httpx-aiohttp, pydantic and httpx2 are the bench extra's, which the benchmarks import
    (besides texin-async's own extras, each checked above)."""
    used = imported_under("benchmarks") | {"texin-async"}
    bench = extras()["bench"]
    assert {"httpx-aiohttp", "pydantic", "httpx2"} <= set(bench)
    assert [name for name in bench if MODULE_OF.get(name, name) not in used] == []


def test_the_bench_session_installs_the_bench_extra() -> None:
    """noxfile's bench session installs `.[dev,bench]`, not packages named by hand."""
    source = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    bench = source[source.index("def bench") :]
    assert '"-e", ".[dev,bench]")' in bench
