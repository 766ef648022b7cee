"""Reading answers (texin_async._response, _lenient, _models): the documented shape on the
fast path, every plausible PHP variant of it leniently, and one verdict for the rest."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import msgspec
import pytest
from mock_api import SENT, Recorder, client_for, error_body, html, json_answer

from texin_async import (
    APIError,
    BadRequestError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TexinClient,
    TexinError,
)
from texin_async._models import (
    ApiInfo,
    Balance,
    BulkSMSResult,
    ConnectionTest,
    MessageStatus,
    Result,
    SMSResult,
    decoder_for,
)
from texin_async._response import parse_retry_after

pytestmark = pytest.mark.anyio

_ONCE = RetryPolicy(attempts=1)

# The documentation's own examples, field for field.
BULK: dict[str, Any] = {
    "success": True,
    "message": "Bulk SMS sent: 3 successful, 0 failed",
    "statistics": {"total_attempted": 3, "successful": 3, "failed": 0, "invalid_numbers": 0},
    "sender_id": "Texin",
    "units_used": 3,
    "total_cost": 0.9,
    "new_balance": 86,
    "message_ids": {
        "254759924977": "API-1768206118",
        "254725095094": "API-1768206119",
        "254700000001": "API-1768206120",
    },
    "invalid_numbers": [],
    "failed_recipients": {},
    "simulation_mode": False,
}
STATUS: dict[str, Any] = {
    "success": True,
    "message_id": "API-1768206116",
    "recipient": "254759924977",
    "sender_id": "Texin",
    "status": "sent",
    "units_used": 1,
    "cost": "0.30",
    "created_at": "2026-01-12 11:21:56",
    "sent_at": "2026-01-12 11:21:56",
    "delivered_at": None,
    "error_message": None,
    "gateway_response": {
        "status": "success",
        "mobile": "254759924977",
        "invalidMobile": "",
        "transactionId": "386817568305333146",
        "statusCode": "200",
        "reason": "success",
        "msgId": "",
        "requestTime": "2026-01-12 11:21:56",
    },
    "message_preview": "Test SMS at 11:21:55",
}
BALANCE: dict[str, Any] = {
    "success": True,
    "user_id": 12,
    "username": "testuser",
    "email": "test@example.com",
    "sms_balance": 86,
    "default_sender_id": "Texin",
    "sms_cost_per_unit": "0.30",
    "timestamp": "2026-01-12 11:21:55",
}
INFO: dict[str, Any] = {
    "success": True,
    "name": "RAYPROTECH System SMS API",
    "version": "2.0.1",
    "endpoints": {"send_sms": "POST /api/send_sms"},
}
CONNECTION: dict[str, Any] = {
    "success": True,
    "message": "API connection successful",
    "timestamp": "2026-01-12 11:21:55",
}
DOCUMENTED: dict[str, tuple[dict[str, Any], type[Result]]] = {
    "send_sms": (SENT, SMSResult),
    "send_bulk_sms": (BULK, BulkSMSResult),
    "check_status": (STATUS, MessageStatus),
    "get_balance": (BALANCE, Balance),
    "api_info": (INFO, ApiInfo),
    "test_connection": (CONNECTION, ConnectionTest),
}
Call = Callable[[TexinClient], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "send_sms": lambda c: c.send_sms("0759924977", "hi"),
    "send_bulk_sms": lambda c: c.send_bulk_sms(["0759924977", "0725095094", "0700000001"], "hi"),
    "check_status": lambda c: c.check_status("API-1768206116"),
    "get_balance": lambda c: c.get_balance(),
    "api_info": lambda c: c.api_info(),
    "test_connection": lambda c: c.test_connection(),
}


def variant(endpoint: str, **changes: Any) -> dict[str, Any]:
    """The documented answer of ``endpoint`` with ``changes`` (a path as a__b for nesting)."""
    body = copy.deepcopy(DOCUMENTED[endpoint][0])
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = body
        for parent in parents:
            target = target[parent]
        if value is _DROP:
            del target[leaf]
        else:
            target[leaf] = value
    return body


_DROP = object()
# (endpoint, the variant's changes, attribute path on the result, expected value)
VARIANTS: list[tuple[str, dict[str, Any], str, Any]] = [
    ("send_sms", {"success": 1}, "message_id", "API-1"),
    ("send_sms", {"success": "true"}, "message_id", "API-1"),
    ("send_sms", {"success": "1"}, "message_id", "API-1"),
    ("send_sms", {"units_used": "1"}, "units_used", 1),
    ("send_sms", {"units_used": 1.0}, "units_used", 1),
    ("send_sms", {"message_length": "37"}, "message_length", 37),
    ("send_sms", {"simulation_mode": 0}, "simulation_mode", False),
    ("send_sms", {"simulation_mode": "false"}, "simulation_mode", False),
    ("send_sms", {"simulation_mode": 1}, "simulation_mode", True),
    ("send_sms", {"message_id": 1768205981}, "message_id", "1768205981"),
    ("send_sms", {"details": []}, "details", None),
    ("send_sms", {"details": ""}, "details", None),
    (
        "send_sms",
        {"details": msgspec.json.encode(SENT["details"]).decode()},
        "details.to",
        "254712345678",
    ),
    ("send_sms", {"details__Units used": "1"}, "details.units_used", 1),
    ("send_sms", {"cost": "0.30"}, "cost", Decimal("0.30")),
    ("send_sms", {"cost": "KES 0.30"}, "cost", None),
    ("send_sms", {"cost": "NaN"}, "cost", None),
    ("send_sms", {"new_balance": "92"}, "new_balance", Decimal(92)),
    ("send_sms", {"new_balance": None}, "new_balance", None),
    ("send_sms", {"recipient": 254712345678}, "recipient", "254712345678"),
    ("send_sms", {"sender_id": None}, "sender_id", None),
    ("send_sms", {"extra": {"nested": [1, 2]}}, "message_id", "API-1"),
    ("send_sms", {"message_id": _DROP}, "message_id", None),
    ("send_sms", {"message_id": ""}, "message_id", None),
    ("send_sms", {"message_id": " "}, "message_id", None),
    ("send_sms", {"message_id": "null"}, "message_id", None),
    ("send_sms", {"units_used": "one"}, "units_used", None),
    ("send_bulk_sms", {"failed_recipients": []}, "failed_recipients", {}),
    ("send_bulk_sms", {"invalid_numbers": {}}, "invalid_numbers", []),
    ("send_bulk_sms", {"message_ids": []}, "message_ids", {}),
    ("send_bulk_sms", {"statistics__successful": "3"}, "statistics.successful", 3),
    ("send_bulk_sms", {"statistics": []}, "statistics", None),
    ("send_bulk_sms", {"units_used": "3"}, "units_used", 3),
    ("send_bulk_sms", {"total_cost": "0.9"}, "total_cost", Decimal("0.9")),
    ("send_bulk_sms", {"simulation_mode": "0"}, "simulation_mode", False),
    (
        "send_bulk_sms",
        {"message_ids__254759924977": 1768206118},
        "message_ids",
        {
            "254759924977": "1768206118",
            "254725095094": "API-1768206119",
            "254700000001": "API-1768206120",
        },
    ),
    (
        "send_bulk_sms",
        {"message_ids": msgspec.json.encode(BULK["message_ids"]).decode()},
        "message_ids",
        BULK["message_ids"],
    ),
    (
        "send_bulk_sms",
        {"failed_recipients": ["254700000001"]},
        "failed_recipients",
        {"254700000001": None},
    ),
    ("check_status", {"units_used": "1"}, "units_used", 1),
    ("check_status", {"cost": 0.3}, "cost", Decimal("0.3")),
    ("check_status", {"delivered_at": ""}, "delivered_at", None),
    ("check_status", {"created_at": "0000-00-00 00:00:00"}, "created_at", None),
    ("check_status", {"gateway_response": []}, "gateway_response", None),
    (
        "check_status",
        {"gateway_response__statusCode": 200},
        "gateway_response.status_code",
        "200",
    ),
    ("check_status", {"status": _DROP}, "status", None),
    ("get_balance", {"sms_balance": "86"}, "sms_balance", Decimal(86)),
    ("get_balance", {"user_id": "12"}, "user_id", 12),
    ("get_balance", {"sms_cost_per_unit": 0.3}, "sms_cost_per_unit", Decimal("0.3")),
    ("get_balance", {"sms_balance": "Infinity"}, "sms_balance", None),
    ("get_balance", {"sms_balance": "1e999999999"}, "sms_balance", None),
    ("api_info", {"version": 2.01}, "version", "2.01"),
    (
        "api_info",
        {"endpoints": [{"method": "POST", "path": "/api/send_sms"}]},
        "endpoints",
        [{"method": "POST", "path": "/api/send_sms"}],
    ),
    ("api_info", {"success": 1, "timestamp": "soon"}, "timestamp", None),
    (
        "test_connection",
        {"success": 1, "timestamp": _DROP},
        "message",
        "API connection successful",
    ),
]


def attribute(result: object, path: str) -> Any:
    for name in path.split("."):
        result = getattr(result, name)
    return result


@pytest.mark.parametrize("endpoint", DOCUMENTED)
def test_documented_examples_decode_on_the_fast_path(endpoint: str) -> None:
    """Each example from the API documentation fits its Struct strictly: one decode."""
    body, model = DOCUMENTED[endpoint]
    result = decoder_for(model).decode(msgspec.json.encode(body))
    assert result.success is True


@pytest.mark.parametrize(
    ("endpoint", "changes", "path", "expected"),
    VARIANTS,
    ids=[f"{e}-{'-'.join(c)}" for e, c, _, _ in VARIANTS],
)
async def test_plausible_variants_of_a_success_are_read_leniently(
    endpoint: str, changes: dict[str, Any], path: str, expected: Any
) -> None:
    """A success whose side fields have a PHP backend's types is still a success."""
    body = variant(endpoint, **changes)
    async with client_for(Recorder(json_answer(200, body))) as client:
        result = await CALLS[endpoint](client)
    assert result.success is True
    assert attribute(result, path) == expected


