"""The batch journal: resuming from it, items in flight at a crash, mismatches and locking."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from batch_job import check_outcomes
from support import EMULATOR_LIMIT, FAST, FOUR_A_SECOND, LIMIT

from texin_async import (
    JournalError,
    JournalMismatchError,
    LocalRateLimiter,
    Message,
    Outcome,
    OutcomeStatus,
    RateLimit,
    TexinClient,
)
from texin_async._batch import _journal
from texin_async._batch._journal import ItemState, Journal, JournalRow, fingerprint
from texin_async.testing import Fault, TexinEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("asyncio", "trio")]


def items(count: int, text: str = "Hello") -> list[Message]:
    return [Message(f"07{i:08d}", text) for i in range(count)]


def contents(path: Path) -> bytes | None:
    """The file's bytes, None if there is no file."""
    return path.read_bytes() if path.exists() else None


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def states(path: Path) -> Counter[int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return Counter(state for (state,) in db.execute("SELECT state FROM items"))


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "job.sqlite"


@pytest.fixture
def client_options(texin_emulator: TexinEmulator) -> dict[str, Any]:
    """The ``client`` fixture's batches are paced by LIMIT."""
    texin_emulator.set_rate_limit(EMULATOR_LIMIT)
    return {"rate_limit": LIMIT}


async def collect(client: TexinClient, batch: object, **options: object) -> list[Outcome]:
    outcomes = [o async for o in client.iter_batch(batch, **options)]  # type: ignore[arg-type]
    return sorted(outcomes, key=lambda o: o.index)


async def crash_with_in_flight(path: Path, batch: list[Message], indexes: range) -> None:
    """Leave the journal as a run killed mid-request would: those items IN_FLIGHT."""
    opened = await Journal.open(path)
    assert opened is not None
    rows = []
    for i in indexes:
        fp = fingerprint(i, batch[i].recipient, batch[i].text, batch[i].sender_id)
        rows.append(JournalRow(i, fp, ItemState.IN_FLIGHT))
    await opened.record(rows)
    await opened.aclose()


async def test_a_rerun_reports_finished_items_without_sending(
    client: TexinClient, texin_emulator: TexinEmulator, journal: Path
) -> None:
    """Run twice with one journal: the second run sends nothing and reports the same outcomes."""
    batch = [*items(30), Message("bad", "x")]
    first = await collect(client, batch, chunk_size=10, journal=journal)
    requests = sum(texin_emulator.requests().values())
    report = await client.send_batch(batch, chunk_size=10, journal=journal)
    assert sum(texin_emulator.requests().values()) == requests
    assert report.resumed == report.total == 31
    assert report.requests == 0
    again = await collect(client, batch, journal=journal)
    assert [(o.status, o.message_id, o.units) for o in again] == [
        (o.status, o.message_id, o.units) for o in first
    ]
    assert states(journal) == {ItemState.SENT: 30, ItemState.INVALID: 1}


async def test_items_in_flight_at_a_crash_are_unknown_and_not_resent(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str, journal: Path
) -> None:
    """An IN_FLIGHT row may have gone out: reported UNKNOWN, recorded so, never sent again."""
    batch = items(20)
    await crash_with_in_flight(journal, batch, range(5))
    outcomes = await collect(client, batch, journal=journal)
    assert [o.status for o in outcomes[:5]] == [OutcomeStatus.UNKNOWN] * 5
    assert all("in flight" in (o.error or "") for o in outcomes[:5])
    assert {o.status for o in outcomes[5:]} == {OutcomeStatus.SENT}
    assert not any(texin_emulator.processed(texin_api_key)[f"2547{i:08d}"] for i in range(5))
    assert states(journal) == {ItemState.UNKNOWN: 5, ItemState.SENT: 15}


async def test_items_still_waiting_for_the_budget_are_not_unknown(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str, journal: Path
) -> None:
    """Stopped while chunks wait for the rate limit: only what left is in flight; a resume
    sends the rest, reports nothing unknown and sends nothing twice."""
    batch = [Message(f"07{i:08d}", f"text {i}") for i in range(6)]  # one send_sms each
    # A limiter of its own: the key's shared budget stays free for the resume below.
    slow = LocalRateLimiter(RateLimit(max_rate=2, time_period=60.0))
    async with TexinClient(
        texin_api_key, base_url=texin_emulator_url, limiter=slow, retry=FAST
    ) as client:
        with anyio.move_on_after(1.0):  # two leave at once, four wait a minute for budget
            await client.send_batch(batch, max_in_flight=6, journal=journal)
    assert states(journal)[ItemState.IN_FLIGHT.value] == 0
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, retry=FAST) as client:
        report = await client.send_batch(batch, max_in_flight=6, journal=journal)
    assert (report.sent, report.unknown) == (6, 0)
    assert set(texin_emulator.processed(texin_api_key).values()) == {1}


