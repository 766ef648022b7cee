"""TexinClient's pure logic over httpx.MockTransport: construction, validation, the request
path's steps (limiter, departure), secrets and lifecycle.

Reading answers is in test_response.py, retry rules in test_retry.py, behaviour over real
sockets against the emulator in test_client.py.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import ssl
import subprocess
import sys
from typing import Any

import httpx
import pytest
from mock_api import CANARY, SENT, HookLimiter, Recorder, client_for, error_body, html, json_answer

from texin_async import (
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientStateError,
    InvalidRequestError,
    JournalError,
    LimiterUnavailableError,
    LocalRateLimiter,
    NotFoundError,
    PermissionDeniedError,
    Priority,
    RateLimit,
    RateLimitError,
    RetryDetails,
    RetryPolicy,
    ServerError,
    TexinClient,
    TexinError,
)
from texin_async._endpoints import SEND_SMS
from texin_async._lane import Ending

pytestmark = pytest.mark.anyio


# -- construction ---------------------------------------------------------------------------


def test_missing_api_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no api_key and no TEXIN_API_KEY, construction fails and says how to fix it."""
    monkeypatch.delenv("TEXIN_API_KEY", raising=False)
    with pytest.raises(InvalidRequestError, match="TEXIN_API_KEY"):
        TexinClient()


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """TEXIN_API_KEY and TEXIN_BASE_URL are used when no arguments are given."""
    monkeypatch.setenv("TEXIN_API_KEY", CANARY)
    monkeypatch.setenv("TEXIN_BASE_URL", "http://127.0.0.1:9/api")
    client = TexinClient()
    assert client.base_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    "url", ["http://example.com/api/", "http://10.0.0.1/api/", "ftp://127.0.0.1/", "not a url"]
)
def test_insecure_or_odd_base_urls_are_refused(url: str) -> None:
    """Plain http leaves loopback only with an explicit opt-in; other schemes never."""
    with pytest.raises(InvalidRequestError):
        TexinClient(CANARY, base_url=url)


def test_plain_http_elsewhere_needs_the_opt_in() -> None:
    """allow_insecure_http=True permits http to a non-loopback host."""
    client = TexinClient(CANARY, base_url="http://example.com/api", allow_insecure_http=True)
    assert client.base_url == "http://example.com/api/"


@pytest.mark.parametrize("url", ["http://localhost:8000/api/", "http://[::1]:8000/api/"])
def test_loopback_http_is_allowed(url: str) -> None:
    """The emulator on loopback needs no opt-in."""
    assert TexinClient(CANARY, base_url=url).base_url == url


def test_timeout_that_could_wait_forever_is_refused() -> None:
    """Any timeout part of None is refused: an SMS client must never hang."""
    with pytest.raises(ValueError, match=r"timeout\.pool"):
        TexinClient(CANARY, timeout=httpx.Timeout(5.0, pool=None))


def test_repr_shows_no_key() -> None:
    """The client's repr identifies the key by a hash prefix, never the key."""
    text = repr(TexinClient(CANARY))
    assert CANARY not in text
    assert "key_id=" in text


# -- input validation: nothing is sent -------------------------------------------------------


@pytest.mark.parametrize(
    ("recipient", "message"),
    [("12345", "hi"), ("0712345678", ""), ("0712345678", "   "), ("0712345678", 42)],
)
async def test_bad_input_is_refused_before_sending(recipient: str, message: str) -> None:
    """A bad number or empty message raises InvalidRequestError and sends nothing."""
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(InvalidRequestError):
            await client.send_sms(recipient, message)
    assert recorder.requests == []


