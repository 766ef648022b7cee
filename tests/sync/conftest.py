"""Fixtures of the sync client's tests, on top of the texin_async plugin's emulator."""

from __future__ import annotations

import pytest


@pytest.fixture
def texin_env(monkeypatch: pytest.MonkeyPatch, texin_emulator_url: str, texin_api_key: str) -> None:
    """Point SyncTexinClient() (key and URL from the environment) at the emulator."""
    monkeypatch.setenv("TEXIN_API_KEY", texin_api_key)
    monkeypatch.setenv("TEXIN_BASE_URL", texin_emulator_url)