async def test_an_error_lets_requests_in_flight_finish_and_be_journaled(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str, journal: Path
) -> None:
    """on_outcome raising stops new requests, but answers already on their way are recorded:
    nothing the API processed is left IN_FLIGHT (a rerun would call it UNKNOWN)."""
    texin_emulator.slow_seconds = 0.3
    texin_emulator.faults.schedule(Fault.SLOW_AFTER, times=3, endpoint="send_bulk_sms")

    def on_outcome(outcome: Outcome) -> None:
        raise LookupError("callback bug")

    with pytest.raises(LookupError, match="callback bug"):
        await client.send_batch(
            items(40), chunk_size=5, max_in_flight=4, journal=journal, on_outcome=on_outcome
        )
    processed = set(texin_emulator.processed(texin_api_key))
    assert len(processed) == 20  # the four chunks in flight, and no more
    with contextlib.closing(sqlite3.connect(journal)) as db:
        rows = dict(db.execute("SELECT normalized, state FROM items"))
    assert rows == dict.fromkeys(processed, ItemState.SENT.value)


async def test_resend_unknown_sends_unknown_items_again(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str, journal: Path
) -> None:
    """With resend_unknown=True, UNKNOWN and IN_FLIGHT items go out again (at-least-once)."""
    batch = items(10)
    await crash_with_in_flight(journal, batch, range(3))
    await client.send_batch(batch, journal=journal)  # records them UNKNOWN
    report = await client.send_batch(batch, journal=journal, resend_unknown=True)
    assert report.sent == 10
    assert report.resumed == 7
    check_outcomes(await collect(client, batch, journal=journal), texin_emulator, texin_api_key)


async def test_retry_failed_sends_failed_items_again(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str, journal: Path
) -> None:
    """FAILED items stay failed on a rerun, unless retry_failed=True (after a top-up, say)."""
    texin_emulator.account(texin_api_key).balance = 0
    batch = items(5)
    assert (await client.send_batch(batch, journal=journal)).failed == 5
    texin_emulator.account(texin_api_key).balance = 100
    assert (await client.send_batch(batch, journal=journal)).failed == 5
    assert (await client.send_batch(batch, journal=journal, retry_failed=True)).sent == 5


async def test_a_changed_item_is_refused_before_anything_is_sent(
    client: TexinClient, texin_emulator: TexinEmulator, journal: Path
) -> None:
    """A list that differs from the journal at item 4 raises, naming item 4, sending nothing."""
    batch = items(10)
    await crash_with_in_flight(journal, batch, range(10))
    changed = [*batch[:4], Message(batch[4].recipient, "Other text"), *batch[5:]]
    with pytest.raises(JournalMismatchError, match="item 4") as caught:
        await client.send_batch(changed, journal=journal)
    assert caught.value.index == 4
    assert texin_emulator.requests() == Counter()


async def test_a_changed_generator_is_refused_too(client: TexinClient, journal: Path) -> None:
    """A one-shot input is checked as it is read: the error names the first differing item."""
    await client.send_batch(items(10), journal=journal)
    with pytest.raises(JournalMismatchError, match="item 0"):
        await client.send_batch(iter(items(10, text="Changed")), journal=journal)


async def test_a_row_that_became_malformed_is_refused(client: TexinClient, journal: Path) -> None:
    """An item replaced by something that is not an item still differs from its row."""
    await client.send_batch(items(5), journal=journal)
    changed: list[object] = [*items(5)]
    changed[2] = "0700000002"
    with pytest.raises(JournalMismatchError, match="item 2"):
        await client.send_batch(changed, journal=journal)  # type: ignore[arg-type]


