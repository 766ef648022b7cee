"""Retry rules (texin_async._retry): a transient failure is retried; a send only when it was
surely not processed (``maybe_sent`` False), unless ambiguous retries are opted into."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from mock_api import (
    INSTANT,
    INSTANT_AMBIGUOUS,
    SENT,
    Recorder,
    client_for,
    error_body,
    html,
    json_answer,
)

from texin_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    OutcomeUnknownError,
    RetryDetails,
    RetryPolicy,
    ServerError,
    TexinError,
)

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("asyncio", "trio")]

BALANCE = {"success": True, "sms_balance": 86}


@pytest.mark.parametrize(
    ("fault", "raised", "calls"),
    [
        (httpx.ConnectError("refused"), APIConnectionError, INSTANT.attempts),
        (httpx.ConnectTimeout("slow connect"), APIConnectionError, INSTANT.attempts),
        (httpx.ReadTimeout("slow answer"), APITimeoutError, 1),
        (httpx.RemoteProtocolError("dropped"), OutcomeUnknownError, 1),
        (httpx.ReadError("reset"), OutcomeUnknownError, 1),
    ],
)
async def test_a_send_is_retried_only_when_it_never_left(
    fault: Exception, raised: type[TexinError], calls: int
) -> None:
    """Connect failures are retried; a failure after sending is raised at once."""
    recorder = Recorder(fault)
    async with client_for(recorder) as client:
        with pytest.raises(raised) as caught:
            await client.send_sms("0712345678", "hi")
    assert isinstance(caught.value.__cause__, httpx.HTTPError)
    assert caught.value.maybe_sent is (calls == 1)
    assert len(recorder.requests) == calls


@pytest.mark.parametrize(
    "answer", [json_answer(500, error_body()), json_answer(503, {"error": "x"}), html(502)]
)
async def test_a_5xx_after_a_send_is_maybe_sent_and_never_resent(answer: httpx.Response) -> None:
    """500 is "server error or SMS gateway failure": the SMS may have gone out."""
    recorder = Recorder(answer, json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(ServerError) as caught:
            await client.send_sms("0712345678", "hi")
    assert caught.value.maybe_sent
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "first", [json_answer(500, error_body()), html(502), httpx.RemoteProtocolError("dropped")]
)
async def test_ambiguous_sends_are_retried_only_when_opted_in(
    first: httpx.Response | Exception,
) -> None:
    """retry_ambiguous_sends=True trades never-twice for never-lost, 5xx included."""
    recorder = Recorder(first, json_answer(200, SENT))
    async with client_for(recorder, retry=INSTANT_AMBIGUOUS) as client:
        assert (await client.send_sms("0712345678", "hi")).message_id == "API-1"
    assert len(recorder.requests) == 2


async def test_a_cut_off_send_answer_is_outcome_unknown_with_its_excerpt() -> None:
    """A 200 with half a JSON body is maybe sent, keeping what came back; not resent."""
    body = json.dumps(SENT)[:40]
    recorder = Recorder(httpx.Response(200, text=body))
    async with client_for(recorder) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.send_sms("0712345678", "hi")
    assert caught.value.excerpt == body
    assert caught.value.maybe_sent
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "first",
    [
        html(502),
        json_answer(500, error_body()),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, text="{"),
    ],
)
async def test_reads_are_asked_again_after_any_transient_failure(
    first: httpx.Response | Exception,
) -> None:
    """Reads are safe to repeat, whatever their verdict."""
    recorder = Recorder(first, json_answer(200, BALANCE))
    async with client_for(recorder) as client:
        assert (await client.get_balance()).sms_balance == 86
    assert len(recorder.requests) == 2


async def test_retries_stop_at_the_policys_attempts_with_our_own_error() -> None:
    """The last error comes out, never a tenacity.RetryError."""
    recorder = Recorder(httpx.ConnectError("refused"))
    async with client_for(recorder, retry=RetryPolicy(attempts=5, wait_initial=0, wait_max=0)) as c:
        with pytest.raises(APIConnectionError):
            await c.get_balance()
    assert len(recorder.requests) == 5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
async def test_client_errors_are_never_retried(status: int) -> None:
    """4xx (bad input, bad key, insufficient balance) is final, for sends and reads."""
    recorder = Recorder(json_answer(status, error_body()))
    async with client_for(recorder) as client:
        with pytest.raises(APIError):
            await client.send_sms("0712345678", "hi")
        with pytest.raises(APIError):
            await client.get_balance()
    assert len(recorder.requests) == 2


async def test_a_200_refusal_is_final_for_sends() -> None:
    """A 200 with success:false (an invalid sender id) is an APIError, not sent, not retried."""
    recorder = Recorder(json_answer(200, error_body("Failed to send SMS", "SenderId invalid")))
    async with client_for(recorder) as client:
        with pytest.raises(APIError, match="SenderId invalid") as caught:
            await client.send_sms("0712345678", "hi")
    assert not caught.value.maybe_sent
    assert len(recorder.requests) == 1


async def test_retry_hook_is_told_each_retry() -> None:
    """RetryPolicy.on_retry receives a RetryDetails per retry."""
    seen: list[RetryDetails] = []
    policy = RetryPolicy(
        attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, on_retry=seen.append
    )
    recorder = Recorder(
        httpx.ConnectError("refused"), httpx.ConnectError("refused"), json_answer(200, SENT)
    )
    async with client_for(recorder, retry=policy) as client:
        await client.send_sms("0712345678", "hi")
    assert [(d.endpoint, d.attempt) for d in seen] == [("send_sms", 1), ("send_sms", 2)]
    assert all(isinstance(d.error, APIConnectionError) for d in seen)


async def test_an_earlier_maybe_sent_attempt_is_not_hidden_by_a_later_refusal() -> None:
    """With ambiguous retries on, a drop then a 400 ends in the drop's OutcomeUnknownError:
    the dropped attempt may have been processed, so "not sent" would be a lie."""
    recorder = Recorder(httpx.RemoteProtocolError("dropped"), json_answer(400, error_body()))
    async with client_for(recorder, retry=INSTANT_AMBIGUOUS) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.send_sms("0712345678", "hi")
    assert caught.value.maybe_sent
    assert isinstance(caught.value.__cause__, BadRequestError)
    assert len(recorder.requests) == 2


async def test_retry_details_count_time_from_the_first_attempt() -> None:
    """RetryDetails.elapsed includes the first attempt, made before any retry state."""
    seen: list[RetryDetails] = []

    async def slow_then_ok(request: httpx.Request) -> httpx.Response:
        if not seen:
            await anyio.sleep(0.2)
            raise httpx.ConnectError("refused")
        return json_answer(200, SENT)

    policy = RetryPolicy(
        attempts=2, wait_initial=0, wait_max=0, wait_jitter=0, on_retry=seen.append
    )
    async with client_for(slow_then_ok, retry=policy) as client:
        await client.send_sms("0712345678", "hi")
    assert seen[0].elapsed >= 0.2


async def test_waits_grow_exponentially_with_jitter_within_the_policy() -> None:
    """Backoff is 0.5x2^n capped at wait_max, plus up to wait_jitter."""
    seen: list[RetryDetails] = []
    policy = RetryPolicy(
        attempts=4, wait_initial=0.001, wait_max=0.002, wait_jitter=0.001, on_retry=seen.append
    )
    recorder = Recorder(httpx.ConnectError("refused"))
    async with client_for(recorder, retry=policy) as client:
        with pytest.raises(APIConnectionError):
            await client.get_balance()
    waits = [d.wait for d in seen]
    assert 0.001 <= waits[0] <= 0.002
    assert all(0.002 <= w <= 0.003 for w in waits[1:])