LONE = "\ud800"


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("message", lambda c: c.send_sms("0712345678", f"hi {LONE}")),
        ("sender_id", lambda c: c.send_sms("0712345678", "hi", sender_id=LONE)),
        ("message", lambda c: c.send_bulk_sms(["0712345678"], LONE + "x")),
        ("sender_id", lambda c: c.send_bulk_sms(["0712345678"], "hi", sender_id=f"T{LONE}")),
        ("message_id", lambda c: c.check_status(f"API-{LONE}")),
    ],
)
async def test_a_lone_surrogate_is_refused_before_sending(field: str, call: Any) -> None:
    """A string UTF-8 cannot encode is an InvalidRequestError naming its field, never sent."""
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(InvalidRequestError, match=f"^{field} holds a lone surrogate") as caught:
            await call(client)
    assert caught.value.maybe_sent is False
    assert recorder.requests == []


async def test_a_default_sender_id_with_a_lone_surrogate_is_refused() -> None:
    """The client's own sender_id is checked at construction, where the mistake is made."""
    recorder = Recorder(json_answer(200, SENT))
    with pytest.raises(InvalidRequestError, match="sender_id holds a lone surrogate"):
        client_for(recorder, sender_id=f"Tex{LONE}in")
    assert recorder.requests == []


async def test_bulk_names_every_invalid_number() -> None:
    """send_bulk_sms lists all bad numbers at once, and sends nothing."""
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(InvalidRequestError, match=r"'123'.*'abc'"):
            await client.send_bulk_sms(["0712345678", "123", "abc"], "hi")
    assert recorder.requests == []


async def test_bulk_refuses_a_bare_string() -> None:
    """A single string is not silently split into characters."""
    async with client_for(Recorder()) as client:
        with pytest.raises(InvalidRequestError, match="list of numbers, got str"):
            await client.send_bulk_sms("0712345678", "hi")


async def test_bulk_sends_each_number_once_and_answers_in_callers_terms() -> None:
    """Two spellings of one number go out once; both map to its message id."""
    answer = {"success": True, "message_ids": {"254712345678": "API-7"}, "units_used": 1}
    recorder = Recorder(json_answer(200, answer))
    async with client_for(recorder) as client:
        result = await client.send_bulk_sms(["0712345678", "+254 712 345 678"], "hi")
    assert json.loads(recorder.requests[0].content)["recipients"] == ["254712345678"]
    assert result.message_id_for("0712345678") == "API-7"
    assert result.message_id_for("+254 712 345 678") == "API-7"


async def test_sender_id_defaults_to_the_clients() -> None:
    """The client's sender_id is used unless a call gives its own."""
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder, sender_id="ACME") as client:
        await client.send_sms("0712345678", "a")
        await client.send_sms("0712345678", "b", sender_id="OTHER")
    sent = [json.loads(r.content)["sender_id"] for r in recorder.requests]
    assert sent == ["ACME", "OTHER"]


