"""Structured logs: the texin_async logger's records carry their facts as texin_* attributes,
for JSON formatters, and never a number, a text or the key."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest
from mock_api import SENT, client_for, json_answer
from mock_api import Recorder as Answers

from texin_async import LocalRateLimiter, OutcomeUnknownError, Priority, RateLimit, TexinClient
from texin_async.instrumentation import Event
from texin_async.testing import Fault, TexinEmulator

from .conftest import CANARY_KEY, CANARY_PHONE, CANARY_TEXT, leaks

pytestmark = pytest.mark.anyio

Make = Callable[..., TexinClient]


def texin_fields(record: logging.LogRecord) -> dict[str, object]:
    """What a JSON formatter would add: the record's texin_* attributes."""
    return {k: v for k, v in vars(record).items() if k.startswith("texin_")}


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "texin_async" and r.levelno == level]


async def test_the_per_request_debug_line_carries_its_fields(
    emulated: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """The DEBUG line of an answer: endpoint, attempt, status, elapsed, key id, class, wait."""
    client = emulated()
    with caplog.at_level(logging.DEBUG, logger="texin_async"):
        await client.send_sms(CANARY_PHONE, CANARY_TEXT, priority=Priority.BULK)
    record = records(caplog, logging.DEBUG)[-1]
    found = texin_fields(record)
    assert found.keys() == {
        "texin_endpoint",
        "texin_attempt",
        "texin_status",
        "texin_elapsed",
        "texin_key_id",
        "texin_priority",
        "texin_wait",
    }
    assert (found["texin_endpoint"], found["texin_attempt"], found["texin_status"]) == (
        "send_sms",
        1,
        200,
    )
    assert (found["texin_key_id"], found["texin_priority"]) == (client.key_id, "bulk")
    assert isinstance(found["texin_elapsed"], float)
    assert isinstance(found["texin_wait"], float)
    json.dumps(found)  # a JSON formatter can write it as it is


async def test_a_retry_warning_carries_its_fields(
    emulated: Make, texin_emulator: TexinEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The WARNING of a retry: which attempt failed, how, and how soon the next one goes."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR, endpoint="get_balance")
    client = emulated()
    await client.get_balance()
    found = texin_fields(records(caplog, logging.WARNING)[0])
    assert found == {
        "texin_endpoint": "get_balance",
        "texin_attempt": 1,
        "texin_key_id": client.key_id,
        "texin_priority": "interactive",
        "texin_status": 500,
        "texin_error_type": "ServerError",
        "texin_maybe_sent": True,
        "texin_elapsed": found["texin_elapsed"],
        "texin_retry_in": 0.0,
    }


async def test_a_429_pause_note_carries_its_fields(
    emulated: Make, texin_emulator: TexinEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The INFO note of a key-wide 429 pause: the key, the seconds, the call that met it."""
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    client = emulated()
    with caplog.at_level(logging.INFO, logger="texin_async"):
        await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    (note,) = [r for r in records(caplog, logging.INFO) if "429" in r.getMessage()]
    assert texin_fields(note) == {
        "texin_key_id": client.key_id,
        "texin_wait": 0.01,
        "texin_endpoint": "send_sms",
        "texin_priority": "interactive",
    }


async def test_the_limiters_waiting_note_carries_its_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The INFO note of a request waiting for the key's budget: key, seconds, class, queue."""
    now = [1000.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = LocalRateLimiter(
        RateLimit(max_rate=1, time_period=60.0, reserve=0), clock=lambda: now[0], sleep=sleep
    )
    answers = Answers(json_answer(200, SENT))
    with caplog.at_level(logging.INFO, logger="texin_async"):
        async with client_for(answers, limiter=limiter) as client:
            await client.send_sms(CANARY_PHONE, CANARY_TEXT)
            await client.send_sms(CANARY_PHONE, CANARY_TEXT, priority=Priority.BACKGROUND)
    (note,) = [r for r in records(caplog, logging.INFO) if "waits" in r.getMessage()]
    found = texin_fields(note)
    assert found["texin_key_id"] == client.key_id
    assert found["texin_priority"] == "background"
    assert found["texin_wait"] == pytest.approx(60.18)
    assert found["texin_queued"] == 1


async def test_no_record_holds_a_number_a_text_or_the_key(
    emulated: Make, texin_emulator: TexinEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Successes, retries, 429s, unknowns, refusals quoting the number, a failing hook: no
    canary in any record's message, arguments, fields or traceback."""

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    texin_emulator.faults.schedule(Fault.SERVER_ERROR, endpoint="get_balance")
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    caplog.set_level(logging.DEBUG, logger="texin_async")
    client = emulated(hooks=broken)
    await client.get_balance()
    await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    await client.send_batch([(CANARY_PHONE, CANARY_TEXT), ("0712345678", CANARY_TEXT)])
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    with pytest.raises(OutcomeUnknownError):
        await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    refusal = {"success": False, "message": f"Invalid phone {CANARY_PHONE}", "error": CANARY_TEXT}
    answers = Answers(httpx.ConnectError(CANARY_TEXT), json_answer(400, refusal))
    async with client_for(answers, api_key=CANARY_KEY, rate_limit="100/60") as refused:
        with pytest.raises(Exception, match="Invalid phone"):
            await refused.send_sms(CANARY_PHONE, CANARY_TEXT)
    formatter = logging.Formatter()
    mine = [r for r in caplog.records if r.name == "texin_async"]
    assert {r.levelno for r in mine} >= {logging.DEBUG, logging.INFO, logging.WARNING}
    for record in mine:
        assert leaks(formatter.format(record) + repr(vars(record))) == [], record.getMessage()
