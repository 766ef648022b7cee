"""Fixtures shared by every test module.

The ``texin_async`` pytest plugin (texin_async/testing/_pytest_plugin.py) already serves an
emulator on 127.0.0.1: use its ``texin_emulator``, ``texin_emulator_url`` and ``texin_api_key``.
"""

from __future__ import annotations

import pytest

from texin_async import _ratelimit
from texin_async.testing import TexinEmulator


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only: uvicorn serves on asyncio."""
    return "asyncio"


@pytest.fixture(params=["documented", "php"])
def dialect(request: pytest.FixtureRequest, texin_emulator: TexinEmulator) -> str:
    """The session emulator answering as documented, then as a PHP backend plausibly would."""
    name: str = request.param
    texin_emulator.dialect = name  # type: ignore[assignment]
    return name


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    """Each test starts with every key's budget unused.

    The in-process limiters are process-wide (one budget per key per process, as promised),
    so without this a test would wait for the requests of the tests before it.
    """
    _ratelimit._SHARED.clear()