@pytest.mark.parametrize("endpoint", DOCUMENTED)
async def test_every_result_keeps_the_whole_answer_as_raw(endpoint: str) -> None:
    """``.raw`` holds the decoded JSON, on the fast path and the lenient one alike."""
    for body in (DOCUMENTED[endpoint][0], {**DOCUMENTED[endpoint][0], "success": 1}):
        answer = {**body, "surprise": {"new": "field"}}
        async with client_for(Recorder(json_answer(200, answer))) as client:
            result = await CALLS[endpoint](client)
        assert result.raw == answer


async def test_a_confirmed_send_without_an_id_is_a_success_that_says_so() -> None:
    """The API said success: never OutcomeUnknownError, but no id to look up."""
    async with client_for(Recorder(json_answer(200, {"success": True}))) as client:
        result = await client.send_sms("0712345678", "hi")
    assert result.message_id is None
    assert result.units_used is None


async def test_bulk_ids_that_are_not_ids_answer_none() -> None:
    """message_id_for never returns a blank or "null" id."""
    answer = variant("send_bulk_sms", message_ids__254759924977="null")
    async with client_for(Recorder(json_answer(200, answer))) as client:
        result = await CALLS["send_bulk_sms"](client)
    assert result.message_id_for("0759924977") is None
    assert result.message_id_for("0725095094") == "API-1768206119"


