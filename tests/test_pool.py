"""Cancellation leaks nothing: the pool place a request cancelled at the wrong moment would
leave behind (encode/httpcore#1093) is freed, on a caller's httpx client, the SDK's own and
aiohttp; and the httpx internals that repair relies on are still there."""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import AsyncIterator

import anyio
import httpcore
import httpx
import pytest
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from texin_async import RetryPolicy, TexinClient, TexinError
from texin_async._pool import pool_of, reap_orphans, reapable, transport_for
from texin_async._transport import TransportChoice

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("asyncio", "trio")]

ROUNDS = 60  # without the repair, both places leak within ten rounds or so
SENT = b'{"success": true, "message_id": "API-1"}'


@contextlib.asynccontextmanager
async def keep_alive_server() -> AsyncIterator[str]:
    """A healthy API on 127.0.0.1 that answers every request at once, keeping connections
    (on the running event loop, asyncio or trio)."""

    async def handle(stream: SocketStream) -> None:
        received = BufferedByteReceiveStream(stream)
        gone = (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError)
        async with stream:
            with contextlib.suppress(*gone):
                while True:
                    head = await received.receive_until(b"\r\n\r\n", 65536)
                    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                    await received.receive_exactly(int(length[1]) if length else 0)
                    await stream.send(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(SENT), SENT)
                    )

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield f"http://127.0.0.1:{listener.extra(SocketAttribute.local_port)}/api/"
        tg.cancel_scope.cancel()


async def churn(client: TexinClient, rounds: int = ROUNDS) -> None:
    """Six sends at a time, each cancelled after a random 0-4 ms, ``rounds`` times over."""
    rng = random.Random(1093)

    async def send() -> None:
        with anyio.move_on_after(rng.uniform(0, 0.004)), contextlib.suppress(TexinError):
            await client.send_sms("0712345678", "hi")

    for _ in range(rounds):
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(send)


def texin(url: str, **kw: object) -> TexinClient:
    """A client with no client-side limit, one attempt, and a 1 s pool timeout."""
    return TexinClient(
        "texin-pool-key",
        base_url=url,
        rate_limit=None,
        retry=RetryPolicy(attempts=1),
        timeout=httpx.Timeout(1.0),
        **kw,  # type: ignore[arg-type]
    )


async def test_cancelled_sends_leak_no_place_in_a_callers_small_pool() -> None:
    """A shared client of 2 connections, 900 sends cancelled at random moments: no place
    is left to a connection that never connected, and the next request goes through."""
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=2))
    async with keep_alive_server() as url, http, texin(url, http_client=http) as client:
        await churn(client)
        pool = pool_of(transport_for(http, url))
        assert pool is not None
        assert not [c for c in pool.connections if "CONNECTING" in repr(c)]
        with anyio.fail_after(2):
            assert (await client.send_sms("0712345678", "hi")).message_id == "API-1"


async def test_cancelled_sends_leak_nothing_on_the_sdks_own_pool(backend: TransportChoice) -> None:
    """The same churn on the SDK's own pool of 2, on both backends: the API still answers."""
    async with (
        keep_alive_server() as url,
        texin(url, transport=backend, max_connections=2) as client,
    ):
        await churn(client)
        with anyio.fail_after(2):
            assert (await client.send_sms("0712345678", "hi")).message_id == "API-1"


async def test_the_repair_works_on_the_installed_httpcore() -> None:
    """The internals the repair reads are there: it finds the pool of a client and of a
    transport, and drops a never-connected connection no request owns (and only that)."""
    url = "http://127.0.0.1:9/api/"
    http = httpx.AsyncClient()
    pool = pool_of(transport_for(http, url))
    assert pool is not None
    assert reapable(pool)
    assert reapable(pool_of(httpx.AsyncHTTPTransport()))
    orphan = pool.create_connection(httpcore.Origin(b"http", b"127.0.0.1", 9))
    pool._connections.append(orphan)
    assert await reap_orphans(pool) == 1
    assert pool.connections == []
    assert await reap_orphans(pool) == 0
    await http.aclose()


async def test_an_uninspectable_pool_is_left_alone() -> None:
    """Anything but an httpcore pool (a mock transport, internals that changed) is skipped."""
    assert pool_of(httpx.MockTransport(lambda r: httpx.Response(200))) is None
    assert not reapable(object())
    assert await reap_orphans(object()) == 0
    assert await reap_orphans(None) == 0
