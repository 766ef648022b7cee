"""Outcome rules (texin_async._batch._outcome): each item's status follows from the one
verdict, ``maybe_sent``, and a re-run with the journal acts on it: what surely did not go
out is sent again, what may have gone out is not (unless asked), what went out never is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from mock_api import INSTANT, HookLimiter, client_for, error_body, html, json_answer

from texin_async import (
    APIConnectionError,
    APIError,
    BadRequestError,
    InvalidRequestError,
    JournalError,
    LimiterUnavailableError,
    Message,
    OutcomeStatus,
    OutcomeUnknownError,
    Priority,
    RateLimit,
    ServerError,
)
from texin_async._batch._journal import Journal
from texin_async._batch._outcome import NO_ID, bulk_outcomes, sent_outcome, status_for
from texin_async._batch._plan import Item
from texin_async._exceptions import Fate
from texin_async._models import BulkSMSResult, BulkStatistics, SMSResult

pytestmark = pytest.mark.anyio

NUMBERS = [f"2547000000{i:02d}" for i in range(4)]
ACCOUNT: Any = object()  # the client an item goes out with: unused by these rules


def items(numbers: list[str] = NUMBERS) -> list[Item]:
    return [Item(i, i, n, n, "hi", None, b"", ACCOUNT) for i, n in enumerate(numbers)]


# -- the rules, as pure logic -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequestError("bad number"), OutcomeStatus.INVALID),
        (BadRequestError("Invalid phone number format", status_code=400), OutcomeStatus.INVALID),
        (
            BadRequestError("Failed", status_code=400, error="The recipient is not a valid mobile"),
            OutcomeStatus.INVALID,
        ),
        (BadRequestError("Insufficient balance", status_code=400), OutcomeStatus.FAILED),
        (
            BadRequestError("Failed", status_code=400, error="SenderId is invalid"),
            OutcomeStatus.FAILED,
        ),
        (APIError("Failed to send SMS", status_code=200), OutcomeStatus.FAILED),
        (APIConnectionError("refused"), OutcomeStatus.FAILED),
        (LimiterUnavailableError("redis down"), OutcomeStatus.FAILED),
        (JournalError("disk full"), OutcomeStatus.FAILED),
        (ServerError("Failed to send SMS", status_code=500), OutcomeStatus.UNKNOWN),
        (
            BadRequestError("Invalid phone number", status_code=400, fate=Fate.NO_VERDICT),
            OutcomeStatus.UNKNOWN,
        ),
        (OutcomeUnknownError("dropped"), OutcomeStatus.UNKNOWN),
        (RuntimeError("a bug"), OutcomeStatus.UNKNOWN),
    ],
)
def test_status_follows_from_the_verdict(error: Exception, status: OutcomeStatus) -> None:
    """INVALID for a bad number (ours or the API's), UNKNOWN when maybe sent, else FAILED."""
    assert status_for(error) is status


def bulk(**fields: Any) -> BulkSMSResult:
    return BulkSMSResult(success=True, **fields)


def test_bulk_outcomes_read_each_list_of_the_answer() -> None:
    """Ids are SENT, invalid_numbers INVALID, failed_recipients FAILED, a blank id noted."""
    answer = bulk(
        message_ids={NUMBERS[0]: "API-1", NUMBERS[1]: "null"},
        invalid_numbers=["0700000002"],
        failed_recipients={NUMBERS[3]: "gateway"},
    )
    outcomes = bulk_outcomes(items(), answer, estimate=1)
    assert [o.status for o in outcomes] == [
        OutcomeStatus.SENT,
        OutcomeStatus.SENT,
        OutcomeStatus.INVALID,
        OutcomeStatus.FAILED,
    ]
    assert [o.message_id for o in outcomes[:2]] == ["API-1", None]
    assert outcomes[1].error == NO_ID


@pytest.mark.parametrize(
    ("statistics", "status"),
    [
        (BulkStatistics(successful=4, failed=0), OutcomeStatus.SENT),
        (BulkStatistics(successful=3, failed=1), OutcomeStatus.UNKNOWN),
        (None, OutcomeStatus.UNKNOWN),
        (BulkStatistics(), OutcomeStatus.UNKNOWN),
    ],
)
def test_numbers_the_answer_does_not_mention_are_sent_only_if_its_counts_say_so(
    statistics: BulkStatistics | None, status: OutcomeStatus
) -> None:
    """No ids at all, but "4 successful" for 4 numbers: SENT without ids, never resent."""
    outcomes = bulk_outcomes(items(), bulk(statistics=statistics), estimate=1)
    assert {o.status for o in outcomes} == {status}
    if status is OutcomeStatus.SENT:
        assert {o.error for o in outcomes} == {NO_ID}


def test_a_confirmed_send_without_an_id_is_sent_with_a_note() -> None:
    """SENT, no id, the note, and the SDK's unit estimate when the server gave none."""
    outcome = sent_outcome(items()[0], SMSResult(success=True), estimate=2)
    assert (outcome.status, outcome.message_id, outcome.units) == (OutcomeStatus.SENT, None, 2)
    assert outcome.error == NO_ID


# -- the same rules through a batch, and what a re-run does with them --------------------------


class Api:
    """A scripted send endpoint: ``mode`` says how the next requests are answered."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = msgspec.json.decode(request.content)
        numbers = body.get("recipients") or [body["recipient"]]
        if self.mode == "refused":
            raise httpx.ConnectError("refused")
        if self.mode == "refuse-number":
            return json_answer(400, error_body("Invalid phone number format", "Use 2547..."))
        self.sent += numbers
        if self.mode == "5xx":
            return json_answer(500, error_body("Failed to send SMS", "gateway"))
        if self.mode == "no-ids":
            return json_answer(200, {"success": True, "failed_recipients": []})
        if "recipients" in body:
            ids = {n: f"API-{n}" for n in numbers}
            return json_answer(200, {"success": True, "message_ids": ids, "failed_recipients": []})
        return json_answer(200, {"success": "1", "message_id": f"API-{numbers[0]}"})


def messages(count: int = 4, text: str = "Hello") -> list[Message]:
    return [Message(f"07000000{i:02d}", text) for i in range(count)]


async def run(api: Api, journal: Path, batch: list[Message], **options: Any) -> list[Any]:
    async with client_for(api, rate_limit=RateLimit(max_rate=1000, time_period=1.0)) as client:
        outcomes = [o async for o in client.iter_batch(batch, journal=journal, **options)]
    return sorted(outcomes, key=lambda o: o.index)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "job.sqlite"


async def test_a_bulk_success_in_php_dialect_is_sent(journal: Path) -> None:
    """ "failed_recipients": [] and "success": "1": every item SENT, none UNKNOWN."""
    outcomes = await run(Api("ok"), journal, messages())
    assert {o.status for o in outcomes} == {OutcomeStatus.SENT}


async def test_a_number_the_api_refuses_is_invalid_alone_as_in_a_bulk(journal: Path) -> None:
    """One rule: the API refusing a number is INVALID, sent alone or in a bulk."""
    outcomes = await run(Api("refuse-number"), journal, [Message("0711111111", "Just one")])
    assert outcomes[0].status is OutcomeStatus.INVALID


async def test_a_lone_surrogate_is_invalid_and_never_sent(journal: Path) -> None:
    """A text or sender id UTF-8 cannot encode is INVALID, journaled, its batch sent."""
    api = Api("ok")
    batch = [
        Message("0711111111", "bad \udc80"),
        Message("0722222222", "fine", sender_id="\ud800"),
        Message("0733333333", "fine"),
    ]
    outcomes = await run(api, journal, batch)
    assert [o.status for o in outcomes] == [OutcomeStatus.INVALID] * 2 + [OutcomeStatus.SENT]
    assert all("lone surrogate" in (o.error or "") for o in outcomes[:2])
    assert api.sent == ["254733333333"]
    again = await run(api, journal, batch, retry_failed=True, resend_unknown=True)
    assert [o.status for o in again] == [o.status for o in outcomes]
    assert api.sent == ["254733333333"]


async def test_a_5xx_is_unknown_and_resent_only_when_asked(journal: Path) -> None:
    """A 500 may follow the send: UNKNOWN; retry_failed leaves it, resend_unknown sends it."""
    api = Api("5xx")
    first = await run(api, journal, messages())
    assert {o.status for o in first} == {OutcomeStatus.UNKNOWN}
    assert len(api.sent) == 4
    api.mode = "ok"
    again = await run(api, journal, messages(), retry_failed=True)
    assert {o.status for o in again} == {OutcomeStatus.UNKNOWN}
    assert len(api.sent) == 4
    resent = await run(api, journal, messages(), resend_unknown=True)
    assert {o.status for o in resent} == {OutcomeStatus.SENT}


async def test_what_never_reached_the_api_is_failed_and_sent_by_any_rerun(journal: Path) -> None:
    """Connection refused: FAILED (not sent); a plain re-run sends it, no flag needed."""
    api = Api("refused")
    first = await run(api, journal, messages())
    assert {o.status for o in first} == {OutcomeStatus.FAILED}
    api.mode = "ok"
    again = await run(api, journal, messages())
    assert {o.status for o in again} == {OutcomeStatus.SENT}
    assert sorted(api.sent) == sorted(m.recipient.replace("07", "2547", 1) for m in messages())


async def test_a_journal_write_failing_at_departure_loses_nothing(
    journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No request leaves when the in-flight write fails; the items are not UNKNOWN, and a
    re-run with a working journal sends them."""
    api = Api("ok")

    async def failing(self: Journal, rows: Any, key_id: str) -> None:
        raise JournalError("journal job.sqlite: disk I/O error")

    monkeypatch.setattr(Journal, "depart", failing)
    first = await run(api, journal, messages())
    assert api.sent == []
    assert OutcomeStatus.UNKNOWN not in {o.status for o in first}
    monkeypatch.undo()
    again = await run(api, journal, messages())
    assert {o.status for o in again} == {OutcomeStatus.SENT}
    assert len(api.sent) == 4


class BrokenLimiter(HookLimiter):
    async def acquire(self, key_id: str, priority: Priority) -> None:
        raise RuntimeError("limiter bug")


async def test_a_limiter_that_raises_fails_items_that_a_rerun_sends(journal: Path) -> None:
    """Nothing left: FAILED, recorded NOT_SENT, sent by the next run."""
    api = Api("ok")
    async with client_for(api, limiter=BrokenLimiter(), retry=INSTANT) as client:
        first = [o async for o in client.iter_batch(messages(), journal=journal)]
    assert {o.status for o in first} == {OutcomeStatus.FAILED}
    again = await run(api, journal, messages())
    assert {o.status for o in again} == {OutcomeStatus.SENT}


async def test_a_send_confirmed_without_ids_is_never_resent(journal: Path) -> None:
    """SENT without an id, noted; even resend_unknown does not send it again."""
    api = Api("no-ids")
    first = await run(api, journal, messages(1) + messages(1, "Other"))
    assert {(o.status, o.error) for o in first} == {(OutcomeStatus.SENT, NO_ID)}
    await run(api, journal, messages(1) + messages(1, "Other"), resend_unknown=True)
    assert len(api.sent) == 2


@pytest.mark.parametrize(
    "answer", [json_answer(503, {"error": "busy"}), html(502), json_answer(200, {"ok": 1})]
)
async def test_the_batch_and_send_sms_agree_on_an_answer_without_verdict(
    answer: httpx.Response, journal: Path
) -> None:
    """A JSON 503 without success: send_sms says maybe_sent, the batch says UNKNOWN."""

    def handler(request: httpx.Request) -> httpx.Response:
        return answer

    async with client_for(handler) as client:
        with pytest.raises(Exception) as caught:
            await client.send_sms("0712345678", "hi")
        outcomes = [o async for o in client.iter_batch(messages(1))]
    assert getattr(caught.value, "maybe_sent", None) is True
    assert outcomes[0].status is OutcomeStatus.UNKNOWN
