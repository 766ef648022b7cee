"""Many keys in one process (TexinClient.for_key, Message.client): one pool and one TLS
context for every account, a budget and a key_id for each, one report for a campaign."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from texin_async import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidRequestError,
    JournalMismatchError,
    LocalRateLimiter,
    Message,
    OutcomeStatus,
    RateLimit,
    SyncTexinClient,
    TexinClient,
)
from texin_async.testing import Account, TexinEmulator, serve_in_thread

pytestmark = pytest.mark.anyio

#: Each account's budget, the same as the emulator's "5/60": a test sees it run out.
PER_ACCOUNT = RateLimit(max_rate=5, time_period=60.0, reserve=0)
KEYS = [f"acct-{i}-secret" for i in range(4)]


@pytest.fixture(scope="module")
def _accounts() -> Iterator[tuple[TexinEmulator, str]]:
    emulator = TexinEmulator(rate_limit="5/60", key_prefix="acct-")
    with serve_in_thread(emulator) as url:
        yield emulator, url


@pytest.fixture
def accounts(_accounts: tuple[TexinEmulator, str]) -> tuple[TexinEmulator, str]:
    """An emulator serving every key that starts with "acct-", each its own account."""
    _accounts[0].reset()
    return _accounts


async def test_views_share_one_pool_and_keep_a_budget_each(
    accounts: tuple[TexinEmulator, str],
) -> None:
    """Four accounts send 5 each (their whole budget) over one connection pool; none waits
    for another's budget, and the server sees each key within its own limit."""
    emulator, url = accounts
    async with TexinClient(
        KEYS[0], base_url=url, rate_limit=PER_ACCOUNT, max_connections=2
    ) as root:
        views = [root, *(root.for_key(key) for key in KEYS[1:])]
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for view in views:
                    for i in range(5):
                        tg.start_soon(view.send_sms, f"07000000{i:02d}", "hi")
    assert emulator.connections_opened <= 2
    assert [emulator.rate_limited(key) for key in KEYS] == [0] * 4
    assert [sum(emulator.processed(key).values()) for key in KEYS] == [5] * 4


