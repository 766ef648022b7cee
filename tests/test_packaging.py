"""The extras in pyproject.toml hold what the code that needs them imports, and nothing
else; README tells, for each example, the extra that runs it."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest
from project_files import ROOT, nox_session, pyproject
from readme import blocks

#: Distribution name -> the module it provides, where the name does not say.
MODULE_OF = {
    "httpx-aiohttp": "httpx_aiohttp",
    "opentelemetry-api": "opentelemetry",
    "opentelemetry-sdk": "opentelemetry.sdk",
    "opentelemetry-instrumentation-httpx": "opentelemetry.instrumentation.httpx",
    "opentelemetry-exporter-prometheus": "opentelemetry.exporter.prometheus",
}
#: The dev extra's tools, which no test imports: what runs them.
TOOLS = {
    "pytest": "the test runner",
    "pytest-timeout": "pyproject's `timeout = 120`",
    "mypy": "nox's typecheck session",
    "ruff": "nox's lint session",
}
SELF = "texin-async"


def name_of(spec: str) -> str:
    """A requirement's distribution name, its extras (``texin-async[redis]``) kept."""
    return re.split(r"[<>=!~ ;]", spec)[0]


def extras() -> dict[str, list[str]]:
    """Each extra's requirement names, without version specifiers."""
    table = pyproject()["project"]["optional-dependencies"]
    return {extra: [name_of(spec) for spec in specs] for extra, specs in table.items()}


def installed_by(extra: str) -> set[str]:
    """The distributions ``pip install -e .[extra]`` brings: the extra's, the extras of its
    own it names (``texin-async[redis]``), and the package's dependencies."""
    names = {name_of(spec) for spec in pyproject()["project"]["dependencies"]}
    for name in extras()[extra] if extra else []:
        own = re.fullmatch(rf"{SELF}\[(.+)\]", name)
        for more in own[1].split(",") if own else []:
            names |= installed_by(more)
        if not own:
            names.add(name)
    return names


def module_of(distribution: str) -> str:
    return MODULE_OF.get(distribution, distribution.lower().replace("-", "_"))


def imported_in(paths: list[Path]) -> set[str]:
    """Every absolute module name imported in these Python files (``a.b.c``)."""
    return imported_by([path.read_text(encoding="utf-8") for path in paths])


