"""Serving: serve and serve_in_thread on loopback, TLS, connections, and in process.

serve() runs on asyncio and, on a thread of its own, beside trio."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
import trustme

from texin_async.testing import (
    DEFAULT_API_KEY,
    Account,
    Fault,
    TexinEmulator,
    serve,
    serve_in_thread,
)

from ._support import NUMBER

BALANCE = {"api_key": DEFAULT_API_KEY}


@pytest.mark.anyio
@pytest.mark.event_loops("asyncio", "trio")
async def test_serve_yields_a_loopback_base_url_that_answers() -> None:
    """serve() yields "http://127.0.0.1:PORT/api/" and the API answers there."""
    async with serve(TexinEmulator()) as url, httpx.AsyncClient() as client:
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/api/")
        response = await client.post(url + "get_balance", json=BALANCE)
    assert response.json()["sms_balance"] == 10_000


@pytest.mark.anyio
@pytest.mark.event_loops("asyncio", "trio")
async def test_serve_stops_listening_on_exit() -> None:
    """After the block the port refuses connections."""
    async with serve(TexinEmulator()) as url:
        pass
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


@pytest.mark.anyio
@pytest.mark.event_loops("asyncio", "trio")
async def test_serve_speaks_tls_with_the_given_certificate(tmp_path: Path) -> None:
    """With tls_cert and tls_key it serves HTTPS that verifies against the cert's CA."""
    ca = trustme.CA()
    pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    emulator = TexinEmulator()
    async with (
        serve(emulator, tls_cert=pem, tls_key=pem) as url,
        httpx.AsyncClient(verify=context) as client,
    ):
        response = await client.post(url + "get_balance", json=BALANCE)
    assert url.startswith("https://127.0.0.1:")
    assert response.status_code == 200


def test_serve_in_thread_raises_a_bad_certificate_in_the_caller(tmp_path: Path) -> None:
    """A certificate that cannot be loaded fails serve_in_thread itself, not a thread."""
    with (
        pytest.raises((OSError, ssl.SSLError)),
        serve_in_thread(TexinEmulator(), tls_cert=tmp_path / "missing.pem"),
    ):
        pass


def test_serve_in_thread_serves_sync_code_and_stops() -> None:
    """serve_in_thread answers sync clients and closes the port on exit."""
    with serve_in_thread(TexinEmulator()) as url:
        assert httpx.post(url + "get_balance", json=BALANCE).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_connections_opened_counts_tcp_connections(
    texin_emulator_url: str, texin_emulator: TexinEmulator
) -> None:
    """Requests on one kept-alive connection count once; each new client counts again."""
    with httpx.Client(base_url=texin_emulator_url) as client:
        for _ in range(3):
            client.post("get_balance", json=BALANCE)
    assert texin_emulator.connections_opened == 1
    for _ in range(2):
        with httpx.Client(base_url=texin_emulator_url) as client:
            client.get("")
    assert texin_emulator.connections_opened == 3


def test_the_emulator_repr_shows_no_key() -> None:
    """The emulator's repr summarises it without any API key."""
    emulator = TexinEmulator([Account(api_key="secret-key")])
    assert "secret-key" not in repr(emulator)
    assert "accounts=1" in repr(emulator)


@pytest.mark.anyio
async def test_in_process_the_emulator_answers_through_asgi_transport() -> None:
    """httpx.ASGITransport(app=emulator) serves the API with no socket at all."""
    transport = httpx.ASGITransport(app=TexinEmulator())
    async with httpx.AsyncClient(transport=transport, base_url="http://texin/api/") as client:
        response = await client.post(
            "send_sms", json={**BALANCE, "recipient": NUMBER, "message": "Hi"}
        )
    assert response.json()["recipient"] == NUMBER


@pytest.mark.anyio
@pytest.mark.parametrize("fault", [Fault.DROP_BEFORE, Fault.DROP_AFTER])
async def test_in_process_a_drop_raises_like_a_disconnect(fault: Fault) -> None:
    """In process a dropped connection surfaces as httpx.RemoteProtocolError, as on a socket."""
    emulator = TexinEmulator()
    emulator.faults.schedule(fault)
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://texin/api/") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("get_balance", json=BALANCE)
    assert emulator.fault_log[0].processed is fault.processes_first


@pytest.mark.anyio
async def test_the_emulator_completes_the_lifespan_protocol() -> None:
    """Under any ASGI server with lifespan on, startup and shutdown complete."""
    sent: list[str] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    await TexinEmulator()({"type": "lifespan"}, receive, send)  # type: ignore[arg-type]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
