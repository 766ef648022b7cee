"""Fixtures for the emulator's tests, on top of the texin_async pytest plugin's emulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ._support import Api


@pytest.fixture
def client(texin_emulator_url: str) -> Iterator[httpx.Client]:
    """A sync client on the session's (reset) emulator."""
    with httpx.Client(base_url=texin_emulator_url, timeout=10.0) as client:
        yield client


@pytest.fixture
def api(client: httpx.Client, texin_api_key: str) -> Api:
    """Posts as the emulator's default account."""
    return Api(client, texin_api_key)
