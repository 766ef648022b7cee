"""pytest fixtures that serve the Texin emulator on 127.0.0.1, like moto does for AWS.

pytest loads this module (the ``texin_async`` ``pytest11`` entry point) in every environment
where texin-async is installed, extras or not, so it imports the emulator only inside fixtures.

Example::

    def test_balance(texin_emulator_url: str, texin_api_key: str) -> None:
        response = httpx.post(texin_emulator_url + "get_balance", json={"api_key": texin_api_key})
        assert response.json()["sms_balance"] == 10_000
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from texin_async.testing import TexinEmulator

__all__ = ["texin_api_key", "texin_emulator", "texin_emulator_url"]


@pytest.fixture(scope="session")
def _texin_served() -> Iterator[tuple[TexinEmulator, str]]:
    """One emulator and its loopback server for the whole session: starting one costs ~50 ms."""
    from texin_async.testing import TexinEmulator, serve_in_thread

    emulator = TexinEmulator()
    with serve_in_thread(emulator) as url:
        yield emulator, url


@pytest.fixture
def texin_emulator(_texin_served: tuple[TexinEmulator, str]) -> TexinEmulator:
    """The session's emulator, reset to its initial accounts, no faults and empty stats."""
    emulator, _ = _texin_served
    emulator.reset()
    return emulator


@pytest.fixture
def texin_emulator_url(
    texin_emulator: TexinEmulator, _texin_served: tuple[TexinEmulator, str]
) -> str:
    """The base URL of the reset emulator, like ``http://127.0.0.1:PORT/api/``."""
    return _texin_served[1]


@pytest.fixture
def texin_api_key() -> str:
    """The API key of the emulator's default account."""
    from texin_async.testing import DEFAULT_API_KEY

    return DEFAULT_API_KEY
