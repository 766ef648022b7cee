"""SyncTexinClient against the emulator: TexinClient's API, results and errors, without await."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from texin_async import (
    ApiInfo,
    Balance,
    BatchProgress,
    BulkSMSResult,
    ClientState,
    ConnectionTest,
    InvalidRequestError,
    JournalMismatchError,
    Message,
    MessageStatus,
    Outcome,
    OutcomeStatus,
    OutcomeUnknownError,
    SMSResult,
    SyncTexinClient,
    TexinClient,
)
from texin_async.testing import Fault, TexinEmulator

NUMBER = "254712345678"
# Sync and async spellings of the same thing; every other public name must be shared.
RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def numbers(count: int, start: int = 0) -> list[str]:
    """``count`` distinct valid local numbers."""
    return [f"07{10_000_000 + i:08d}" for i in range(start, start + count)]


@pytest.fixture
def client(texin_emulator_url: str, texin_api_key: str) -> Iterator[SyncTexinClient]:
    """A sync client on the session's emulator (no client-side limit: tests share its loop)."""
    with SyncTexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit=None) as client:
        yield client


# -- the same API as TexinClient -------------------------------------------------------------


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    """Public methods, context-manager methods and properties of ``cls``, by sync name."""
    found = {}
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in {*RENAMED, *RENAMED.values()}:
            continue
        if callable(value) or isinstance(value, property):
            target = value.fget if isinstance(value, property) else value
            assert target is not None
            found[RENAMED.get(name, name)] = inspect.signature(target)
    return found


def test_methods_and_signatures_match_texin_client() -> None:
    """Every TexinClient method has a sync twin with the same parameters and defaults."""
    sync, async_ = public_methods(SyncTexinClient), public_methods(TexinClient)
    assert sorted(sync) == sorted(async_)
    for name, signature in async_.items():
        expected = [
            (p.name, p.kind, p.default, p.annotation) for p in signature.parameters.values()
        ]
        got = [(p.name, p.kind, p.default, p.annotation) for p in sync[name].parameters.values()]
        assert got == expected, name


# -- endpoints -------------------------------------------------------------------------------


def test_send_sms_sends_once_and_returns_the_async_result(
    client: SyncTexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """send_sms blocks until the API answers and returns the same SMSResult."""
    result = client.send_sms("0712345678", "Your code is 4821")
    assert isinstance(result, SMSResult)
    assert result.message_id in texin_emulator.messages
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}


def test_every_endpoint_returns_its_result_type(client: SyncTexinClient) -> None:
    """Reads, bulk sends and status checks work as on TexinClient."""
    assert isinstance(client.api_info(), ApiInfo)
    assert isinstance(client.test_connection(), ConnectionTest)
    assert isinstance(client.get_balance(), Balance)
    bulk = client.send_bulk_sms(["0712345678", "+254 712 345 679"], "Offer!")
    assert isinstance(bulk, BulkSMSResult)
    message_id = bulk.message_id_for("+254 712 345 679")
    assert message_id is not None
    assert isinstance(client.check_status(message_id), MessageStatus)