@pytest.mark.parametrize("status", [200, 201, 301, 400, 404, 500, 503])
async def test_a_json_success_is_a_success_whatever_the_status(status: int) -> None:
    """A 500 (or 3xx) whose JSON says success with a message id: the SMS went out."""
    async with client_for(Recorder(json_answer(status, SENT))) as client:
        result = await client.send_sms("0712345678", "hi")
    assert result.message_id == "API-1"


@pytest.mark.parametrize("flag", [False, 0, "false", "0", " FALSE "])
async def test_a_refusal_is_read_in_every_spelling(flag: object) -> None:
    """A 200 whose success is false, 0 or "false" is the API saying no: not sent."""
    body = {**error_body("Failed to send SMS", "SenderId is invalid"), "success": flag}
    async with client_for(Recorder(json_answer(200, body))) as client:
        with pytest.raises(APIError, match="SenderId is invalid") as caught:
            await client.send_sms("0712345678", "hi")
    assert type(caught.value) is APIError
    assert not caught.value.maybe_sent
    assert caught.value.body == body


@pytest.mark.parametrize(
    "answer",
    [
        json_answer(200, {"message": "queued"}),
        json_answer(200, {"success": "maybe"}),
        json_answer(200, ["success", True]),
        httpx.Response(200, text="OK"),
        httpx.Response(200, text=""),
        httpx.Response(200, content=b"[" * 100_000),
    ],
)
async def test_a_2xx_without_a_verdict_is_maybe_sent(answer: httpx.Response) -> None:
    """No success flag: a send may have gone out (unknown); a read is a decode error."""
    async with client_for(Recorder(answer)) as client:
        with pytest.raises(OutcomeUnknownError) as send:
            await client.send_sms("0712345678", "hi")
        with pytest.raises(ResponseDecodeError) as read:
            await client.get_balance()
    assert send.value.maybe_sent
    assert read.value.maybe_sent