def imported_by(sources: list[str]) -> set[str]:
    """Every absolute module name imported in these sources (top-level await allowed)."""
    names: set[str] = set()
    for source in sources:
        tree = compile(
            source, "<source>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imported_under(folder: str) -> set[str]:
    return imported_in(sorted((ROOT / folder).rglob("*.py")))


def imports(distribution: str, imported: set[str]) -> bool:
    """Whether ``imported`` holds the module ``distribution`` provides, or one inside it."""
    module = module_of(distribution)
    return any(name == module or name.startswith(f"{module}.") for name in imported)


#: Dependencies the package does not import itself, and the module that does on its request
#: path: without sniffio installed, httpcore retries ``import sniffio`` on every request.
FOR_SPEED = {"sniffio": "httpcore"}


def test_the_dependencies_are_what_the_package_imports() -> None:
    """Every dependency of the package is imported by it, or named in FOR_SPEED."""
    used = imported_under("texin_async")
    required = [name_of(spec) for spec in pyproject()["project"]["dependencies"]]
    assert [name for name in required if not imports(name, used)] == list(FOR_SPEED)


@pytest.mark.parametrize(("dependency", "importer"), FOR_SPEED.items())
def test_a_dependency_kept_for_speed_is_still_imported_by_who_needs_it(
    dependency: str, importer: str
) -> None:
    """The reason to keep it holds: the installed importer still asks for it."""
    module = importlib.import_module(importer)
    sources = Path(str(module.__file__)).parent.rglob("*.py")
    assert any(dependency in imported_in([path]) for path in sources)


#: The extras for parts of the package, as opposed to examples, benchmarks and development.
RUNTIME = ["testing", "aiohttp", "redis", "cli", "otel"]


def test_every_extra_is_checked_here() -> None:
    """Each extra is the package's (RUNTIME), an example's (README's Install lines), the
    benchmarks' or development's: a new one must be one of those, and is checked so."""
    for_examples = {install_line(entry) for entry in example_entries().values()} - {""}
    assert set(extras()) == {*RUNTIME, *for_examples, "bench", "dev"}


@pytest.mark.parametrize("extra", RUNTIME)
def test_runtime_extras_hold_only_what_the_package_imports(extra: str) -> None:
    """A runtime extra names no package that texin_async never imports (starlette, say)."""
    used = imported_under("texin_async")
    assert [name for name in extras()[extra] if not imports(name, used)] == []


def test_bench_extra_holds_what_only_the_benchmarks_import() -> None:
    """httpx-aiohttp, pydantic and httpx2 are the bench extra's, which the benchmarks import
    (besides texin-async's own extras, each checked above)."""
    used = imported_under("benchmarks")
    bench = [name for name in extras()["bench"] if not name.startswith(f"{SELF}[")]
    assert {"httpx-aiohttp", "pydantic", "httpx2"} <= set(bench)
    assert [name for name in bench if not imports(name, used)] == []


@pytest.mark.parametrize("session", ["bench", "typecheck"])
def test_the_sessions_that_import_the_benchmarks_install_the_bench_extra(session: str) -> None:
    """noxfile's bench session runs the benchmarks and typecheck has mypy read them: both
    install `.[dev,bench]`, not packages named by hand."""
    assert '"-e", ".[dev,bench]")' in nox_session(session)


def test_the_dev_extra_holds_what_the_tests_import_or_run() -> None:
    """Each package dev names (beyond the project's own extras) is imported by a test or by
    a README block the tests run (the Prometheus set-up), or is a tool the project runs."""
    used = imported_under("tests") | imported_by([b.code for b in blocks() if b.lang == "python"])
    dev = [name for name in extras()["dev"] if not name.startswith(f"{SELF}[")]
    assert [name for name in dev if name not in TOOLS and not imports(name, used)] == []
    assert set(TOOLS) <= set(dev)


# -- the examples ----------------------------------------------------------------------------


def example_entries() -> dict[str, str]:
    """README's bullet for each example, by its path under examples/."""
    section = (ROOT / "README.md").read_text(encoding="utf-8")
    section = section.split("\n## Web frameworks (`examples/`)\n", 1)[1].split("\n## ", 1)[0]
    found: dict[str, str] = {}
    for entry in re.split(r"\n- (?=`examples/)", "\n" + section)[1:]:
        name = re.match(r"`examples/([^`]+?)/?`", entry)
        assert name is not None, entry
        found[name[1]] = entry
    return found


def install_line(entry: str) -> str:
    """The extra an example's "Install:" line names ("" for the package alone)."""
    found = re.search(r'Install: `pip install -e (?:"\.\[(\w+)\]"|(\.))`', entry)
    assert found is not None, entry
    return found[1] or ""


def program_of(entry: str) -> str:
    """The program an example's "Run:" line starts (``python -m X`` runs X)."""
    found = re.search(r"Run: `([^`]+)`", entry)
    assert found is not None, entry
    words = found[1].split()
    return words[2] if words[:2] == ["python", "-m"] else words[0]


def third_party_imports(example: Path) -> set[str]:
    """The top-level modules the example imports that are neither the standard library,
    nor texin_async, nor its own modules."""
    paths = sorted(example.rglob("*.py")) if example.is_dir() else [example]
    own = {p.stem for p in paths} | {p.name for p in example.rglob("*") if p.is_dir()}
    tops = {name.partition(".")[0] for name in imported_in(paths)}
    return tops - set(sys.stdlib_module_names) - own - {"__future__", "texin_async"}


def examples() -> list[str]:
    """The examples: the modules and project folders under examples/."""
    found = (ROOT / "examples").iterdir()
    return sorted(p.name for p in found if p.suffix == ".py" or p.name.endswith("_app"))


def test_readme_has_an_install_and_a_run_line_for_every_example() -> None:
    """Every example has its README entry, with an Install line naming an extra that
    exists (or the package alone) and a Run line."""
    entries = example_entries()
    assert sorted(entries) == examples()
    for entry in entries.values():
        extra = install_line(entry)
        assert extra == "" or extra in extras(), entry
        assert program_of(entry)


@pytest.mark.parametrize("example", examples())
def test_an_examples_extra_installs_what_it_imports_and_nothing_else(example: str) -> None:
    """What the example imports comes with its Install line; what that extra lists itself
    is imported by the example or is the program its Run line starts (uvicorn)."""
    entry = example_entries()[example]
    extra = install_line(entry)
    installed = {module_of(name).partition(".")[0] for name in installed_by(extra)}
    needed = third_party_imports(ROOT / "examples" / example)
    assert needed - installed == set()
    listed = [name for name in extras()[extra] if not name.startswith(f"{SELF}[")] if extra else []
    unused = [name for name in listed if module_of(name) not in needed | {program_of(entry)}]
    assert unused == []
