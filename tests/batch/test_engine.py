"""send_batch / iter_batch over real sockets against the emulator: coalescing, every outcome
path, duplicates, a fault soak, cancellation, dry runs, balance checks and progress."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from batch_job import check_outcomes
from support import EMULATOR_LIMIT, FAST, LIMIT, free_port

import texin_async._batch._run
from texin_async import (
    BatchProgress,
    InsufficientBalanceError,
    InvalidRequestError,
    Message,
    Outcome,
    OutcomeStatus,
    RetryPolicy,
    TexinClient,
)
from texin_async.testing import Account, Fault, TexinEmulator, serve_in_thread

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("asyncio", "trio")]

FAILING = "254700000999"


def tasks() -> set[int]:
    """The tasks the running event loop has (on asyncio or trio)."""
    return {task.id for task in anyio.get_running_tasks()}


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"07{i:08d}" for i in range(start, start + count)]


def sends(emulator: TexinEmulator, key: str) -> Counter[str]:
    """Answered send requests by endpoint."""
    return Counter(
        {ep: n for (ep, status), n in emulator.requests(key).items() if ep.startswith("send")}
    )


@pytest.fixture
def emulator(texin_emulator: TexinEmulator, dialect: str) -> TexinEmulator:
    texin_emulator.set_rate_limit(EMULATOR_LIMIT)
    return texin_emulator


@pytest.fixture
def client_options(emulator: TexinEmulator) -> dict[str, Any]:
    """The ``client`` fixture's batches are paced by LIMIT, on both dialects."""
    return {"rate_limit": LIMIT}


@pytest.fixture(scope="module")
def _gateway() -> Iterator[tuple[TexinEmulator, str]]:
    emulator = TexinEmulator(rate_limit=EMULATOR_LIMIT, failing_numbers=[FAILING], seed=7)
    with serve_in_thread(emulator) as url:
        yield emulator, url


@pytest.fixture
def gateway(_gateway: tuple[TexinEmulator, str]) -> tuple[TexinEmulator, str]:
    """An emulator whose SMS gateway fails to deliver to FAILING."""
    _gateway[0].reset()
    return _gateway


async def collect(client: TexinClient, items: object, **options: object) -> list[Outcome]:
    return [o async for o in client.iter_batch(items, **options)]  # type: ignore[arg-type]


# -- coalescing ------------------------------------------------------------------------------