def test_a_lost_answer_raises_the_same_error_with_maybe_sent(
    client: SyncTexinClient, texin_emulator: TexinEmulator
) -> None:
    """A dropped connection after the send is OutcomeUnknownError, maybe_sent True."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    with pytest.raises(OutcomeUnknownError) as caught:
        client.send_sms("0712345678", "Hi")
    assert caught.value.maybe_sent is True


def test_a_bad_number_is_refused_before_sending(
    client: SyncTexinClient, texin_emulator: TexinEmulator
) -> None:
    """Local validation raises InvalidRequestError, maybe_sent False, and sends nothing."""
    with pytest.raises(InvalidRequestError) as caught:
        client.send_sms("0800 000", "Hi")
    assert caught.value.maybe_sent is False
    assert not texin_emulator.requests()


def test_one_pool_per_client(client: SyncTexinClient, texin_emulator: TexinEmulator) -> None:
    """Sequential calls reuse one connection."""
    for _ in range(5):
        client.get_balance()
    assert texin_emulator.connections_opened == 1


def test_native_aiohttp_transport_works(texin_emulator_url: str, texin_api_key: str) -> None:
    """transport="aiohttp" sends on the shared loop like the default backend."""
    with SyncTexinClient(
        texin_api_key, base_url=texin_emulator_url, rate_limit=None, transport="aiohttp"
    ) as client:
        assert client.send_sms("0712345678", "Hi").success


# -- construction and lifecycle --------------------------------------------------------------


def test_constructor_refuses_what_texin_client_refuses(texin_emulator_url: str) -> None:
    """A missing key or plain http to a remote host fail at construction, as async."""
    with pytest.raises(InvalidRequestError, match="no usable API key"):
        SyncTexinClient("", base_url=texin_emulator_url)
    with pytest.raises(InvalidRequestError, match="plain http"):
        SyncTexinClient("key", base_url="http://example.com/api/")


def test_an_async_http_client_is_refused(texin_emulator_url: str) -> None:
    """http_client= cannot work on another loop: InvalidRequestError says what to pass."""
    http = httpx.AsyncClient()
    with pytest.raises(InvalidRequestError, match="transport="):
        SyncTexinClient("key", base_url=texin_emulator_url, http_client=http)


def test_closed_client_refuses_calls(texin_emulator_url: str, texin_api_key: str) -> None:
    """After with/close the client is CLOSED; calls raise, a second close is a no-op."""
    with SyncTexinClient(texin_api_key, base_url=texin_emulator_url) as client:
        states = [client.state]
    states.append(client.state)
    assert states == [ClientState.OPEN, ClientState.CLOSED]
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.get_balance()


def test_repr_shows_no_key(texin_emulator_url: str) -> None:
    """The repr names the URL and key id, never the key."""
    with SyncTexinClient("secret-key-123", base_url=texin_emulator_url) as client:
        assert "secret-key-123" not in repr(client)
        assert client.key_id in repr(client)


def test_calls_inside_an_event_loop_are_refused(client: SyncTexinClient) -> None:
    """Inside async def, a blocking call raises InvalidRequestError naming TexinClient."""

    async def misuse() -> None:
        client.send_sms("0712345678", "Hi")

    with pytest.raises(InvalidRequestError, match="use TexinClient"):
        asyncio.run(misuse())

    async def misuse_batch() -> None:
        client.iter_batch([("0712345678", "Hi")])

    with pytest.raises(InvalidRequestError, match="use TexinClient"):
        asyncio.run(misuse_batch())


# -- batches ---------------------------------------------------------------------------------


def test_send_batch_reads_input_and_calls_back_in_the_callers_thread(
    client: SyncTexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A generator is read, and on_outcome called, in the calling thread; one report."""
    threads: set[str] = set()

    def rows() -> Iterator[Message]:
        for i, number in enumerate(numbers(150)):
            threads.add(threading.current_thread().name)
            yield Message(number, "Sale on now", ref=i)

    def seen(outcome: Outcome) -> None:
        threads.add(threading.current_thread().name)

    report = client.send_batch(rows(), on_outcome=seen)
    assert (report.sent, report.requests) == (150, 2)
    assert threads == {threading.current_thread().name}
    assert len(texin_emulator.processed(texin_api_key)) == 150


