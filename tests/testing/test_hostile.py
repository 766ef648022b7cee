"""Hostile request bodies get the documented JSON 400, never a server's text/plain 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from texin_async.testing import DEFAULT_API_KEY, TexinEmulator, serve_in_thread
from texin_async.testing import _emulator as emulator_module
from texin_async.testing._payload import MAX_DEPTH
from texin_async.testing._routes import POST_ENDPOINTS

from ._support import NUMBER, error_of

KEY = DEFAULT_API_KEY
#: The smallest body each POST endpoint accepts (check_status then answers 404).
VALID: dict[str, dict[str, Any]] = {
    "send_sms": {"api_key": KEY, "recipient": NUMBER, "message": "Hi"},
    "send_bulk_sms": {"api_key": KEY, "recipients": [NUMBER], "message": "Hi"},
    "check_status": {"api_key": KEY, "message_id": "API-1"},
    "get_balance": {"api_key": KEY},
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[TexinEmulator, httpx.Client]]:
    """An emulator without a rate limit, so no answer is a 429 by chance; a client on it."""
    emulator = TexinEmulator(rate_limit=None)
    with serve_in_thread(emulator) as url, httpx.Client(base_url=url, timeout=10.0) as client:
        yield emulator, client


@pytest.fixture
def raw(served: tuple[TexinEmulator, httpx.Client]) -> httpx.Client:
    """A client on the reset emulator, for bodies given as bytes."""
    emulator, client = served
    emulator.reset()
    return client


def with_field(endpoint: str, name: str, literal: bytes) -> bytes:
    """The endpoint's valid body plus ``"name": literal``, the literal spliced in raw."""
    valid = json.dumps(VALID[endpoint]).encode()
    return valid[:-1] + b', "' + name.encode() + b'": ' + literal + b"}"


def nested(depth: int) -> bytes:
    """An array ``depth`` levels deep."""
    return b"[" * depth + b"]" * depth


def refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    """Assert ``response`` is the documented JSON refusal with ``status``; its body."""
    assert response.status_code == status, response.text
    return error_of(response)


# -- Undecodable and hostile bytes ----------------------------------------------------------


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_a_100000_deep_array_gets_400_json(raw: httpx.Client, endpoint: str) -> None:
    """Nesting that exhausts the decoder's recursion is a JSON 400, not uvicorn's text 500."""
    body = refused(raw.post(endpoint, content=nested(100_000)))
    assert str(MAX_DEPTH) in body["error"]


def test_nesting_just_past_the_limit_gets_400(raw: httpx.Client) -> None:
    """A value nested one level past MAX_DEPTH is refused, even in an otherwise valid request."""
    refused(raw.post("get_balance", content=with_field("get_balance", "x", nested(MAX_DEPTH))))


def test_nesting_up_to_the_limit_is_accepted(raw: httpx.Client) -> None:
    """A value MAX_DEPTH levels deep, counting the body's own object, is fine."""
    body = with_field("get_balance", "x", nested(MAX_DEPTH - 1))
    assert raw.post("get_balance", content=body).status_code == 200


@pytest.mark.parametrize("bad", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"ok\xe2\x82"])
def test_invalid_utf8_in_a_string_gets_400(raw: httpx.Client, bad: bytes) -> None:
    """A string that is not valid UTF-8 (overlong, surrogate or cut short) is a JSON 400."""
    refused(raw.post("get_balance", content=with_field("get_balance", "note", b'"' + bad + b'"')))


@pytest.mark.parametrize(
    "escape", [rb'"\ud800"', rb'"a\udbff b"', rb'"\udc00"', rb'"\udc00\ud800"']
)
def test_a_lone_surrogate_escape_gets_400(
    raw: httpx.Client, served: tuple[TexinEmulator, httpx.Client], escape: bytes
) -> None:
    """A \\uD800-style escape with no partner is a JSON 400, and nothing is sent."""
    body = json.dumps(VALID["send_sms"]).encode().replace(b'"Hi"', escape)
    refused(raw.post("send_sms", content=body))
    assert served[0].messages == {}


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1E+999", b"2e308"])
def test_a_float_beyond_double_range_gets_400(raw: httpx.Client, number: bytes) -> None:
    """A number no double holds (PHP would read INF) is a JSON 400."""
    refused(raw.post("get_balance", content=with_field("get_balance", "n", number)))


@pytest.mark.parametrize("digits", [19, 30, 4_300, 10_000])
def test_an_integer_beyond_64_bits_gets_400(raw: httpx.Client, digits: int) -> None:
    """An integer past PHP_INT_MAX, up to 10,000 digits, is a JSON 400."""
    body = with_field("get_balance", "n", b"-" + b"9" * digits)
    assert "out of range" in refused(raw.post("get_balance", content=body))["error"]


def test_a_64_bit_integer_is_accepted(raw: httpx.Client) -> None:
    """PHP_INT_MAX and PHP_INT_MIN themselves are ordinary numbers."""
    body = with_field("get_balance", "n", str(2**63 - 1).encode())
    body = body[:-1] + b', "m": ' + str(-(2**63)).encode() + b"}"
    assert raw.post("get_balance", content=body).status_code == 200


@pytest.mark.parametrize("content", [b"", b" ", b"\r\n\t  \n"])
def test_an_empty_or_blank_body_gets_400(raw: httpx.Client, content: bytes) -> None:
    """A body with nothing but JSON whitespace is a JSON 400 that says it is empty."""
    assert "empty" in refused(raw.post("send_sms", content=content))["error"]