async def test_a_shorter_input_is_refused(client: TexinClient, journal: Path) -> None:
    """An input that stops short of the journal's items has changed."""
    await client.send_batch(items(10), journal=journal)
    with pytest.raises(JournalMismatchError, match="only 6 items"):
        await client.send_batch(items(6), journal=journal)


async def test_an_input_that_grew_resumes_and_sends_the_rest(
    client: TexinClient, journal: Path
) -> None:
    """Items past the journal's end are new (the input was not fully read before a crash)."""
    await client.send_batch(items(10), journal=journal)
    report = await client.send_batch(items(15), journal=journal)
    assert report.resumed == 10
    assert report.sent == 15
    assert report.requests == 1


async def test_a_journal_in_use_is_refused(client: TexinClient, journal: Path) -> None:
    """Two batches on one journal would double-send: the second is refused."""
    held = await Journal.open(journal)
    assert held is not None
    try:
        with pytest.raises(JournalError, match="in use by another batch"):
            await client.send_batch(items(3), journal=journal)
    finally:
        await held.aclose()


@pytest.fixture
def tmp_csv(tmp_path: Path) -> Path:
    csv = tmp_path / "rows.csv"
    csv.write_bytes(b"name,phone\n" * 100)
    return csv


async def test_a_file_that_is_not_a_journal_is_refused(client: TexinClient, tmp_csv: Path) -> None:
    """Pointing journal= at some other file fails clearly, and leaves it alone."""
    with pytest.raises(JournalError, match="cannot be used"):
        await client.send_batch(items(3), journal=tmp_csv)
    assert contents(tmp_csv) == b"name,phone\n" * 100