async def test_a_views_errors_and_logs_name_only_its_own_key_id(
    accounts: tuple[TexinEmulator, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing of one key shows in another's errors or logs, and no key at all: key_id only."""
    _, url = accounts
    caplog.set_level(logging.DEBUG, logger="texin_async")
    async with TexinClient(KEYS[0], base_url=url, rate_limit=PER_ACCOUNT) as root:
        stranger = root.for_key("not-an-account-secret")
        with pytest.raises(AuthenticationError) as caught:
            await stranger.get_balance()
    shown = [str(caught.value), repr(caught.value), repr(stranger), caplog.text]
    assert stranger.key_id != root.key_id
    assert not any(secret in text for text in shown for secret in [*KEYS, "not-an-account"])


async def test_a_view_is_cheap_and_closing_it_gives_its_key_back() -> None:
    """A view opens no pool; closed, its key may take another budget; closing the client
    closes every view."""
    async with TexinClient(
        "root-key", base_url="http://127.0.0.1/api/", rate_limit=PER_ACCOUNT
    ) as c:
        view = c.for_key("other-key", sender_id="Promo")
        assert view._transport is c._transport
        assert view.sender_id == "Promo"
        await view.aclose()
        await TexinClient("other-key", base_url="http://127.0.0.1/api/", rate_limit="9/9").aclose()
        with pytest.raises(InvalidRequestError):
            c.for_key("")
        late = c.for_key("late-key")
    with pytest.raises(RuntimeError, match="closed"):
        await late.get_balance()


def test_lanes_of_many_keys_are_freed_once_idle() -> None:
    """The in-process limiter keeps state for busy keys only, not every key ever seen."""
    now = [0.0]
    limiter = LocalRateLimiter(RateLimit(max_rate=100, time_period=1.0), clock=lambda: now[0])

    async def send_for_many() -> None:
        for i in range(1000):
            async with limiter.slot(f"key-{i}"):
                pass

    anyio.run(send_for_many)
    assert limiter.lanes() == 1000
    now[0] = 2.0
    assert limiter.lanes() == 0


async def test_one_campaign_for_many_accounts_coalesces_per_key(
    accounts: tuple[TexinEmulator, str],
) -> None:
    """Items name their account's view: one bulk request per key for a shared text, each on
    its own budget, one report for all."""
    emulator, url = accounts
    async with TexinClient(KEYS[0], base_url=url, rate_limit=PER_ACCOUNT) as root:
        views = [root.for_key(key) for key in KEYS]
        items = [
            Message(f"0700000{i:03d}", "Your statement is ready", client=views[i % 4])
            for i in range(40)
        ]
        report = await root.send_batch(items, check_balance=True)
    assert report.sent == 40
    assert report.requests == 4
    for key in KEYS:
        assert emulator.requests(key)[("send_bulk_sms", 200)] == 1
        assert sum(emulator.processed(key).values()) == 10


async def test_a_campaign_checks_each_accounts_balance(
    accounts: tuple[TexinEmulator, str],
) -> None:
    """check_balance refuses before sending when one account cannot cover its share."""
    emulator, url = accounts
    emulator.add_account(Account(api_key="acct-poor-secret", balance=3))
    async with TexinClient(KEYS[0], base_url=url, rate_limit=PER_ACCOUNT) as root:
        poor, rich = root.for_key("acct-poor-secret"), root.for_key(KEYS[1])
        items = [Message(f"0700000{i:03d}", "hi", client=(poor, rich)[i % 2]) for i in range(10)]
        with pytest.raises(InsufficientBalanceError):
            await root.send_batch(items, check_balance=True)
    assert emulator.requests("acct-poor-secret").get(("send_bulk_sms", 200)) is None


async def test_an_item_for_another_key_is_part_of_its_journal_fingerprint(
    accounts: tuple[TexinEmulator, str], tmp_path: Path
) -> None:
    """Resuming with the same items for a different account is refused, not mixed up."""
    _, url = accounts
    journal = f"{tmp_path}/job.sqlite"
    async with TexinClient(KEYS[0], base_url=url, rate_limit=PER_ACCOUNT) as root:
        first, second = root.for_key(KEYS[1]), root.for_key(KEYS[2])
        await root.send_batch([Message("0700000001", "hi", client=first)], journal=journal)
        with pytest.raises(JournalMismatchError):
            await root.send_batch([Message("0700000001", "hi", client=second)], journal=journal)


async def test_an_item_whose_client_is_not_a_client_is_invalid(
    accounts: tuple[TexinEmulator, str],
) -> None:
    """A key string where a client belongs is refused locally (and never sent)."""
    _, url = accounts
    async with TexinClient(KEYS[0], base_url=url, rate_limit=PER_ACCOUNT) as root:
        outcomes = [o async for o in root.iter_batch([Message("0700000001", "hi", client="k")])]
    assert outcomes[0].status is OutcomeStatus.INVALID
    assert "for_key" in (outcomes[0].error or "")


def test_the_sync_client_has_views_too(accounts: tuple[TexinEmulator, str]) -> None:
    """SyncTexinClient.for_key: another key on the same pool, items may name its view."""
    emulator, url = accounts
    with SyncTexinClient(KEYS[0], base_url=url, rate_limit=PER_ACCOUNT) as root:
        view = root.for_key(KEYS[3])
        view.send_sms("0700000009", "hi")
        report = root.send_batch([Message("0700000010", "hi", client=view)])
    assert report.sent == 1
    assert sum(emulator.processed(KEYS[3]).values()) == 2


def test_views_send_through_the_callers_http_client_too(
    accounts: tuple[TexinEmulator, str],
) -> None:
    """A client on a caller's httpx.AsyncClient shares it with its views."""

    async def main() -> None:
        _, url = accounts
        async with httpx.AsyncClient() as http:
            client = TexinClient(KEYS[0], base_url=url, http_client=http, rate_limit=PER_ACCOUNT)
            async with client:
                assert (await client.for_key(KEYS[1]).get_balance()).success
            assert not http.is_closed

    anyio.run(main)