@pytest.mark.parametrize("content", [b"[]", b"true", b"1.5", b'[{"api_key": "texin-test-key"}]'])
def test_json_that_is_not_an_object_gets_400(raw: httpx.Client, content: bytes) -> None:
    """Valid JSON that is not an object is a JSON 400 saying an object is needed."""
    assert "object" in refused(raw.post("get_balance", content=content))["error"]


# -- Wrong field types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "fields"),
    [
        ("send_sms", {"message": 37}),
        ("send_sms", {"message": 1e300}),
        ("send_sms", {"recipient": {"number": NUMBER}}),
        ("send_bulk_sms", {"recipients": {"0": NUMBER}}),
        ("send_bulk_sms", {"recipients": [{"number": NUMBER}]}),
        ("send_bulk_sms", {"recipients": [[NUMBER]]}),
        ("send_bulk_sms", {"recipients": [NUMBER, None]}),
        ("check_status", {"message_id": {"id": "API-1"}}),
    ],
)
def test_a_mistyped_field_gets_400(
    raw: httpx.Client, endpoint: str, fields: dict[str, Any]
) -> None:
    """Numbers, maps and nested objects where strings or a string array belong are a 400."""
    refused(raw.post(endpoint, json={**VALID[endpoint], **fields}))


@pytest.mark.parametrize("endpoint", ["send_sms", "send_bulk_sms", "check_status"])
def test_null_in_every_field_but_the_key_gets_400(raw: httpx.Client, endpoint: str) -> None:
    """Every parameter null (sender_id too) is a 400 for the missing one, nothing sent."""
    fields = dict.fromkeys(VALID[endpoint], None) | {"api_key": KEY, "sender_id": None}
    assert "required" in refused(raw.post(endpoint, json=fields))["error"]


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_null_in_every_field_gets_401(raw: httpx.Client, endpoint: str) -> None:
    """A null api_key names no account: 401, whatever else is null."""
    refused(raw.post(endpoint, json=dict.fromkeys(VALID[endpoint], None)), status=401)


# -- Property: every hostile body, every POST endpoint --------------------------------------

_NON_STRINGS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)
_LONE_SURROGATES = st.builds(
    lambda before, code, after: f'"{before}\\u{code:04x}{after}"'.encode(),
    st.text("abc xyz", max_size=5),
    st.integers(0xD800, 0xDFFF),
    st.text("abc xyz", max_size=5),
)
_NOT_UTF8 = st.binary(min_size=1, max_size=6).filter(lambda b: not _is_utf8(b))
_HUGE_NUMBERS = st.sampled_from([b"1e400", b"-1e400", b"1.8e308"]) | st.builds(
    lambda sign, digits: sign + b"9" * digits, st.sampled_from([b"", b"-"]), st.integers(19, 10_000)
)
#: Raw JSON values that make an otherwise valid request undecodable or hostile.
_POISON = (
    _LONE_SURROGATES
    | _NOT_UTF8.map(lambda b: b'"' + b + b'"')
    | _HUGE_NUMBERS
    | st.integers(MAX_DEPTH, 5_000).map(nested)
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def hostile_bodies(draw: st.DrawFn, endpoint: str) -> bytes:
    """Bytes no endpoint may accept: garbage, deep nesting, a poisoned or mistyped request."""
    kind = draw(st.sampled_from(["bytes", "deep", "poison", "mistyped"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "deep":
        return nested(draw(st.integers(MAX_DEPTH + 1, 100_000)))
    if kind == "poison":
        return with_field(endpoint, draw(st.sampled_from(["x", *VALID[endpoint]])), draw(_POISON))
    field = draw(st.sampled_from(list(VALID[endpoint])))
    return json.dumps({**VALID[endpoint], field: draw(_NON_STRINGS)}).encode()


@settings(max_examples=100, deadline=None)
@given(data=st.data(), endpoint=st.sampled_from(POST_ENDPOINTS))
def test_every_hostile_body_gets_a_json_4xx(
    served: tuple[TexinEmulator, httpx.Client], data: st.DataObject, endpoint: str
) -> None:
    """Whatever hostile body a POST endpoint gets, it answers a JSON 4xx with success false."""
    body = data.draw(hostile_bodies(endpoint))
    response = served[1].post(endpoint, content=body)
    assert 400 <= response.status_code < 500, response.text
    error_of(response)


# -- The last-resort guard ------------------------------------------------------------------


def test_a_crashing_handler_answers_the_documented_500(
    client: httpx.Client,
    texin_emulator: TexinEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception in the emulator's own code is a JSON 500, logged and counted, not a text 500."""

    def crash(*_: object) -> None:
        raise RuntimeError("a bug in the emulator")

    monkeypatch.setattr(emulator_module, "answer_post", crash)
    with caplog.at_level(logging.ERROR, logger="texin_async.testing"):
        response = client.post("get_balance", json={"api_key": KEY})
    assert refused(response, status=500)["message"] == "Internal server error"
    assert texin_emulator.requests() == {("get_balance", 500): 1}
    [record] = [r for r in caplog.records if r.name == "texin_async.testing"]
    assert record.exc_info is not None
    assert "a bug in the emulator" in str(record.exc_info[1])


@pytest.mark.anyio
async def test_a_failure_after_the_answer_started_is_logged_not_answered_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once the response has started, a failure is only logged: no second response begins."""
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "http.response.body":
            raise RuntimeError("the socket went away")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/api/test_connection", "client": None}
    with caplog.at_level(logging.ERROR, logger="texin_async.testing"):
        await TexinEmulator()(scope, receive, send)  # type: ignore[arg-type]
    assert sent == ["http.response.start", "http.response.body"]
    assert [r.name for r in caplog.records] == ["texin_async.testing"]
