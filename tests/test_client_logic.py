"""TexinClient's pure logic over httpx.MockTransport: validation, classification, retry rules.

Behaviour over real sockets against the emulator is in test_client.py.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable

import anyio
import httpx
import pytest

from texin_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InvalidRequestError,
    LocalRateLimiter,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    ResponseDecodeError,
    RetryDetails,
    RetryPolicy,
    ServerError,
    TexinClient,
    TexinError,
)

pytestmark = pytest.mark.anyio

CANARY = "canary-SECRET-KEY-0123456789"
FAST = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)
SENT = {
    "success": True,
    "message": "SMS sent successfully!",
    "message_id": "API-1",
    "recipient": "254712345678",
    "units_used": 1,
    "cost": 0.3,
    "new_balance": 92,
}
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that counts requests and replays a script of answers."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(handler: Handler, **kw: object) -> TexinClient:
    kw.setdefault("retry", FAST)
    if "limiter" not in kw:
        kw.setdefault("rate_limit", None)
    return TexinClient(
        CANARY,
        base_url="http://127.0.0.1/api/",
        transport=httpx.MockTransport(handler),
        **kw,  # type: ignore[arg-type]
    )


def json_answer(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def error_body(message: str = "nope", error: str = "detail") -> dict[str, object]:
    return {"success": False, "message": message, "error": error}


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
        with pytest.raises(InvalidRequestError, match="not a single string"):
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


async def test_wrong_shape_success_is_unusable_for_a_read() -> None:
    """A 200 that is JSON but not the documented shape is a ResponseDecodeError."""
    recorder = Recorder(json_answer(200, {"success": True, "unexpected": 1}))
    async with client_for(recorder, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(ResponseDecodeError) as caught:
            await client.get_balance()
    assert caught.value.status_code == 200
    assert "unexpected" in caught.value.excerpt


# -- retry rules -----------------------------------------------------------------------------


def html_502() -> httpx.Response:
    return httpx.Response(
        502, text="<html>502 Bad Gateway</html>", headers={"Content-Type": "text/html"}
    )


async def test_send_with_json_5xx_refusal_is_retried() -> None:
    """A 5xx whose JSON says success:false proves nothing was sent: retry it."""
    recorder = Recorder(json_answer(500, error_body()), json_answer(200, SENT))
    async with client_for(recorder) as client:
        result = await client.send_sms("0712345678", "hi")
    assert result.message_id == "API-1"
    assert len(recorder.requests) == 2


async def test_send_gives_up_after_the_policys_attempts() -> None:
    """Retries stop at RetryPolicy.attempts and raise the last error, not a RetryError."""
    recorder = Recorder(json_answer(500, error_body()))
    async with client_for(recorder) as client:
        with pytest.raises(ServerError):
            await client.send_sms("0712345678", "hi")
    assert len(recorder.requests) == FAST.attempts


async def test_send_with_html_502_is_outcome_unknown_and_not_retried() -> None:
    """A proxy's HTML 502 after a send leaves the outcome unknown: never resent."""
    recorder = Recorder(html_502(), json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.send_sms("0712345678", "hi")
    assert caught.value.status_code == 502
    assert len(recorder.requests) == 1


async def test_ambiguous_send_retried_only_when_opted_in() -> None:
    """retry_ambiguous_sends=True trades never-twice for never-lost."""
    recorder = Recorder(html_502(), json_answer(200, SENT))
    policy = RetryPolicy(
        attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, retry_ambiguous_sends=True
    )
    async with client_for(recorder, retry=policy) as client:
        await client.send_sms("0712345678", "hi")
    assert len(recorder.requests) == 2


async def test_truncated_send_answer_is_outcome_unknown_with_excerpt() -> None:
    """A 200 with half a JSON body is outcome-unknown, keeping what came back."""
    body = json.dumps(SENT)[:40]
    recorder = Recorder(httpx.Response(200, text=body))
    async with client_for(recorder) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.send_sms("0712345678", "hi")
    assert caught.value.excerpt == body
    assert len(recorder.requests) == 1


async def test_read_with_html_502_is_retried() -> None:
    """Reads are safe to repeat, so an unusable answer is retried."""
    balance = {"success": True, "sms_balance": 86}
    recorder = Recorder(html_502(), json_answer(200, balance))
    async with client_for(recorder) as client:
        assert (await client.get_balance()).sms_balance == 86
    assert len(recorder.requests) == 2


@pytest.mark.parametrize(
    ("fault", "raised", "calls"),
    [
        (httpx.ConnectError("refused"), APIConnectionError, FAST.attempts),
        (httpx.ConnectTimeout("slow connect"), APIConnectionError, FAST.attempts),
        (httpx.ReadTimeout("slow answer"), APITimeoutError, 1),
        (httpx.RemoteProtocolError("dropped"), OutcomeUnknownError, 1),
        (httpx.ReadError("reset"), OutcomeUnknownError, 1),
    ],
)
async def test_send_retries_only_what_was_provably_not_sent(
    fault: Exception, raised: type[TexinError], calls: int
) -> None:
    """Connect failures are retried; a failure after sending is raised at once."""
    recorder = Recorder(fault)
    async with client_for(recorder) as client:
        with pytest.raises(raised) as caught:
            await client.send_sms("0712345678", "hi")
    assert isinstance(caught.value.__cause__, httpx.HTTPError)
    assert len(recorder.requests) == calls


async def test_timeout_on_a_read_is_retried() -> None:
    """A read that timed out is asked again."""
    recorder = Recorder(
        httpx.ReadTimeout("slow"), json_answer(200, {"success": True, "sms_balance": 1})
    )
    async with client_for(recorder) as client:
        await client.get_balance()
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_never_retried(status: int) -> None:
    """4xx (bad input, bad key, insufficient balance) is final."""
    recorder = Recorder(json_answer(status, error_body()))
    async with client_for(recorder) as client:
        with pytest.raises(APIError):
            await client.send_sms("0712345678", "hi")
    assert len(recorder.requests) == 1


async def test_success_false_on_200_is_final_for_sends() -> None:
    """A 200 with success:false (e.g. an invalid sender id) is an APIError, not retried."""
    recorder = Recorder(json_answer(200, error_body("Failed to send SMS", "SenderId invalid")))
    async with client_for(recorder) as client:
        with pytest.raises(APIError, match="SenderId invalid"):
            await client.send_sms("0712345678", "hi")
    assert len(recorder.requests) == 1


class RecordingLimiter:
    """A RateLimiter that records what the client asks of it."""

    def __init__(self) -> None:
        self.acquired = 0
        self.released = 0
        self.pauses: list[float] = []

    async def acquire(self, key_id: str) -> None:
        self.acquired += 1

    async def release(self, key_id: str) -> None:
        self.released += 1

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


async def test_retry_hook_is_told_each_retry() -> None:
    """RetryPolicy.on_retry receives a RetryDetails per retry."""
    seen: list[RetryDetails] = []
    policy = RetryPolicy(
        attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, on_retry=seen.append
    )
    recorder = Recorder(
        json_answer(500, error_body()), json_answer(500, error_body()), json_answer(200, SENT)
    )
    async with client_for(recorder, retry=policy) as client:
        await client.send_sms("0712345678", "hi")
    assert [(d.endpoint, d.attempt) for d in seen] == [("send_sms", 1), ("send_sms", 2)]
    assert all(isinstance(d.error, ServerError) for d in seen)


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
    html_502(),
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


async def test_an_earlier_unknown_outcome_is_not_hidden_by_a_later_refusal() -> None:
    """With ambiguous retries on, a drop then 500s ends in OutcomeUnknownError: the
    dropped attempt may have been processed, so "safe to retry" would be a lie."""
    recorder = Recorder(httpx.RemoteProtocolError("dropped"), json_answer(500, error_body()))
    policy = RetryPolicy(
        attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, retry_ambiguous_sends=True
    )
    async with client_for(recorder, retry=policy) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.send_sms("0712345678", "hi")
    assert isinstance(caught.value.__cause__, ServerError)
    assert len(recorder.requests) == 3


async def test_retry_details_count_time_from_the_first_attempt() -> None:
    """RetryDetails.elapsed includes the first attempt, which runs outside tenacity."""
    seen: list[RetryDetails] = []

    async def slow_then_ok(request: httpx.Request) -> httpx.Response:
        if not seen:
            await anyio.sleep(0.2)
            return json_answer(500, error_body())
        return json_answer(200, SENT)

    policy = RetryPolicy(
        attempts=2, wait_initial=0, wait_max=0, wait_jitter=0, on_retry=seen.append
    )
    async with client_for(slow_then_ok, retry=policy) as client:
        await client.send_sms("0712345678", "hi")
    assert seen[0].elapsed >= 0.2


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
    ("kwargs", "error"),
    [
        ({"rate_limit": RateLimit(), "limiter": RecordingLimiter()}, ValueError),
        ({"rate_limit": 100}, TypeError),
        ({"timeout": None}, ValueError),
        ({"max_connections": 0}, ValueError),
        ({"http_client": httpx.AsyncClient(), "verify": "/tmp/ca.pem"}, ValueError),
        ({"http_client": httpx.AsyncClient(), "transport": "aiohttp"}, ValueError),
    ],
)
def test_arguments_that_would_be_ignored_or_fail_later_are_refused(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    """A setting that would be silently ignored, or fail on the first request, fails now."""
    with pytest.raises(error):
        TexinClient(CANARY, **kwargs)  # type: ignore[arg-type]


def test_rate_limit_accepts_the_cli_shorthand() -> None:
    """rate_limit="20/2" is read at construction, like the CLI's --rate-limit."""
    client = TexinClient(CANARY, rate_limit="20/2")
    assert client._limiter is LocalRateLimiter.shared(RateLimit(max_rate=20, time_period=2.0))


def test_retry_attempts_must_be_a_whole_number() -> None:
    """RetryPolicy(attempts=2.5) is refused, not rounded somewhere later."""
    with pytest.raises(TypeError, match="attempts"):
        RetryPolicy(attempts=2.5)  # type: ignore[arg-type]
