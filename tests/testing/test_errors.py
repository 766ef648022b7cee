"""The error table: every refusal is a documented JSON 4xx, never a crash or a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from texin_async.testing import DEFAULT_API_KEY, TexinEmulator

from ._support import NUMBER, Api, error_of


def test_an_unknown_path_gets_404_json(client: httpx.Client) -> None:
    """Any path that is not an endpoint gets a JSON 404."""
    response = client.post("send_mms", json={"api_key": DEFAULT_API_KEY})
    assert response.status_code == 404
    error_of(response)


def test_get_on_a_post_endpoint_gets_405(client: httpx.Client) -> None:
    """GET /api/send_sms is a JSON 405 that names the method to use."""
    response = client.get("send_sms")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    error_of(response)


def test_post_on_a_get_endpoint_gets_405(client: httpx.Client) -> None:
    """POST /api/test_connection is a JSON 405."""
    response = client.post("test_connection", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "content", [b"{not json", b"", b"\xff\xfe", b'["api_key"]', b'"text"', b"42", b"null"]
)
def test_a_body_that_is_not_a_json_object_gets_400(client: httpx.Client, content: bytes) -> None:
    """Malformed JSON, or JSON that is not an object, is a JSON 400."""
    response = client.post("get_balance", content=content)
    assert response.status_code == 400
    error_of(response)


@pytest.mark.parametrize(
    ("endpoint", "fields"),
    [
        ("send_sms", {"message": "Hi"}),
        ("send_sms", {"recipient": NUMBER}),
        ("send_sms", {"recipient": 254712345678, "message": "Hi"}),
        ("send_sms", {"recipient": [NUMBER], "message": "Hi"}),
        ("send_sms", {"recipient": NUMBER, "message": 5}),
        ("send_sms", {"recipient": NUMBER, "message": ""}),
        ("send_sms", {"recipient": NUMBER, "message": "   "}),
        ("send_sms", {"recipient": NUMBER, "message": "Hi", "sender_id": 7}),
        ("send_bulk_sms", {"message": "Hi"}),
        ("send_bulk_sms", {"recipients": NUMBER, "message": "Hi"}),
        ("send_bulk_sms", {"recipients": [254712345678], "message": "Hi"}),
        ("send_bulk_sms", {"recipients": [], "message": "Hi"}),
        ("send_bulk_sms", {"recipients": [NUMBER]}),
        ("check_status", {}),
        ("check_status", {"message_id": 5}),
    ],
)
def test_missing_or_mistyped_parameters_get_400(
    api: Api, texin_emulator: TexinEmulator, endpoint: str, fields: dict[str, Any]
) -> None:
    """A missing, empty or wrongly typed parameter is a JSON 400 and nothing is sent."""
    response = api.post(endpoint, **fields)
    assert response.status_code == 400
    error_of(response)
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}


def test_an_oversized_body_gets_413_json(api: Api, texin_emulator: TexinEmulator) -> None:
    """A body over max_body_bytes is a JSON 413, and the connection stays usable."""
    texin_emulator.max_body_bytes = 1_000
    response = api.send(message="x" * 5_000)
    assert response.status_code == 413
    error_of(response)
    assert api.post("get_balance").status_code == 200
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}


def test_a_large_oversized_body_still_gets_its_413(api: Api) -> None:
    """Even megabytes over the limit get the 413, not a reset connection."""
    response = api.send(message="x" * 4_000_000)
    assert response.status_code == 413


@pytest.mark.parametrize("endpoint", ["send_sms", "send_bulk_sms", "check_status"])
def test_error_bodies_never_echo_the_key(api: Api, endpoint: str) -> None:
    """Refusals, to good keys and bad ones, never repeat the API key."""
    for key in ("texin-test-key", "a-wrong-secret-key"):
        response = api.post(endpoint, api_key=key, message_id=5, recipient="bad", message="")
        assert response.status_code >= 400
        assert key not in response.text
