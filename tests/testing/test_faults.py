"""Injected faults over a real socket: what the client sees, and what really happened."""

from __future__ import annotations

import time

import httpx
import msgspec
import pytest

from texin_async.testing import DEFAULT_API_KEY, Fault, FaultEvent, TexinEmulator
from texin_async.testing._faults import FaultPlan, parse_fault_rates

from ._support import LOCAL_NUMBER, NUMBER, Api, error_of


def test_drop_before_closes_the_connection_unanswered_and_sends_nothing(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """DROP_BEFORE: the client sees the server disconnect; no SMS went out."""
    texin_emulator.faults.schedule(Fault.DROP_BEFORE)
    with pytest.raises(httpx.RemoteProtocolError):
        api.send(recipient=LOCAL_NUMBER)
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}
    assert texin_emulator.fault_log == [
        FaultEvent(Fault.DROP_BEFORE, "send_sms", processed=False, recipients=(NUMBER,))
    ]


def test_drop_after_closes_the_connection_after_sending(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """DROP_AFTER: the client sees the server disconnect, but the SMS was sent and charged."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER)
    with pytest.raises(httpx.RemoteProtocolError):
        api.send()
    assert texin_emulator.processed(DEFAULT_API_KEY) == {NUMBER: 1}
    assert texin_emulator.account(DEFAULT_API_KEY).balance == 9_999
    [event] = texin_emulator.fault_log
    assert event.processed
    assert event.message_ids == tuple(texin_emulator.messages)


def test_a_dropped_request_is_counted_with_status_0(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """requests() counts a dropped request under status 0, for its key."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("get_balance")
    assert texin_emulator.requests(DEFAULT_API_KEY) == {("get_balance", 0): 1}


def test_server_error_answers_500_json_and_sends_nothing(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """SERVER_ERROR: a JSON 500 envelope; the request was never processed."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR)
    response = api.send()
    assert response.status_code == 500
    error_of(response)
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}
    assert not texin_emulator.fault_log[0].processed


def test_server_error_after_sends_then_answers_500_json(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """SERVER_ERROR_AFTER: the SMS goes out, then a JSON 500 refusal (a gateway failure)."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR_AFTER)
    response = api.send()
    assert response.status_code == 500
    assert error_of(response)["message"] == "Internal server error"
    assert texin_emulator.processed(DEFAULT_API_KEY) == {"254712345678": 1}
    assert texin_emulator.fault_log[0].processed


def test_html_502_answers_nginx_html_and_sends_nothing(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """HTML_502: nginx's HTML Bad Gateway page, not JSON; nothing sent."""
    texin_emulator.faults.schedule(Fault.HTML_502)
    response = api.send()
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in response.text
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}


def test_truncated_json_sends_half_a_body_after_sending(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """TRUNCATED_JSON: 200 with JSON cut in half; the SMS went out."""
    texin_emulator.faults.schedule(Fault.TRUNCATED_JSON)
    response = api.send()
    assert response.status_code == 200
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(response.content)
    assert response.content.startswith(b'{"success":true')
    assert texin_emulator.processed(DEFAULT_API_KEY) == {NUMBER: 1}
    assert texin_emulator.fault_log[0].processed


def test_slow_after_sends_then_answers_late(
    client: httpx.Client, texin_emulator: TexinEmulator
) -> None:
    """SLOW_AFTER: an impatient client times out, though the SMS was sent."""
    texin_emulator.slow_seconds = 0.5
    texin_emulator.faults.schedule(Fault.SLOW_AFTER)
    body = {"api_key": DEFAULT_API_KEY, "recipient": NUMBER, "message": "Hi"}
    with pytest.raises(httpx.ReadTimeout):
        client.post("send_sms", json=body, timeout=httpx.Timeout(5.0, read=0.1))
    assert texin_emulator.processed(DEFAULT_API_KEY) == {NUMBER: 1}
    assert texin_emulator.fault_log[0].processed


def test_slow_after_still_delivers_the_whole_answer(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """SLOW_AFTER: a patient client gets the complete, normal answer."""
    texin_emulator.slow_seconds = 0.1
    texin_emulator.faults.schedule(Fault.SLOW_AFTER)
    response = api.send()
    assert response.json()["message"] == "SMS sent successfully!"


def test_rate_limit_fault_answers_429_with_retry_after(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """RATE_LIMIT: a 429 envelope with Retry-After; the request was not processed."""
    texin_emulator.faults.schedule(Fault.RATE_LIMIT)
    response = api.send()
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    error_of(response)
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}


def test_before_faults_come_before_authentication(api: Api, texin_emulator: TexinEmulator) -> None:
    """A "before" fault hits even a request with an unknown key: the API never saw it."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR)
    assert api.send(api_key="unknown-key").status_code == 500


def test_an_after_fault_on_a_refused_request_is_not_processed(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """DROP_AFTER on a request the API refused logs processed=False."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER)
    with pytest.raises(httpx.RemoteProtocolError):
        api.send(recipient="+254712345678")
    assert texin_emulator.fault_log[0].processed is False


def test_a_fault_event_names_every_recipient_and_message(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """A dropped bulk send logs its normalised recipients, repeats kept, and all its ids."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER)
    with pytest.raises(httpx.RemoteProtocolError):
        api.bulk([LOCAL_NUMBER, "bad", NUMBER, "254700000001"])
    [event] = texin_emulator.fault_log
    assert event.recipients == (NUMBER, NUMBER, "254700000001")
    assert event.message_ids == tuple(texin_emulator.messages)
    assert len(event.message_ids) == 3


def test_a_scheduled_fault_waits_for_its_endpoint(api: Api, texin_emulator: TexinEmulator) -> None:
    """schedule(endpoint="send_sms") leaves other endpoints alone and hits the next send."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR, endpoint="send_sms")
    assert api.post("get_balance").status_code == 200
    assert api.send().status_code == 500
    assert api.send().status_code == 200


def test_a_fault_scheduled_twice_hits_two_requests(api: Api, texin_emulator: TexinEmulator) -> None:
    """schedule(times=2) faults exactly the next two POST requests."""
    texin_emulator.faults.schedule(Fault.HTML_502, times=2)
    statuses = [api.post("get_balance").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]


def test_faults_spare_get_endpoints(
    api: Api, client: httpx.Client, texin_emulator: TexinEmulator
) -> None:
    """GET endpoints are never faulted; the scheduled fault waits for a POST."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR)
    assert client.get("").status_code == 200
    assert client.get("test_connection").status_code == 200
    assert api.post("get_balance").status_code == 500


def test_seeded_rates_replay_the_same_faults(api: Api, texin_emulator: TexinEmulator) -> None:
    """The same seed and request order give the same faults."""
    runs = []
    for _ in range(2):
        texin_emulator.reset()
        texin_emulator.faults.set_rates({Fault.SERVER_ERROR: 0.4, Fault.HTML_502: 0.2}, seed=7)
        runs.append([api.post("get_balance").status_code for _ in range(30)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500, 502}


def test_faults_given_at_construction_apply() -> None:
    """faults= at construction sets the rates: 1.0 faults every POST request."""
    emulator = TexinEmulator(faults={Fault.SERVER_ERROR: 1.0})
    assert emulator.faults.rates == {Fault.SERVER_ERROR: 1.0}
    assert [emulator.faults.draw("send_sms") for _ in range(3)] == [Fault.SERVER_ERROR] * 3


def test_clear_removes_scheduled_faults_and_rates() -> None:
    """clear() leaves no fault to draw."""
    plan = FaultPlan({Fault.DROP_AFTER: 1.0})
    plan.schedule(Fault.HTML_502)
    plan.clear()
    assert plan.draw("send_sms") is None


@pytest.mark.parametrize(
    "rates",
    [
        {Fault.DROP_AFTER: 1.5},
        {Fault.DROP_AFTER: -0.1},
        {Fault.DROP_AFTER: 0.6, Fault.HTML_502: 0.6},
    ],
)
def test_set_rates_refuses_impossible_probabilities(rates: dict[Fault, float]) -> None:
    """Rates outside [0, 1], or summing above 1, are a ValueError."""
    with pytest.raises(ValueError, match="rate"):
        FaultPlan().set_rates(rates)


def test_schedule_refuses_an_unknown_endpoint() -> None:
    """Scheduling for a GET or unknown endpoint is a mistake, caught at once."""
    with pytest.raises(ValueError, match="endpoint"):
        FaultPlan().schedule(Fault.DROP_AFTER, endpoint="test_connection")


def test_parse_fault_rates_reads_the_cli_spec() -> None:
    """ "drop_after=0.05,html_502=0.02" becomes rates by Fault."""
    assert parse_fault_rates("drop_after=0.05, HTML_502=0.02,") == {
        Fault.DROP_AFTER: 0.05,
        Fault.HTML_502: 0.02,
    }


@pytest.mark.parametrize("spec", ["drop=0.1", "drop_after", "drop_after=often"])
def test_parse_fault_rates_refuses_a_bad_spec(spec: str) -> None:
    """A bad fault name or rate is a ValueError that lists the fault names."""
    with pytest.raises(ValueError, match="server_error"):
        parse_fault_rates(spec)


def test_slow_before_processes_late_even_after_the_client_gave_up(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """SLOW_BEFORE: a busy server's queue: the request is processed (and counted in the
    rate window) slow_seconds late, even when the client timed out before."""
    texin_emulator.slow_seconds = 0.3
    texin_emulator.faults.schedule(Fault.SLOW_BEFORE)
    with pytest.raises(httpx.ReadTimeout):
        api.client.post(
            "send_sms",
            json={"api_key": DEFAULT_API_KEY, "recipient": NUMBER, "message": "late"},
            timeout=0.1,
        )
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}
    time.sleep(0.4)
    assert texin_emulator.processed(DEFAULT_API_KEY) == {"254712345678": 1}
    assert texin_emulator.fault_log[0].processed