async def test_same_text_goes_out_in_fewest_bulk_requests(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """250 recipients of one text with chunk_size=100 take exactly 3 bulk requests."""
    report = await client.send_batch([(n, "Sale today") for n in numbers(250)], chunk_size=100)
    assert report.requests == 3
    assert sends(emulator, texin_api_key) == {"send_bulk_sms": 3}
    assert report.sent == report.total == 250
    assert report.units == 250
    assert report.cost == Decimal("75.00")


async def test_mixed_texts_are_grouped_per_text_and_sender(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """Interleaved texts and sender ids each fill their own chunks; a lone item is send_sms."""
    emulator.add_account(Account(api_key=texin_api_key, sender_ids=frozenset({"Texin", "Promo"})))
    items = [
        Message(n, "A" if i % 3 else "B", sender_id="Promo" if i % 2 else None)
        for i, n in enumerate(numbers(120))
    ]
    items.append(Message(numbers(1, 500)[0], "C"))
    report = await client.send_batch(items, chunk_size=50)
    # (A, Texin) 40, (A, Promo) 40, (B, Texin) 20, (B, Promo) 20, (C, Texin) 1
    assert sends(emulator, texin_api_key) == {"send_bulk_sms": 4, "send_sms": 1}
    assert report.requests == 5
    assert report.sent == 121
    senders = Counter((m.text, m.sender_id) for m in emulator.messages.values())
    assert senders[("A", "Promo")] == 40
    assert senders[("B", "Texin")] == 20


async def test_distinct_texts_go_out_as_send_sms(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """Personalised texts cannot share a request: each goes out with send_sms."""
    report = await client.send_batch([(n, f"Hi {n}") for n in numbers(12)])
    assert sends(emulator, texin_api_key) == {"send_sms": 12}
    assert report.sent == 12
    assert report.requests == 12


async def test_coalescing_is_bounded_by_the_lookahead(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """Alternating texts fill chunks with a wide window, part-chunks with a narrow one."""
    items = [(n, "AB"[i % 2]) for i, n in enumerate(numbers(40))]
    assert (await client.send_batch(items, chunk_size=10)).requests == 4
    narrow = await client.send_batch(items, chunk_size=10, lookahead=10)
    assert 4 < narrow.requests <= 8


async def test_duplicates_are_each_sent_in_separate_requests(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """Every spelling of one number is its own item: never twice in one bulk request."""
    same = ["0712345678", "254712345678", "+254 712 345 678"]
    items = [(n, "Reminder") for n in [*same, *numbers(3)]]
    outcomes = await collect(client, items)
    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 6
    assert len({o.message_id for o in outcomes}) == 6
    assert emulator.processed(texin_api_key)["254712345678"] == 3
    # one bulk of four distinct numbers, then the two repeats: max(ceil(6/100), 3) requests
    assert sends(emulator, texin_api_key) == {"send_bulk_sms": 1, "send_sms": 2}


async def test_bulk_units_are_the_servers_count(client: TexinClient) -> None:
    """Each SENT item of a bulk gets units_used / successful, not the SDK's own estimate."""
    text = "Sale today " + "x" * 88 + "\N{GRINNING FACE}"  # UCS-2: 2 units; by length: 1
    outcomes = await collect(client, [(n, text) for n in numbers(5)])
    assert [(o.status, o.units) for o in outcomes] == [(OutcomeStatus.SENT, 1)] * 5


async def test_iter_batch_yields_one_outcome_per_item_with_its_ref(client: TexinClient) -> None:
    """Refs come back as given, defaulting to the item's index; recipients as written."""
    items: list[Message | tuple[str, str]] = [
        Message("0712 345 678", "x", ref="row-a"),
        ("0712000001", "x"),
        Message("0712000002", "y", ref={"id": 7}),
    ]
    outcomes = sorted(await collect(client, items), key=lambda o: o.index)
    assert [o.ref for o in outcomes] == ["row-a", 1, {"id": 7}]
    assert outcomes[0].recipient == "0712 345 678"
    assert outcomes[0].normalized == "254712345678"


async def test_async_iterable_input_is_accepted(client: TexinClient) -> None:
    """Items may come from an async generator (a database cursor, a queue)."""

    async def rows() -> AsyncIterator[tuple[str, str]]:
        for number in numbers(30):
            yield number, "async"

    report = await client.send_batch(rows(), chunk_size=10)
    assert report.sent == 30
    assert report.requests == 3


async def test_a_slow_async_input_is_sent_as_it_comes(client: TexinClient) -> None:
    """An idle input does not hold back what has arrived until the look-ahead window fills."""
    yielded: list[float] = []
    settled: list[float] = []

    async def rows() -> AsyncIterator[tuple[str, str]]:
        for i, number in enumerate(numbers(3)):
            if i:
                await anyio.sleep(0.3)
            yielded.append(anyio.current_time())
            yield number, "slow"

    async for _ in client.iter_batch(rows()):
        settled.append(anyio.current_time())
    assert len(settled) == 3
    assert settled[0] < yielded[1] < settled[1] < yielded[2] < settled[2]


async def test_an_error_in_an_async_input_propagates_as_itself(client: TexinClient) -> None:
    """The input is read in a task of its own, yet its exception is not wrapped in a group."""

    async def rows() -> AsyncIterator[tuple[str, str]]:
        yield numbers(1)[0], "x"
        raise LookupError("input bug")

    with pytest.raises(LookupError, match="input bug"):
        await client.send_batch(rows())


async def test_a_generator_is_read_lazily(client: TexinClient) -> None:
    """At the first answer the batch has read at most the window plus the chunks in flight."""
    read = 0
    read_at_first_outcome: list[int] = []

    def rows() -> Iterator[tuple[str, str]]:
        nonlocal read
        for number in numbers(5000):
            read += 1
            yield number, "lazy"

    def on_outcome(outcome: Outcome) -> None:
        if not read_at_first_outcome:
            read_at_first_outcome.append(read)

    await client.send_batch(
        rows(), chunk_size=100, max_in_flight=2, lookahead=200, on_outcome=on_outcome
    )
    assert read_at_first_outcome[0] <= 200 + 2 * 100 + 1


# -- every outcome ---------------------------------------------------------------------------


async def test_bad_rows_are_invalid_without_a_request(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """Bad numbers, empty texts, bad sender ids and non-items are INVALID locally."""
    items = [
        ("0800 123 456", "x"),
        ("0712000001", "   "),
        Message("0712000002", "x", sender_id=""),
        "0712000003",
        ("0712000004", "fine"),
    ]
    outcomes = sorted(await collect(client, items), key=lambda o: o.index)
    statuses = [o.status for o in outcomes]
    assert statuses == [OutcomeStatus.INVALID] * 4 + [OutcomeStatus.SENT]
    assert all(o.error for o in outcomes[:4])
    assert sends(emulator, texin_api_key) == {"send_sms": 1}


async def test_numbers_the_api_lists_invalid_are_invalid(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A 01XX number passes locally; the emulator lists it in invalid_numbers: INVALID."""
    items = [(n, "x") for n in ["0110000001", *numbers(2)]]
    outcomes = sorted(await collect(client, items), key=lambda o: o.index)
    assert [o.status for o in outcomes] == [
        OutcomeStatus.INVALID,
        OutcomeStatus.SENT,
        OutcomeStatus.SENT,
    ]
    assert emulator.processed(texin_api_key)["254110000001"] == 0


async def test_failed_recipients_are_failed(
    gateway: tuple[TexinEmulator, str], texin_api_key: str
) -> None:
    """A number in failed_recipients is FAILED, the rest of its request SENT."""
    emulator, url = gateway
    async with TexinClient(texin_api_key, base_url=url, rate_limit=LIMIT, retry=FAST) as client:
        outcomes = await collect(client, [(n, "x") for n in [FAILING, *numbers(2)]])
    by_number = {o.normalized: o for o in outcomes}
    assert by_number[FAILING].status is OutcomeStatus.FAILED
    assert "failed_recipients" in (by_number[FAILING].error or "")
    assert emulator.processed(texin_api_key)[FAILING] == 0
    check_outcomes(outcomes, emulator, texin_api_key)


async def test_an_api_refusal_fails_its_request_only(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """An unregistered sender id: its request's items are FAILED, other requests go out."""
    items = [Message(n, "x", sender_id="Nobody") for n in numbers(3)]
    items += [Message(n, "x") for n in numbers(3, 10)]
    outcomes = await collect(client, items)
    failed = [o for o in outcomes if o.status is OutcomeStatus.FAILED]
    assert [o.index for o in sorted(failed, key=lambda o: o.index)] == [0, 1, 2]
    assert all("BadRequestError" in (o.error or "") for o in failed)
    assert Counter(o.status for o in outcomes)[OutcomeStatus.SENT] == 3
    check_outcomes(outcomes, emulator, texin_api_key)


async def test_an_unreachable_api_fails_every_item(texin_api_key: str) -> None:
    """Nothing listening: APIConnectionError after retries, provably not sent: FAILED."""
    url = f"http://127.0.0.1:{free_port()}/api/"
    async with TexinClient(texin_api_key, base_url=url, rate_limit=LIMIT, retry=FAST) as client:
        report = await client.send_batch([(n, "x") for n in numbers(5)], chunk_size=2)
    assert report.failed == 5
    assert report.requests == 3


@pytest.mark.parametrize(
    ("fault", "endpoint"),
    [(Fault.DROP_AFTER, "send_bulk_sms"), (Fault.TRUNCATED_JSON, "send_sms")],
)
async def test_a_spoiled_answer_is_unknown(
    client: TexinClient,
    emulator: TexinEmulator,
    texin_api_key: str,
    fault: Fault,
    endpoint: str,
) -> None:
    """Processed, then no usable answer: UNKNOWN, never resent, processed exactly once."""
    emulator.faults.schedule(fault, endpoint=endpoint)
    items = [(n, "bulk") for n in numbers(3)] + [("0799999999", "single")]
    outcomes = await collect(client, items)
    spoiled = [o for o in outcomes if o.status is OutcomeStatus.UNKNOWN]
    assert len(spoiled) == (3 if endpoint == "send_bulk_sms" else 1)
    assert all(emulator.processed(texin_api_key)[o.normalized or ""] == 1 for o in spoiled)
    assert sum(sends(emulator, texin_api_key).values()) == 2  # the spoiled one was not retried
    check_outcomes(outcomes, emulator, texin_api_key)


async def test_a_number_missing_from_the_bulk_answer_is_unknown(texin_api_key: str) -> None:
    """If a bulk answer leaves a number out, that item is UNKNOWN (pure logic: mock transport)."""

    def handler(request: httpx.Request) -> httpx.Response:
        ids = {"254700000000": "API-1"}
        body = {"success": True, "message_ids": ids, "invalid_numbers": []}
        return httpx.Response(200, json=body)

    transport = httpx.MockTransport(handler)
    async with TexinClient(texin_api_key, transport=transport, rate_limit=None) as client:
        outcomes = await collect(client, [(n, "x") for n in numbers(2)])
    statuses = {o.normalized: o.status for o in outcomes}
    assert statuses == {"254700000000": OutcomeStatus.SENT, "254700000001": OutcomeStatus.UNKNOWN}


async def test_fault_soak_loses_nothing_and_doubles_nothing(
    gateway: tuple[TexinEmulator, str], texin_api_key: str
) -> None:
    """Every fault kind mixed over 400 items: each outcome agrees with what the emulator did."""
    emulator, url = gateway
    for fault in Fault:  # each kind at least once, then at random
        emulator.faults.schedule(fault)
    emulator.faults.set_rates(dict.fromkeys(Fault, 0.04), seed=11)
    emulator.slow_seconds = 0.4
    pool = [*numbers(280), "0110000001", FAILING, "0799 000 111"]
    items = [
        Message(pool[(i * 7) % len(pool)], f"Soak {i % 3}") if i % 37 else ("nope", "x")
        for i in range(400)
    ]
    retry = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05, max_retry_after=0.05)
    async with TexinClient(
        texin_api_key, base_url=url, rate_limit=LIMIT, retry=retry, timeout=0.25
    ) as client:
        outcomes = await collect(client, items, chunk_size=20)
    await anyio.sleep(emulator.slow_seconds + 0.2)  # a SLOW_BEFORE left by its client lands
    assert sorted(o.index for o in outcomes) == list(range(400))
    statuses = Counter(o.status for o in outcomes)
    assert statuses[OutcomeStatus.UNKNOWN]
    assert statuses[OutcomeStatus.SENT] > 150  # most, though every 5xx is now unknown
    assert {event.fault for event in emulator.fault_log} == set(Fault)
    check_outcomes(outcomes, emulator, texin_api_key)


# -- control ---------------------------------------------------------------------------------


async def test_cancelling_stops_cleanly_and_the_client_stays_usable(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str, tmp_path: Path
) -> None:
    """Cancelled mid-batch: no task left behind, journal consistent, client still sends."""
    emulator.faults.set_rates({Fault.SLOW_AFTER: 1.0})
    emulator.slow_seconds = 0.5
    journal = f"{tmp_path}/job.sqlite"
    items = [(n, "slow") for n in numbers(100)]
    before = tasks()
    with anyio.move_on_after(0.2):
        await client.send_batch(items, chunk_size=10, max_in_flight=3, journal=journal)
    assert tasks() == before
    with contextlib.closing(sqlite3.connect(journal)) as db:
        assert db.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall() == [
            (0, 30)  # the three chunks in flight, recorded before they left, nothing else
        ]
    emulator.faults.clear()
    outcomes = await collect(client, items, chunk_size=10, journal=journal)
    unknown = [o for o in outcomes if o.status is OutcomeStatus.UNKNOWN]
    assert len(unknown) == 30
    assert len(outcomes) == 100
    check_outcomes(outcomes, emulator, texin_api_key)
    assert (await client.send_sms("0712345678", "still here")).message_id


async def test_closing_iter_batch_early_cancels_its_requests(client: TexinClient) -> None:
    """Leaving the loop inside aclosing() leaves no task behind."""
    items = [(n, f"t{i % 5}") for i, n in enumerate(numbers(300))]
    before = tasks()
    async with contextlib.aclosing(client.iter_batch(items, chunk_size=5)) as outcomes:
        async for _ in outcomes:
            break
    assert tasks() == before


# Off asyncio iter_batch must be closed (aclosing) to stop early, as it documents.
@pytest.mark.event_loops("asyncio")
async def test_breaking_out_without_closing_leaves_nothing_behind(
    client: TexinClient, tmp_path: Path
) -> None:
    """A plain break: the loop body is never cancelled, the batch winds down on its own."""
    journal = tmp_path / "job.sqlite"
    items = [(n, f"t{i % 5}") for i, n in enumerate(numbers(300))]
    before = asyncio.all_tasks()
    async for _ in client.iter_batch(items, chunk_size=5, journal=journal):
        break
    with anyio.fail_after(5):  # the batch's task, and the finaliser closing the generator
        while left := asyncio.all_tasks() - before:
            await asyncio.wait(left)
    assert (await client.send_sms("0712345678", "not cancelled")).message_id
    assert (await client.send_batch(items, journal=journal)).total == 300  # lock released


async def test_closing_early_on_the_task_group_path(
    client: TexinClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off asyncio a task group holds the batch: closing early and running through both work."""
    monkeypatch.setattr(texin_async._batch._run, "_on_asyncio", lambda: False)
    items = [(n, f"t{i % 5}") for i, n in enumerate(numbers(50))]
    before = tasks()
    async with contextlib.aclosing(client.iter_batch(items, chunk_size=5)) as outcomes:
        async for _ in outcomes:
            break
    assert tasks() == before
    assert len(await collect(client, items)) == 50


async def test_dry_run_makes_no_request(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A dry run plans requests, units and cost and sends nothing at all."""
    items = [(n, "x" * 200) for n in numbers(250)] + [("bad", "x"), ("0712345678", "y")]
    outcomes: list[Outcome] = []
    report = await client.send_batch(items, dry_run=True, on_outcome=outcomes.append)
    assert emulator.requests() == Counter()
    assert report.dry_run
    assert report.planned == 251
    assert report.invalid == 1
    assert report.requests == 4  # 100 + 100 + 50 of one text, then one send_sms
    assert report.units == 501
    assert report.cost == Decimal("150.30")
    assert {o.status for o in outcomes} == {OutcomeStatus.PLANNED, OutcomeStatus.INVALID}


async def test_balance_check_refuses_before_sending(
    client: TexinClient, emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A list is checked whole, a generator for its first window: nothing is sent."""
    emulator.account(texin_api_key).balance = 99
    items = [(n, "x") for n in numbers(100)]
    with pytest.raises(InsufficientBalanceError, match="100 SMS units") as caught:
        await client.send_batch(items, check_balance=True)
    assert caught.value.needed_units == 100
    assert caught.value.balance == 99
    with pytest.raises(InsufficientBalanceError):
        await client.send_batch(iter(items), check_balance=True)
    assert sends(emulator, texin_api_key) == Counter()


async def test_balance_check_lets_a_covered_batch_through(client: TexinClient) -> None:
    """When the balance covers the batch, it runs."""
    report = await client.send_batch([(n, "x") for n in numbers(20)], check_balance=True)
    assert report.sent == 20


async def test_on_outcome_and_progress_count_every_item(client: TexinClient) -> None:
    """The callback (sync or async) sees each outcome once; progress adds up to the report."""
    seen: list[int] = []

    async def on_outcome(outcome: Outcome) -> None:
        seen.append(outcome.index)

    progress = BatchProgress()
    items = [(n, "x") for n in numbers(30)] + [("bad", "x")]
    report = await client.send_batch(items, chunk_size=7, on_outcome=on_outcome, progress=progress)
    assert sorted(seen) == list(range(31))
    assert (progress.total, progress.done, progress.sent, progress.invalid) == (31, 31, 30, 1)
    assert progress.requests == report.requests == 5
    assert progress.in_flight == 0
    assert progress.report() == report
    assert progress.eta == 0.0
    assert progress.rate > 0
    assert report.elapsed > 0


async def test_progress_total_is_unknown_for_a_generator(client: TexinClient) -> None:
    """Without len() (or expected_items), total and eta are None until the batch ends."""
    progress = BatchProgress()
    etas: list[float | None] = []
    await client.send_batch(
        ((n, "x") for n in numbers(3)),
        progress=progress,
        on_outcome=lambda _: etas.append(progress.eta),
    )
    assert progress.total is None
    assert etas == [None] * 3
    assert progress.eta == 0.0
    assert progress.done == 3


async def test_an_error_in_on_outcome_stops_the_batch(client: TexinClient) -> None:
    """The callback's exception propagates as itself, not wrapped in a group."""

    def on_outcome(outcome: Outcome) -> None:
        raise LookupError("callback bug")

    with pytest.raises(LookupError, match="callback bug"):
        await client.send_batch([(n, "x") for n in numbers(3)], on_outcome=on_outcome)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"chunk_size": 100, "lookahead": 50}, "lookahead"),
        ({"dry_run": True, "check_balance": True}, "cannot check the balance"),
    ],
)
async def test_bad_options_are_refused_with_the_fix(
    client: TexinClient, options: dict[str, object], match: str
) -> None:
    """Options are checked before anything runs, and the message says what to change."""
    with pytest.raises(ValueError, match=match):
        await client.send_batch([], **options)  # type: ignore[arg-type]


async def test_outcomes_are_frozen() -> None:
    """Message, Outcome and BatchReport are immutable values."""
    message = Message("0712345678", "x")
    with pytest.raises(AttributeError):
        message.text = "y"  # type: ignore[misc]


async def test_a_single_string_is_refused_as_items(client: TexinClient) -> None:
    """A lone number, pair or Message where a batch belongs is refused, pointing to send_sms."""
    with pytest.raises(InvalidRequestError, match="use send_sms"):
        await client.send_batch("0712345678")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="not a single tuple"):
        await client.send_batch(("0712345678", "x"))  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="not a single Message"):
        await client.send_batch(Message("0712345678", "x"))  # type: ignore[arg-type]
