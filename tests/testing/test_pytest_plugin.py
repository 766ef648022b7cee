"""The texin_async pytest plugin, as a user's test suite sees it."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import httpx

from texin_async.testing import Fault


def test_send(texin_emulator, texin_emulator_url, texin_api_key):
    body = {"api_key": texin_api_key, "recipient": "0712345678", "message": "Hi"}
    assert httpx.post(texin_emulator_url + "send_sms", json=body).status_code == 200
    assert texin_emulator.processed(texin_api_key) == {"254712345678": 1}
    texin_emulator.faults.schedule(Fault.SERVER_ERROR)


def test_fresh_state(texin_emulator, texin_emulator_url, texin_api_key):
    response = httpx.post(texin_emulator_url + "get_balance", json={"api_key": texin_api_key})
    assert response.json()["sms_balance"] == 10_000
    assert texin_emulator.processed(texin_api_key) == {}
"""


def test_the_fixtures_serve_a_reset_emulator_to_each_test(pytester: pytest.Pytester) -> None:
    """A user's tests get a served emulator, its URL and key, reset between tests."""
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)


def test_the_plugin_imports_nothing_heavy() -> None:
    """Loading the plugin imports neither uvicorn nor starlette: it must load without them."""
    code = (
        "import sys, texin_async.testing._pytest_plugin; "
        "print(sorted(m for m in ('uvicorn', 'starlette') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"
