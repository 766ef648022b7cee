"""A client belongs to the event loop of its first request; elsewhere it says so, sends
nothing, and closes without a bare RuntimeError (a second ``asyncio.run`` is the usual way
there)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
import warnings
from pathlib import Path

import pytest

from texin_async import ClientStateError, TexinClient
from texin_async.testing import TexinEmulator

ITEMS = [("0712345671", "One"), ("0712345672", "Two")]


def used_in_a_finished_loop(url: str, key: str) -> TexinClient:
    """A client whose pool holds a connection of a first event loop, which has ended."""
    client = TexinClient(key, base_url=url, rate_limit=None)
    asyncio.run(client.get_balance())
    return client


def collect() -> None:
    """Collect the clients a test dropped. Python warns of their sockets, left open when
    their first loop ended: what a user who left the client open sees; not a failure here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_async_with_in_a_second_loop_refuses_and_closes_cleanly(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """Entering it in a second loop is the clear error; nothing else is raised after it."""
    client = used_in_a_finished_loop(texin_emulator_url, texin_api_key)

    async def again(used: TexinClient) -> None:
        async with used:
            await used.send_sms("0712345678", "hi")

    with pytest.raises(ClientStateError, match="first request"):
        asyncio.run(again(client))
    asyncio.run(client.aclose())  # the old loop's connections went with it: no error
    assert not texin_emulator.processed(texin_api_key)
    del client
    collect()


def test_a_batch_in_a_second_loop_stops_before_anything_and_a_rerun_sends_all(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str, tmp_path: Path
) -> None:
    """Not INVALID for good: the batch raises before it starts, the journal records no
    item, and a re-run on a client of the right loop sends every item."""
    journal = tmp_path / "job.sqlite"

    async def batch(client: TexinClient) -> int:
        return (await client.send_batch(ITEMS, journal=journal)).sent

    client = used_in_a_finished_loop(texin_emulator_url, texin_api_key)
    with pytest.raises(ClientStateError):
        asyncio.run(batch(client))
    asyncio.run(client.aclose())
    del client
    collect()
    assert not texin_emulator.processed(texin_api_key)
    if journal.exists():
        with contextlib.closing(sqlite3.connect(journal)) as db:
            assert db.execute("SELECT count(*) FROM items").fetchone() == (0,)

    async def rerun() -> int:
        async with TexinClient(
            texin_api_key, base_url=texin_emulator_url, rate_limit=None
        ) as fresh:
            return await batch(fresh)

    assert asyncio.run(rerun()) == 2
    assert sum(texin_emulator.processed(texin_api_key).values()) == 2


def test_a_closed_client_is_a_client_state_error(
    texin_emulator_url: str, texin_api_key: str
) -> None:
    """Closed is a TexinError too (still a RuntimeError), never maybe sent."""
    client = TexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit=None)

    async def closed() -> None:
        await client.aclose()
        await client.send_sms("0712345678", "hi")

    with pytest.raises(ClientStateError, match="closed") as caught:
        asyncio.run(closed())
    assert not caught.value.maybe_sent
    assert isinstance(caught.value, RuntimeError)
