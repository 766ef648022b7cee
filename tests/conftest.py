"""Fixtures shared by every test module; constants and helpers are in support.py.

The ``texin_async`` pytest plugin (texin_async/testing/_pytest_plugin.py) already serves an
emulator on 127.0.0.1: use its ``texin_emulator``, ``texin_emulator_url`` and ``texin_api_key``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from redis_server import redis_server
from support import FAST, free_port

from texin_async import TexinClient, _ratelimit
from texin_async._transport import TransportChoice
from texin_async.testing import TexinEmulator


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio, unless marked ``event_loops`` below."""
    return "asyncio"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.event_loops("asyncio", "trio")`` (on a test or a module) runs an anyio
    test on each loop named; the closest mark wins, so a test of a trio module can keep to
    asyncio with ``@pytest.mark.event_loops("asyncio")``."""
    marker = metafunc.definition.get_closest_marker("event_loops")
    if marker is None or "anyio_backend" not in metafunc.fixturenames:
        return
    loops = [loop for loop in marker.args if loop in LOOPS]
    if loops != ["asyncio"]:
        metafunc.parametrize("anyio_backend", loops)


#: The event loops ``event_loops`` may name here: TEXIN_TEST_LOOPS="asyncio" leaves trio's
#: repeat runs out (nox does so on all but the newest Python, to keep CI short).
LOOPS = os.environ.get("TEXIN_TEST_LOOPS", "asyncio,trio").split(",")


#: Parameters a test on trio leaves out: aiohttp runs on asyncio only (test_trio.py checks
#: that it refuses trio, saying so); the emulator's dialect is the server's business, so
#: one is enough on a second loop.
NOT_ON_TRIO = {"backend": "aiohttp", "dialect": "php"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the trio runs of NOT_ON_TRIO's parameters."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)  # only parametrized tests have one
        params: dict[str, object] = callspec.params if callspec else {}
        on_trio = params.get("anyio_backend") == "trio"
        left_out = any(params.get(name) == value for name, value in NOT_ON_TRIO.items())
        (dropped if on_trio and left_out else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


# -- a client on the emulator ----------------------------------------------------------------


@pytest.fixture(params=[pytest.param(None, id="httpx"), pytest.param("aiohttp", id="aiohttp")])
def backend(request: pytest.FixtureRequest) -> TransportChoice:
    """Each test that takes it runs on the default httpx backend and on native aiohttp
    (aiohttp on asyncio only: see NOT_ON_TRIO)."""
    choice: TransportChoice = request.param
    return choice


@pytest.fixture
def client_options() -> dict[str, Any]:
    """What the ``client`` fixture's TexinClient gets besides the key, the URL and FAST
    retries. A module overrides this fixture to give its clients a backend or a budget."""
    return {}


@pytest.fixture
async def client(
    texin_emulator_url: str, texin_api_key: str, client_options: dict[str, Any]
) -> AsyncIterator[TexinClient]:
    """A TexinClient of the default account on the session's (reset) emulator."""
    options = {"retry": FAST, **client_options}
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, **options) as client:
        yield client


@pytest.fixture
def texin_env(monkeypatch: pytest.MonkeyPatch, texin_emulator_url: str, texin_api_key: str) -> None:
    """Point TexinClient() and SyncTexinClient() (key and URL from the environment), the
    examples and README's blocks at the emulator."""
    monkeypatch.setenv("TEXIN_API_KEY", texin_api_key)
    monkeypatch.setenv("TEXIN_BASE_URL", texin_emulator_url)


# -- a real redis-server ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_session_url() -> Iterator[str]:
    """One redis-server for the session (see redis_server.py)."""
    with redis_server(free_port()) as url:
        yield url


@pytest.fixture
def redis_url(redis_session_url: str) -> str:
    """The session's Redis, emptied."""
    with redis.Redis.from_url(redis_session_url) as client:
        client.flushall()
    return redis_session_url