# -- classification --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (200, APIError),
    ],
)
async def test_refusals_map_to_one_class_per_status(status: int, cls: type[APIError]) -> None:
    """Each documented status raises its class, with the API's message and error."""
    recorder = Recorder(json_answer(status, error_body("Bad thing", "why")))
    async with client_for(recorder, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(cls) as caught:
            await client.get_balance()
    assert type(caught.value) is cls
    assert (caught.value.status_code, caught.value.message, caught.value.error) == (
        status,
        "Bad thing",
        "why",
    )


async def test_rate_limit_error_carries_retry_after() -> None:
    """A 429's Retry-After is exposed in seconds."""
    recorder = Recorder(json_answer(429, error_body(), **{"Retry-After": "7"}))
    async with client_for(recorder, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.get_balance()
    assert caught.value.retry_after == 7.0


async def test_redirect_is_not_followed() -> None:
    """A 3xx is an error naming the target, never followed with the key in the body."""
    redirect = httpx.Response(301, headers={"Location": "https://elsewhere.example/"})
    recorder = Recorder(redirect)
    async with client_for(recorder) as client:
        with pytest.raises(APIError, match="redirect"):
            await client.send_sms("0712345678", "hi")
    assert len(recorder.requests) == 1


class RecordingLimiter(HookLimiter):
    """A RateLimiter that records what the client asks of it."""

    def __init__(self, events: list[str] | None = None) -> None:
        self.acquired = 0
        self.released = 0
        self.pauses: list[float] = []
        self.priorities: list[Priority] = []
        self.endings: list[Ending] = []
        self.events = [] if events is None else events

    async def acquire(self, key_id: str, priority: Priority) -> None:
        self.acquired += 1
        self.priorities.append(priority)
        self.events.append("acquire")

    async def release(self, key_id: str, ending: Ending) -> None:
        self.released += 1
        self.endings.append(ending)
        self.events.append("release")

    async def pause(self, key_id: str, seconds: float) -> None:
        self.pauses.append(seconds)


async def test_429_pauses_the_key_then_retries_through_the_limiter() -> None:
    """A 429 pauses the whole key for Retry-After; the retry takes a new slot."""
    limiter = RecordingLimiter()
    recorder = Recorder(
        json_answer(429, error_body(), **{"Retry-After": "3"}), json_answer(200, SENT)
    )
    async with client_for(recorder, limiter=limiter) as client:
        await client.send_sms("0712345678", "hi")
    assert limiter.pauses == [3.0]
    assert limiter.acquired == 2


async def test_retry_after_is_capped_by_the_policy() -> None:
    """An absurd Retry-After is capped at RetryPolicy.max_retry_after."""
    limiter = RecordingLimiter()
    policy = RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0, max_retry_after=5)
    recorder = Recorder(
        json_answer(429, error_body(), **{"Retry-After": "3600"}), json_answer(200, SENT)
    )
    async with client_for(recorder, limiter=limiter, retry=policy) as client:
        await client.send_sms("0712345678", "hi")
    assert limiter.pauses == [5.0]


async def test_every_request_passes_the_limiter() -> None:
    """Reads and sends alike take a limiter slot."""
    limiter = RecordingLimiter()
    recorder = Recorder(json_answer(200, {"success": True, "sms_balance": 1}))
    async with client_for(recorder, limiter=limiter) as client:
        await client.get_balance()
        await client.get_balance()
    assert limiter.acquired == limiter.released == 2


async def test_failed_request_releases_its_slot() -> None:
    """A request that failed in transport still ends its slot: none leak."""
    limiter = RecordingLimiter()
    async with client_for(Recorder(httpx.ReadTimeout("slow")), limiter=limiter) as client:
        with pytest.raises(APITimeoutError):
            await client.send_sms("0712345678", "hi")
    assert limiter.acquired == limiter.released == 1


# -- secrets ---------------------------------------------------------------------------------


ERROR_PATHS: list[httpx.Response | Exception] = [
    json_answer(400, error_body()),
    json_answer(401, error_body()),
    json_answer(429, error_body(), **{"Retry-After": "0"}),
    json_answer(500, error_body()),
    json_answer(200, {"success": False}),
    html(502),
    httpx.Response(200, text='{"success": tr'),
    httpx.Response(301, headers={"Location": "https://x.example/"}),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("slow"),
    httpx.RemoteProtocolError("dropped"),
]


@pytest.mark.parametrize("answer", ERROR_PATHS)
async def test_api_key_never_appears_in_errors_or_logs(
    answer: httpx.Response | Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """Over every error path the canary key is absent from str, repr, causes and log records."""
    caplog.set_level(logging.DEBUG)
    async with client_for(Recorder(answer)) as client:
        for call in (client.send_sms("0712345678", "hi"), client.get_balance()):
            with pytest.raises(TexinError) as caught:
                await call
            error: BaseException | None = caught.value
            while error is not None:
                assert CANARY not in str(error)
                assert CANARY not in repr(error)
                assert CANARY not in repr(getattr(error, "body", ""))
                error = error.__cause__
    assert all(CANARY not in r.getMessage() for r in caplog.records)


# -- lifecycle -------------------------------------------------------------------------------


async def test_closed_client_refuses_requests() -> None:
    """After aclose() a call fails clearly instead of reopening the pool."""
    client = client_for(Recorder(json_answer(200, SENT)))
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await client.get_balance()


async def test_injected_http_client_is_left_open() -> None:
    """The caller owns an injected httpx client: the SDK does not close it."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(Recorder(json_answer(200, SENT))))
    async with TexinClient(CANARY, base_url="http://127.0.0.1/api/", http_client=http) as client:
        await client.send_sms("0712345678", "hi")
    assert not http.is_closed
    await http.aclose()


def test_rate_limit_is_validated() -> None:
    """A RateLimit that cannot work is refused at construction, naming the field."""
    with pytest.raises(ValueError, match="max_rate"):
        RateLimit(max_rate=0)


async def test_429_without_retry_after_backs_off_instead_of_retrying_at_once() -> None:
    """No Retry-After: the task backs off as for any retry, and the key is not paused."""
    limiter = RecordingLimiter()
    seen: list[RetryDetails] = []
    policy = RetryPolicy(
        attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0, on_retry=seen.append
    )
    recorder = Recorder(json_answer(429, error_body()), json_answer(200, SENT))
    async with client_for(recorder, limiter=limiter, retry=policy) as client:
        await client.send_sms("0712345678", "hi")
    assert limiter.pauses == []
    assert seen[0].wait == pytest.approx(0.01)


def test_an_ssl_context_that_does_not_verify_is_refused() -> None:
    """verify= cannot smuggle in an unverified context: verification stays on."""
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="cannot be turned off"):
        TexinClient(CANARY, verify=unverified)


async def test_a_callers_client_never_follows_redirects() -> None:
    """Even an http_client built with follow_redirects=True does not re-post the key."""
    recorder = Recorder(httpx.Response(307, headers={"Location": "http://elsewhere.example/"}))
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder), follow_redirects=True)
    async with TexinClient(CANARY, base_url="http://127.0.0.1/api/", http_client=http) as client:
        with pytest.raises(APIError, match="redirect"):
            await client.send_sms("0712345678", "hi")
    assert [r.url.host for r in recorder.requests] == ["127.0.0.1"]
    await http.aclose()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_limit": RateLimit(), "limiter": RecordingLimiter()},
        {"rate_limit": 100},
        {"timeout": None},
        {"max_connections": 0},
        {"http_client": httpx.AsyncClient(), "verify": "/tmp/ca.pem"},
        {"http_client": httpx.AsyncClient(), "transport": "aiohttp"},
        {"max_answer_bytes": 100},
        {"max_answer_bytes": 4e6},
    ],
)
def test_arguments_that_would_be_ignored_or_fail_later_are_refused(
    kwargs: dict[str, object],
) -> None:
    """A setting that would be silently ignored, or fail on the first request, fails now."""
    with pytest.raises(InvalidRequestError):
        TexinClient(CANARY, **kwargs)  # type: ignore[arg-type]


def test_rate_limit_accepts_the_cli_shorthand() -> None:
    """rate_limit="20/2" is read at construction, like the CLI's --rate-limit."""
    client = TexinClient(CANARY, rate_limit="20/2")
    assert client._limiter is LocalRateLimiter.shared(RateLimit(max_rate=20, time_period=2.0))


def test_retry_attempts_must_be_a_whole_number() -> None:
    """RetryPolicy(attempts=2.5) is refused, not rounded somewhere later."""
    with pytest.raises(InvalidRequestError, match="attempts must be a whole number"):
        RetryPolicy(attempts=2.5)  # type: ignore[arg-type]


# -- configuration is checked, and fixed, at construction -----------------------------------


async def test_a_second_budget_for_a_key_is_refused_at_construction() -> None:
    """Two open clients of one key with different RateLimits: refused before any request,
    as a TexinError that is also a ValueError, naming the key by its id only."""
    first = client_for(Recorder(json_answer(200, SENT)), rate_limit="20/2")
    with pytest.raises(InvalidRequestError, match=first.key_id) as caught:
        client_for(Recorder(json_answer(200, SENT)), rate_limit="30/2")
    assert isinstance(caught.value, ValueError)
    assert not caught.value.maybe_sent
    assert CANARY not in str(caught.value)
    second = client_for(Recorder(json_answer(200, SENT)), rate_limit="20/2")  # same: shared
    assert second._limiter is first._limiter
    await first.aclose()
    await second.aclose()


async def test_a_closed_or_dropped_client_frees_its_key_for_another_budget() -> None:
    """The one-budget rule binds open clients only: close one, or drop it, and the key is free."""
    first = client_for(Recorder(json_answer(200, SENT)), rate_limit="20/2")
    await first.aclose()
    second = client_for(Recorder(json_answer(200, SENT)), rate_limit="30/2")
    del second  # never closed: garbage collection frees the key too
    gc.collect()
    await client_for(Recorder(json_answer(200, SENT)), rate_limit="40/2").aclose()


# What the garbage collector does when it collects a dropped client while this thread is
# inside claim() or release() (it may run at any allocation): its finalizer releases a claim.
_FINALIZER_INSIDE_A_CLAIM = """
from texin_async import TexinClient
from texin_async._ratelimit import _CLAIMS_LOCK
dropped = TexinClient("k", base_url="http://127.0.0.1:9/api/")
with _CLAIMS_LOCK:
    dropped._unclaim()
TexinClient("k", base_url="http://127.0.0.1:9/api/")
"""


def test_a_dropped_clients_finalizer_inside_a_claim_never_deadlocks() -> None:
    """Collected mid-claim, a dropped client releases its key without hanging the thread
    (it did, with many short-lived clients: the claims lock was not re-entrant)."""
    subprocess.run([sys.executable, "-c", _FINALIZER_INSIDE_A_CLAIM], check=True, timeout=10)


@pytest.mark.parametrize("name", ["base_url", "sender_id", "retry", "key_id", "state"])
def test_settings_are_read_only_after_construction(name: str) -> None:
    """base_url and friends cannot be changed past the checks made at construction."""
    client = TexinClient(CANARY, base_url="http://127.0.0.1/api/", rate_limit=None)
    with pytest.raises(AttributeError):
        setattr(client, name, "http://evil.example/api/")
    assert client.base_url == "http://127.0.0.1/api/"


def test_repr_of_a_half_built_client_still_formats() -> None:
    """A constructor that raised leaves an object whose repr works (tracebacks with locals)."""
    client = TexinClient.__new__(TexinClient)
    assert "TexinClient" in repr(client)


# -- the departure point ----------------------------------------------------------------------


async def test_a_failing_departure_step_sends_nothing_and_is_not_sent() -> None:
    """A step that fails just before the request leaves stops it: nothing reaches the API."""
    recorder = Recorder(json_answer(200, SENT))

    async def departure() -> None:
        raise JournalError("journal job.sqlite: disk I/O error")

    async with client_for(recorder) as client:
        payload = client._sms_payload("0712345678", "hi", None)
        with pytest.raises(JournalError) as caught:
            await client._request(SEND_SMS, payload, departure=departure)
    assert not caught.value.maybe_sent
    assert recorder.requests == []


async def test_the_departure_step_runs_on_every_attempt_after_the_slot() -> None:
    """It runs once per attempt, after the limiter granted the slot, before the transport."""
    events: list[str] = []
    limiter = RecordingLimiter(events)

    def handler(request: httpx.Request) -> httpx.Response:
        events.append("sent")
        if events.count("sent") == 1:
            raise httpx.ConnectError("refused")
        return json_answer(200, SENT)

    async def departure() -> None:
        events.append("departure")

    async with client_for(handler, limiter=limiter) as client:
        payload = client._sms_payload("0712345678", "hi", None)
        await client._request(SEND_SMS, payload, departure=departure)
    assert events == ["acquire", "departure", "sent", "release"] * 2


class BrokenLimiter(RecordingLimiter):
    async def acquire(self, key_id: str, priority: Priority) -> None:
        raise RuntimeError("bug in a custom limiter")


async def test_a_limiter_that_raises_means_nothing_was_sent() -> None:
    """A limiter's own failure is LimiterUnavailableError (maybe_sent False), retried."""
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder, limiter=BrokenLimiter()) as client:
        with pytest.raises(LimiterUnavailableError, match="bug in a custom limiter") as caught:
            await client.send_sms("0712345678", "hi")
    assert not caught.value.maybe_sent
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert recorder.requests == []


# -- traffic classes --------------------------------------------------------------------------


async def test_every_endpoint_takes_a_priority_interactive_by_default() -> None:
    """Each endpoint method asks the limiter for a slot of its priority class."""
    limiter = RecordingLimiter()
    answer = {**SENT, "status": "sent", "sms_balance": 1, "message_ids": {}}
    async with client_for(Recorder(json_answer(200, answer)), limiter=limiter) as client:
        await client.send_sms("0712345678", "hi")
        for priority in Priority:
            await client.api_info(priority=priority)
            await client.test_connection(priority=priority)
            await client.get_balance(priority=priority)
            await client.check_status("API-1", priority=priority)
            await client.send_sms("0712345678", "hi", priority=priority)
            await client.send_bulk_sms(["0712345678"], "hi", priority=priority)
    assert limiter.priorities == [Priority.INTERACTIVE] + [p for p in Priority for _ in range(6)]


async def test_a_batch_is_bulk_by_default_and_its_balance_check_interactive() -> None:
    """Batches send as BULK (or the priority given); the balance check is one interactive
    request, taken from the reserve, so it never pushes the campaign into another window."""
    limiter = RecordingLimiter()
    answer = {**SENT, "sms_balance": 100, "message_ids": {}}
    items = [("0712345678", "a"), ("0712345679", "b")]
    async with client_for(Recorder(json_answer(200, answer)), limiter=limiter) as client:
        await client.send_batch(items, check_balance=True)
        await client.send_batch(items, priority=Priority.BACKGROUND)
    assert (
        limiter.priorities
        == [Priority.INTERACTIVE] + [Priority.BULK] * 2 + [Priority.BACKGROUND] * 2
    )


async def test_the_slot_learns_how_its_request_ended() -> None:
    """An answer, a refused connection (not sent) and a lost answer end slots differently."""
    limiter = RecordingLimiter()
    recorder = Recorder(
        json_answer(200, SENT), httpx.ConnectError("refused"), httpx.ReadTimeout("slow")
    )
    async with client_for(recorder, limiter=limiter, retry=RetryPolicy(attempts=1)) as client:
        await client.send_sms("0712345678", "hi")
        for _ in range(2):
            with pytest.raises(TexinError):
                await client.send_sms("0712345678", "hi")
    assert limiter.endings == [Ending.ANSWERED, Ending.NOT_SENT, Ending.UNANSWERED]


def test_a_client_used_in_a_second_event_loop_refuses_before_sending() -> None:
    """A client reused in a second asyncio.run(): a clear ClientStateError, nothing sent,
    instead of a bare RuntimeError after the server processed the SMS."""
    recorder = Recorder(json_answer(200, SENT))
    client = client_for(recorder)

    async def send() -> None:
        await client.send_sms("0712345678", "hi")

    asyncio.run(send())
    with pytest.raises(ClientStateError, match=r"asyncio\.run") as caught:
        asyncio.run(send())
    assert not caught.value.maybe_sent
    assert len(recorder.requests) == 1
