"""The public surface: everything public is exported once, under the package's own name."""

from __future__ import annotations

import types

import texin_async
import texin_async.testing


def test_all_lists_every_public_name() -> None:
    """__all__ names every public object the package defines, and only those."""
    public = {
        name
        for name, value in vars(texin_async).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert public | {"__version__"} == set(texin_async.__all__)


def test_exported_classes_and_functions_live_in_the_package() -> None:
    """Reprs and docs say texin_async.X, not texin_async._module.X."""
    for package in (texin_async, texin_async.testing):
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, type | types.FunctionType):
                assert value.__module__ == package.__name__, name


def test_importing_the_package_needs_no_extras() -> None:
    """The core imports without the extras' packages (httpx itself imports rich if present)."""
    import subprocess
    import sys

    code = (
        "import sys, texin_async\n"
        "extras = {'starlette', 'uvicorn', 'typer', 'redis', 'aiohttp'}\n"
        "print(sorted(extras & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
