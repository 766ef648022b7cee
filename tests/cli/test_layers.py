"""The CLI subpackage's layers: each module imports only modules below it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import texin_async._cli

PACKAGE = "texin_async._cli"
#: Bottom to top: a module may import only those before it.
LAYERS = (
    "_errors",
    "_common",
    "_csv",
    "_preflight",
    "_progress",
    "_summary",
    "_batch",
    "_demo",
    "_app",
    "__init__",
)
FOLDER = Path(texin_async._cli.__file__).parent


def cli_imports(name: str) -> set[str]:
    """The ``_cli`` modules that module ``name`` imports, at any depth of its code."""
    tree = ast.parse((FOLDER / f"{name}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.partition(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + "."):
            found.add((node.module or "").split(".")[2])
    return found


def test_every_module_is_in_a_layer() -> None:
    """Every module of the subpackage is listed in LAYERS, and no layer is missing."""
    assert {path.stem for path in FOLDER.glob("*.py")} == set(LAYERS)


@pytest.mark.parametrize("name", LAYERS)
def test_each_module_imports(name: str) -> None:
    """Each module imports on its own."""
    importlib.import_module(PACKAGE if name == "__init__" else f"{PACKAGE}.{name}")


@pytest.mark.parametrize("name", LAYERS)
def test_no_module_imports_one_above_it(name: str) -> None:
    """A module imports only layers below its own: no cycles, no reaching up."""
    above = set(LAYERS[LAYERS.index(name) :])
    assert cli_imports(name) & above == set()


def test_errors_layer_needs_no_extra() -> None:
    """_errors imports neither typer, rich nor click: a missing extra is still one line."""
    tree = ast.parse((FOLDER / "_errors.py").read_text(encoding="utf-8"))
    modules = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {module.partition(".")[0] for module in modules} & {"typer", "rich", "click"}