def test_send_batch_reads_a_sqlite3_cursor(
    client: SyncTexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A cursor bound to the calling thread works as input: it is read in that thread."""
    db = sqlite3.connect(":memory:")  # refuses any thread but this one
    db.execute("CREATE TABLE contacts (phone TEXT, text TEXT)")
    db.executemany("INSERT INTO contacts VALUES (?, 'Hi')", [(n,) for n in numbers(70)])
    report = client.send_batch(db.execute("SELECT phone, text FROM contacts"))
    db.close()
    assert report.sent == 70
    assert len(texin_emulator.processed(texin_api_key)) == 70


def test_an_on_outcome_error_stops_the_batch_and_propagates(client: SyncTexinClient) -> None:
    """If on_outcome raises, the batch stops and the error reaches the caller, as async."""

    def fail(outcome: Outcome) -> None:
        raise LookupError(f"cannot record {outcome.ref}")

    with pytest.raises(LookupError, match="cannot record"):
        client.send_batch([(n, "Hi") for n in numbers(3)], on_outcome=fail)


def test_send_batch_journal_resumes(client: SyncTexinClient, tmp_path: Path) -> None:
    """A journaled batch run again reports from its journal and sends nothing."""
    items = [(n, "Hi") for n in numbers(5)]
    client.send_batch(items, journal=tmp_path / "job.sqlite")
    again = client.send_batch(items, journal=tmp_path / "job.sqlite")
    assert (again.sent, again.resumed, again.requests) == (5, 5, 0)


def test_iter_batch_is_lazy_and_yields_every_outcome(
    client: SyncTexinClient, texin_emulator: TexinEmulator
) -> None:
    """Nothing is sent before the first next(); then one outcome per item."""
    progress = BatchProgress()
    outcomes = client.iter_batch((Message(n, f"Hi {n}") for n in numbers(5)), progress=progress)
    assert not texin_emulator.requests()
    statuses = [outcome.status for outcome in outcomes]
    assert statuses == [OutcomeStatus.SENT] * 5
    assert progress.sent == 5


def test_breaking_out_of_iter_batch_stops_it(
    client: SyncTexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """After a break, no new request is sent: the batch stopped with the loop."""
    for _ in client.iter_batch(((n, f"Hi {n}") for n in numbers(500)), max_in_flight=2):
        break
    client.get_balance()  # a request on the wire at the break has landed by now
    sent = sum(texin_emulator.processed(texin_api_key).values())
    assert sent < 20
    client.get_balance()  # a round trip later, still nothing more
    assert sum(texin_emulator.processed(texin_api_key).values()) == sent


def test_closing_iter_batch_stops_it(
    client: SyncTexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """close() on the iterator stops the batch at once, as breaking out of the loop does."""
    outcomes = client.iter_batch(((n, f"Hi {n}") for n in numbers(500)), max_in_flight=2)
    next(outcomes)
    outcomes.close()
    client.get_balance()  # a request on the wire at the close has landed by now
    sent = sum(texin_emulator.processed(texin_api_key).values())
    assert sent < 20
    client.get_balance()  # a round trip later, still nothing more
    assert sum(texin_emulator.processed(texin_api_key).values()) == sent
    assert list(outcomes) == []


def test_iter_batch_raises_the_batch_error(client: SyncTexinClient, tmp_path: Path) -> None:
    """A journal made for other items is refused through the iterator, as async."""
    journal = tmp_path / "job.sqlite"
    client.send_batch([("0712345678", "Hi")], journal=journal)
    with pytest.raises(JournalMismatchError):
        list(client.iter_batch([("0712345679", "Other")], journal=journal))


def test_iter_batch_yields_outcomes_in_order_then_the_input_error(
    client: SyncTexinClient,
) -> None:
    """Outcomes come in input order, handed over in groups; then the input's own error."""

    def rows() -> Iterator[tuple[str, str]]:
        for i, number in enumerate(numbers(700)):
            if i == 650:
                raise ValueError("row 650 is unreadable")
            yield number, f"Hi {i}"

    refs: list[object] = []

    def read() -> None:
        for outcome in client.iter_batch(rows(), dry_run=True, chunk_size=50, lookahead=50):
            refs.append(outcome.ref)

    with pytest.raises(ValueError, match="row 650"):
        read()
    assert refs == list(range(len(refs)))
    assert len(refs) >= 600  # all but those held back to coalesce (50) when it failed


def test_bad_batch_options_raise_at_the_call(client: SyncTexinClient) -> None:
    """Options are checked when iter_batch is called, not at the first next()."""
    with pytest.raises(InvalidRequestError, match="chunk_size"):
        client.iter_batch([("0712345678", "Hi")], chunk_size=0)
