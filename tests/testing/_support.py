"""Small helpers for the emulator's tests: post as an account, decode as the SDK does."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import msgspec

from texin_async._models import decoder_for

T = TypeVar("T")

NUMBER = "254712345678"
LOCAL_NUMBER = "0712345678"


class Api:
    """Posts JSON to the emulator as one account (``api_key=None`` leaves the key out)."""

    def __init__(self, client: httpx.Client, api_key: str) -> None:
        self.client = client
        self.api_key = api_key

    def post(self, endpoint: str, *, api_key: Any = ..., **fields: Any) -> httpx.Response:
        """POST ``fields`` (plus the key) to ``endpoint``."""
        key = self.api_key if api_key is ... else api_key
        body = fields if key is None else {"api_key": key, **fields}
        return self.client.post(endpoint, json=body)

    def send(
        self, recipient: str = NUMBER, message: str = "Hello", **fields: Any
    ) -> httpx.Response:
        """POST a send_sms."""
        return self.post("send_sms", recipient=recipient, message=message, **fields)

    def bulk(self, recipients: list[str], message: str = "Hello", **fields: Any) -> httpx.Response:
        """POST a send_bulk_sms."""
        return self.post("send_bulk_sms", recipients=recipients, message=message, **fields)


def decode(response: httpx.Response, model: type[T]) -> T:
    """Decode a 200 answer into an SDK Struct, strictly: proof the SDK can read it."""
    assert response.status_code == 200, response.text
    return decoder_for(model).decode(response.content)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The documented error envelope of a refusal; fails unless it has all three fields."""
    body: dict[str, Any] = msgspec.json.decode(response.content)
    assert response.headers["content-type"] == "application/json"
    assert body["success"] is False
    assert isinstance(body["message"], str)
    assert isinstance(body["error"], str)
    return body
