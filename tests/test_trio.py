"""On trio, the parts of the SDK that run on asyncio only refuse at once, saying so, and
send nothing: the aiohttp transport, the Redis limiter, and SyncTexinClient's blocking
calls from inside the loop.

What does run on trio (the client over httpx, the in-process limiter, retries, batches,
the journal, hooks, the pool's repair, serve()) is tested by the modules marked
``event_loops("asyncio", "trio")``.
"""

from __future__ import annotations

import pytest
import trio
from support import FAST, free_port

from texin_async import InvalidRequestError, RedisRateLimiter, SyncTexinClient, TexinClient
from texin_async.testing import TexinEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("trio")]


async def test_the_aiohttp_transport_refuses_trio_and_sends_nothing(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """transport="aiohttp" under trio: InvalidRequestError naming the httpx transport,
    not sent (maybe_sent False), no request made."""
    async with TexinClient(
        texin_api_key, base_url=texin_emulator_url, transport="aiohttp", retry=FAST
    ) as client:
        with pytest.raises(InvalidRequestError, match=r"asyncio only.*runs on trio") as caught:
            await client.send_sms("0712345678", "Hi")
    assert "the default httpx transport" in str(caught.value)
    assert not caught.value.maybe_sent
    assert texin_emulator.requests() == {}


async def test_the_redis_limiter_refuses_trio_and_sends_nothing(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """A RedisRateLimiter under trio: InvalidRequestError on entering it, and at a client's
    first request, before any attempt to reach Redis (nothing listens at its URL), with
    no retry and no falling back to an in-process limit (fail_open)."""
    refused = pytest.raises(InvalidRequestError, match="RedisRateLimiter runs on asyncio only")
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", fail_open=True)
    with refused:
        async with limiter:
            pass
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, limiter=limiter) as c:
        with refused:
            await c.get_balance()
    assert texin_emulator.requests() == {}


def test_the_sync_client_refuses_to_block_a_trio_loop(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """A SyncTexinClient call inside trio.run raises, as inside asyncio: it would stall
    every task of the loop. Nothing is sent."""
    with SyncTexinClient(texin_api_key, base_url=texin_emulator_url) as client:

        async def misuse() -> None:
            client.send_sms("0712345678", "Hi")

        with pytest.raises(InvalidRequestError, match="use TexinClient"):
            trio.run(misuse)
    assert texin_emulator.requests() == {}