async def test_writes_are_one_transaction_per_request_side(
    client: TexinClient, journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request costs two transactions (before, after), local outcomes ride along."""
    transactions = 0
    write = _journal._write

    def counting(*args: Any) -> None:
        nonlocal transactions
        transactions += 1
        write(*args)

    monkeypatch.setattr(_journal, "_write", counting)
    batch = [*items(250), Message("bad", "x"), Message("", "x")]
    report = await client.send_batch(batch, chunk_size=100, journal=journal)
    assert report.requests == 3
    assert transactions == 6
    assert states(journal) == {ItemState.SENT: 250, ItemState.INVALID: 2}


async def test_a_dry_run_reads_the_journal_and_writes_nothing(
    client: TexinClient, texin_emulator: TexinEmulator, journal: Path
) -> None:
    """A dry run over a journal plans only what a resume would send, and leaves it as it was."""
    batch = items(20)
    await crash_with_in_flight(journal, batch, range(5))
    before = contents(journal)
    report = await client.send_batch(batch, journal=journal, dry_run=True)
    assert report.planned == 15
    assert report.unknown == 5
    assert contents(journal) == before
    assert texin_emulator.requests() == Counter()


async def test_a_dry_run_without_a_journal_file_creates_none(
    client: TexinClient, journal: Path
) -> None:
    """journal= naming no file yet: a dry run plans everything and creates nothing."""
    report = await client.send_batch(items(3), journal=journal, dry_run=True)
    assert report.planned == 3
    assert contents(journal) is None


async def test_a_5xx_after_processing_is_sent_once_and_never_again_unasked(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str, journal: Path
) -> None:
    """A server that sends, then answers a JSON 500: each item processed once, UNKNOWN;
    a re-run with retry_failed sends nothing more (it did, 5 times, before issue 9)."""
    texin_emulator.faults.set_rates({Fault.SERVER_ERROR_AFTER: 1.0})
    batch = [*items(3, "Same"), Message("0711111111", "Alone")]
    first = await collect(client, batch, journal=journal)
    assert {o.status for o in first} == {OutcomeStatus.UNKNOWN}
    assert set(texin_emulator.processed(texin_api_key).values()) == {1}
    again = await collect(client, batch, journal=journal, retry_failed=True)
    assert {o.status for o in again} == {OutcomeStatus.UNKNOWN}
    assert set(texin_emulator.processed(texin_api_key).values()) == {1}
    assert sum(texin_emulator.processed(texin_api_key).values()) == 4


# -- moving a journal: one self-contained file whenever no batch holds it ----------------------

# Commits SENT rows for the first items of items(20), then dies without closing anything,
# as a kill -9 would: the rows are committed, but only in the -wal file beside the journal.
_CRASH = """
import os, sys, anyio
from texin_async._batch._journal import ItemState, Journal, JournalRow, fingerprint

async def main(path, count):
    journal = await Journal.open(path)
    rows = [
        JournalRow(i, fingerprint(i, f"07{i:08d}", "Hello", None), ItemState.SENT,
                   f"2547{i:08d}", f"API-{i}", 1)
        for i in range(count)
    ]
    await journal.record(rows)
    os._exit(0)

anyio.run(main, sys.argv[1], int(sys.argv[2]))
"""


def crash_after_sending(path: Path, count: int) -> None:
    """A process records ``count`` items SENT, then dies holding the journal."""
    subprocess.run([sys.executable, "-c", _CRASH, str(path), str(count)], check=True, timeout=30)


def rows_in(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM items").fetchone()[0])


async def test_after_a_crash_the_journal_is_made_whole_before_it_is_moved(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str, tmp_path: Path
) -> None:
    """Rows a crash left in the -wal are folded in when the journal is next opened and
    closed: a copy of the named file alone then resumes elsewhere, resending nothing."""
    journal = tmp_path / "here" / "job.sqlite"
    journal.parent.mkdir()
    crash_after_sending(journal, 12)
    wal = Path(f"{journal}-wal")
    assert contents(wal)
    careless = tmp_path / "careless.sqlite"  # the hazard: the named file alone, straight away
    shutil.copy(journal, careless)
    assert rows_in(careless) < 12
    opened = await Journal.open(journal, writable=False)  # a dry run opens it so, for one
    assert opened is not None
    await opened.aclose()
    assert contents(wal) is None
    moved = tmp_path / "elsewhere.sqlite"
    shutil.copy(journal, moved)  # the named file only
    report = await client.send_batch(items(20), journal=moved)
    assert (report.resumed, report.sent) == (12, 20)
    assert set(texin_emulator.processed(texin_api_key)) == {f"2547{i:08d}" for i in range(12, 20)}


async def test_a_closed_journal_is_one_file(client: TexinClient, journal: Path) -> None:
    """After a run, and while none holds it, the journal has no -wal or -shm beside it."""
    await client.send_batch(items(5), journal=journal)
    assert sorted(p.name for p in journal.parent.iterdir()) == [journal.name]
    assert rows_in(journal) == 5


async def test_an_empty_file_is_refused_and_its_wal_kept(
    client: TexinClient, texin_emulator: TexinEmulator, journal: Path
) -> None:
    """A zero-byte file is not a new journal: refused, naming the -wal that may hold its
    rows, which is left as it was (SQLite would have deleted it); nothing is sent."""
    wal = Path(f"{journal}-wal")
    write(journal, b"")
    write(wal, b"rows of an earlier run")
    for dry_run in (True, False):
        with pytest.raises(JournalError, match=r"empty file.*job\.sqlite-wal beside it"):
            await client.send_batch(items(3), journal=journal, dry_run=dry_run)
    assert (contents(journal), contents(wal)) == (b"", b"rows of an earlier run")
    assert texin_emulator.requests() == Counter()


async def test_another_sqlite_database_is_refused_untouched(
    client: TexinClient, tmp_path: Path
) -> None:
    """An SQLite file of some other program is refused before anything is written to it."""
    other = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.commit()
    before = contents(other)
    with pytest.raises(JournalError, match="not a batch journal"):
        await client.send_batch(items(3), journal=other)
    assert contents(other) == before


# Seconds of real time: on trio, the limiter's rules run in test_ratelimit.py.
@pytest.mark.event_loops("asyncio")
async def test_a_run_restarted_at_once_counts_the_requests_of_the_last(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str, journal: Path
) -> None:
    """Ctrl-C, then the same batch again in a new process: the journal says when the last
    run's requests left, so the new one waits for the budget instead of meeting 429s."""
    texin_emulator.set_rate_limit("4/1")
    limit = FOUR_A_SECOND
    batch = [Message(f"07{i:08d}", f"Hi {i}") for i in range(8)]
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit=limit) as c:
        await c.send_batch(batch[:4], journal=journal)
    LocalRateLimiter.shared(limit)._lanes.clear()  # a new process knows nothing of it
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit=limit) as c:
        report = await c.send_batch(batch, journal=journal)
    assert (report.sent, report.resumed) == (8, 4)
    assert texin_emulator.rate_limited(texin_api_key) == 0
