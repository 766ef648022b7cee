"""ASGI plumbing: read a bounded body, send an answer, or drop the connection unanswered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

__all__ = [
    "BodyTooLarge",
    "ClientGone",
    "Receive",
    "Response",
    "Scope",
    "Send",
    "TrackedSend",
    "drop_connection",
    "read_body",
    "run_lifespan",
    "send_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = "application/json"


class BodyTooLarge(Exception):
    """The request body exceeded the emulator's ``max_body_bytes``."""


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


@dataclass(frozen=True, slots=True)
class Response:
    """Bytes to answer with, and how to label them."""

    status: int
    body: bytes
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        """A JSON response, with the key order of ``body``."""
        return cls(status, msgspec.json.encode(body), _JSON, headers)


class TrackedSend:
    """``send``, noting whether the response has started: after that no other answer fits."""

    __slots__ = ("inner", "started")

    def __init__(self, inner: Send) -> None:
        self.inner = inner
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.inner(message)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body.

    Past ``limit`` bytes the rest is read and discarded, so the client, still writing, gets
    to read the 413 instead of a reset connection.

    Raises:
        BodyTooLarge: the body exceeded ``limit`` bytes.
        ClientGone: the client disconnected first.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        size += len(message.get("body", b""))
        if size <= limit:
            chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    if size > limit:
        raise BodyTooLarge
    return b"".join(chunks)


async def send_response(send: Send, response: Response) -> None:
    """Send ``response`` whole, with its Content-Length."""
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
        *((name.encode(), value.encode()) for name, value in response.headers),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def drop_connection(send: Send, receive: Receive) -> None:
    """Close the TCP connection without sending a byte, as a crashing proxy does.

    Under uvicorn, ``send`` is bound to the request's cycle, which holds the transport. In
    process (``httpx.ASGITransport``) there is no socket: fail the request the way httpx
    reports a server that closed without answering.

    Raises:
        httpx.RemoteProtocolError: in process, where there is no connection to drop.
    """
    server_send = send.inner if isinstance(send, TrackedSend) else send
    transport = getattr(getattr(server_send, "__self__", None), "transport", None)
    if transport is None:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport.abort()
    # Wait until the server has seen the connection go: returning earlier would make it
    # answer "500 Internal Server Error" on our behalf into the closing socket.
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown: the emulator needs no setup."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