@pytest.mark.parametrize(
    ("answer", "cls", "maybe_sent"),
    [
        (json_answer(400, error_body("Invalid phone number format")), BadRequestError, False),
        (json_answer(404, {"success": 0, "message": "Endpoint not found"}), APIError, False),
        (html(404, "Not Found"), APIError, True),
        (json_answer(403, {"error": "blocked by the firewall"}), APIError, True),
        (httpx.Response(302, headers={"Location": "https://elsewhere.example/"}), APIError, True),
        (json_answer(302, error_body()), APIError, False),
        (html(429, "Too Many Requests"), RateLimitError, False),
        (json_answer(429, error_body()), RateLimitError, False),
        (json_answer(500, error_body()), ServerError, True),
        (html(504, "Gateway Timeout"), ServerError, True),
    ],
)
async def test_an_error_status_is_not_sent_only_when_the_api_refuses(
    answer: httpx.Response, cls: type[APIError], maybe_sent: bool
) -> None:
    """A non-2xx proves nothing was sent only if its JSON refuses (or it is a 429)."""
    async with client_for(Recorder(answer), retry=_ONCE) as client:
        with pytest.raises(cls) as caught:
            await client.send_sms("0712345678", "hi")
    assert caught.value.maybe_sent is maybe_sent
    assert caught.value.status_code == answer.status_code


@pytest.mark.parametrize(
    "number", [b"1e400", b"-1e400", b"1E+99999", b"1e999999999", b"123e100000000"]
)
async def test_a_refusal_holding_a_number_beyond_float_range_keeps_its_verdict(
    number: bytes,
) -> None:
    """Valid JSON with 1e400 inside is still the API's refusal: not sent, never unknown."""
    body = b'{"success": false, "message": "x", "n": ' + number + b"}"
    async with client_for(Recorder(httpx.Response(400, content=body)), retry=_ONCE) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.send_sms("0712345678", "hi")
    assert caught.value.maybe_sent is False
    assert caught.value.message == "x"


async def test_a_success_holding_a_number_beyond_float_range_is_a_success() -> None:
    """An out-of-range amount in a confirmed send reads as absent, the send as sent."""
    body = b'{"success": true, "message_id": "API-9", "cost": 1e400, "new_balance": -1e400}'
    async with client_for(Recorder(httpx.Response(200, content=body))) as client:
        result = await client.send_sms("0712345678", "hi")
    assert (result.message_id, result.cost, result.new_balance) == ("API-9", None, None)


async def test_a_refusal_message_is_one_bounded_line() -> None:
    """A server's message or error is kept as one line of at most 500 characters."""
    body = error_body("line one\nline two", "x" * 10_000)
    async with client_for(Recorder(json_answer(400, body))) as client:
        with pytest.raises(APIError) as caught:
            await client.get_balance()
    assert caught.value.message == "line one line two"
    assert caught.value.error is not None
    assert len(caught.value.error) == 500


def test_retry_after_reads_seconds_and_http_dates() -> None:
    """Seconds or an HTTP date, a date without a zone as GMT, junk as None."""
    soon = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert parse_retry_after("7") == 7.0
    assert 25 < (parse_retry_after(format_datetime(soon, usegmt=True)) or 0) <= 30
    naive = format_datetime(soon.replace(tzinfo=None))  # "... -0000": no zone known
    assert naive.endswith("-0000")
    assert 25 < (parse_retry_after(naive) or 0) <= 30
    for junk in (None, "", "soon", "inf", "nan", "Mon, 99 Foo 2026 07:28:00 GMT"):
        assert parse_retry_after(junk) is None
    assert parse_retry_after("-5") == 0.0


async def test_errors_are_texin_errors_with_a_verdict() -> None:
    """Whatever the answer, what escapes is a TexinError carrying maybe_sent."""
    async with client_for(Recorder(html(502)), retry=_ONCE) as client:
        with pytest.raises(TexinError) as caught:
            await client.get_balance()
    assert isinstance(caught.value.maybe_sent, bool)
