"""Every bad argument is a TexinError that names it, raised before anything is sent.

Only ``InvalidRequestError`` (and ``JournalError`` for a journal path) may come out of a
constructor or a method given a wrong type or value: never an ``AttributeError`` at the
first retry, an ``httpx.InvalidURL``, a ``FileNotFoundError`` or a bare ``TypeError``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mock_api import CANARY, SENT, Recorder, client_for, json_answer

from texin_async import (
    BatchProgress,
    InvalidRequestError,
    JournalError,
    LocalRateLimiter,
    Message,
    OutcomeStatus,
    Priority,
    RateLimit,
    RetryPolicy,
    SyncTexinClient,
    TexinClient,
    TexinError,
)

pytestmark = pytest.mark.anyio

LOOPBACK = "http://127.0.0.1/api/"


def build(**kwargs: Any) -> TexinClient:
    """A client on a MockTransport (nothing can leave the process), with ``kwargs``."""
    kwargs.setdefault("base_url", LOOPBACK)
    return TexinClient(CANARY, transport=httpx.MockTransport(Recorder()), **kwargs)


# -- constructors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"base_url": 5}, "base_url must be a string, got int"),
        ({"base_url": "http://[::1/api/"}, "base_url is not a valid URL"),
        ({"base_url": "http://127.0.0.1/api/?v=2"}, "must not have a query or fragment"),
        ({"base_url": "http://127.0.0.1/api/#top"}, "must not have a query or fragment"),
        ({"base_url": "ftp://127.0.0.1/api/"}, "base_url must be an http(s) URL"),
        ({"retry": None}, "retry must be a RetryPolicy, got None"),
        ({"retry": {"attempts": 2}}, "retry must be a RetryPolicy, got dict"),
        ({"timeout": "30"}, "timeout must be a number of seconds, got str"),
        ({"timeout": float("nan")}, "timeout must be a finite number > 0"),
        ({"timeout": httpx.Timeout(5.0, read=None)}, "timeout.read must be a positive number"),
        ({"max_connections": "10"}, "max_connections must be a whole number, got str"),
        ({"max_connections": True}, "max_connections must be a whole number, got bool"),
        ({"rate_limit": "fast"}, "rate limit must look like '100/60'"),
        ({"rate_limit": "0/60"}, "max_rate must be >= 1"),
        ({"limiter": object()}, "limiter must be a RateLimiter"),
        ({"sender_id": 5}, "sender_id must be a string, got int"),
        ({"sender_id": "  "}, "sender_id must not be empty"),
        ({"hooks": 5}, "a hook must be a callable"),
        ({"verify": "/nonexistent/ca.pem"}, "could not load the CA bundle '/nonexistent/ca.pem'"),
        ({"verify": False}, "TLS verification cannot be turned off"),
        ({"transport": "curl"}, "transport must be an httpx transport or 'aiohttp'"),
        ({"max_answer_bytes": "4MiB"}, "max_answer_bytes must be a whole number"),
        ({"allow_insecure_http": "no"}, "allow_insecure_http must be True or False, got str"),
        ({"timeout": 10**400}, "timeout must be a finite number > 0"),
        ({"base_url": "https://xn--a.com/api/"}, "base_url is not a valid URL"),
        ({"base_url": "http://127.0.0.1/\ud800/"}, "base_url is not a valid URL"),
    ],
)
@pytest.mark.parametrize("cls", [TexinClient, SyncTexinClient])
def test_a_bad_constructor_argument_is_named(
    kwargs: dict[str, Any], named: str, cls: type[TexinClient | SyncTexinClient]
) -> None:
    """Each refused at construction with an InvalidRequestError that says what is wrong,
    by the async client and the sync one alike."""
    kwargs = {"base_url": LOOPBACK, "transport": httpx.MockTransport(Recorder()), **kwargs}
    with pytest.raises(InvalidRequestError) as caught:
        cls(CANARY, **kwargs)
    assert named in str(caught.value)
    assert CANARY not in str(caught.value)


def test_a_key_that_is_not_a_string_is_refused_without_showing_it() -> None:
    with pytest.raises(InvalidRequestError, match="no usable API key \\(got int\\)"):
        TexinClient(5, base_url=LOOPBACK)  # type: ignore[arg-type]


def test_an_http_client_that_is_not_one_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match=r"http_client must be an httpx\.AsyncClient"):
        TexinClient(CANARY, base_url=LOOPBACK, http_client=httpx.Client())  # type: ignore[arg-type]


def test_a_ca_bundle_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(InvalidRequestError, match="could not load the CA bundle"):
        TexinClient(CANARY, base_url=LOOPBACK, verify=str(bundle))


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: RateLimit(max_rate=2.5), "max_rate must be a whole number, got float 2.5"),  # type: ignore[arg-type]
        (lambda: RateLimit(time_period="60"), "time_period must be a number of seconds"),  # type: ignore[arg-type]
        (lambda: RateLimit(margin=None), "margin must be a share, got None"),  # type: ignore[arg-type]
        (lambda: RateLimit(reserve=1.5), "reserve must be a share in [0, 1)"),
        (lambda: RetryPolicy(wait_max="8"), "wait_max must be a number of seconds, got str"),  # type: ignore[arg-type]
        (lambda: RetryPolicy(attempts=0), "attempts must be >= 1"),
        (lambda: RetryPolicy(on_retry=5), "on_retry must be a callable or None"),  # type: ignore[arg-type]
        (lambda: RateLimit.parse(None), "rate limit must look like '100/60'"),  # type: ignore[arg-type]
        (lambda: RateLimit(time_period=10**400), "time_period must be a finite number > 0"),
        (
            lambda: RetryPolicy(retry_ambiguous_sends="no"),  # type: ignore[arg-type]
            "retry_ambiguous_sends must be True or False",
        ),
    ],
)
def test_a_bad_setting_is_named(make: Callable[[], object], named: str) -> None:
    """The config objects check their fields the same way."""
    with pytest.raises(InvalidRequestError) as caught:
        make()
    assert named in str(caught.value)


# -- methods ---------------------------------------------------------------------------------


Call = Callable[[TexinClient], Coroutine[Any, Any, object]]


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda c: c.send_bulk_sms(None, "hi"), "recipients must be a list of numbers, got None"),
        (lambda c: c.send_bulk_sms(5, "hi"), "recipients must be a list of numbers, got int"),
        (lambda c: c.send_sms(712345678, "hi"), "recipient must be a str, got int"),
        (lambda c: c.for_key("\ud800"), "the API key holds a lone surrogate"),
        (lambda c: c.send_sms("0712345678", 5), "message must be a string, got int"),
        (lambda c: c.send_sms("0712345678", "hi", sender_id=5), "sender_id must be a string"),
        (lambda c: c.send_sms("0712345678", "hi", priority="bulk"), "priority must be a Priority"),
        (lambda c: c.get_balance(priority=1), "priority must be a Priority, got int 1"),
        (lambda c: c.check_status(None), "message_id must be a string, got None"),
        (lambda c: c.send_batch(5), "items must be an iterable"),
        (lambda c: c.send_batch(None), "items must be an iterable"),
        (lambda c: c.send_batch([], chunk_size="100"), "chunk_size must be a whole number"),
        (lambda c: c.send_batch([], lookahead=5, chunk_size=10), "only group items the batch has"),
        (lambda c: c.send_batch([], journal=5), "journal must be a file path or None, got int"),
        (lambda c: c.send_batch([], on_outcome="print"), "on_outcome must be a callable"),
        (lambda c: c.send_batch([], progress=object()), "progress must be a BatchProgress"),
        (lambda c: c.send_batch([], cost_per_unit=0.3), "cost_per_unit must be a Decimal"),
        (lambda c: c.send_batch([], cost_per_unit=Decimal("NaN")), "cost_per_unit must be a"),
        (lambda c: c.send_batch([], priority="bulk"), "priority must be a Priority"),
        (lambda c: c.send_batch([], resend_unknown="no"), "resend_unknown must be True or False"),
        (lambda c: c.send_batch([], retry_failed=1), "retry_failed must be True or False"),
        (lambda c: c.send_batch([], journal="job\0.sqlite"), "cannot be opened"),
    ],
)
async def test_a_bad_method_argument_is_named_and_nothing_is_sent(call: Call, named: str) -> None:
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(TexinError) as caught:
            await call(client)
    assert named in str(caught.value)
    assert isinstance(caught.value, InvalidRequestError | JournalError)
    assert recorder.requests == []


async def test_a_text_that_is_not_a_string_is_named_in_its_outcome() -> None:
    """Not "the text is empty": a batch item's text of the wrong type says so."""
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        outcomes = [o async for o in client.iter_batch([Message("0712345678", 42)])]  # type: ignore[arg-type]
    assert outcomes[0].status is OutcomeStatus.INVALID
    assert outcomes[0].error == "the text must be a string, not int"
    assert recorder.requests == []


# -- journal paths and files -----------------------------------------------------------------


async def run_with_journal(journal: Path) -> Recorder:
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        await client.send_batch([("0712345678", "hi")], journal=journal)
    return recorder


@pytest.mark.parametrize(
    ("where", "named"),
    [(".", "is a folder"), ("missing/job.sqlite", "does not exist")],
    ids=["a folder", "no folder"],
)
async def test_a_journal_path_no_journal_can_be_at_is_refused(
    tmp_path: Path, where: str, named: str
) -> None:
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(JournalError, match=named):
            await client.send_batch([("0712345678", "hi")], journal=tmp_path / where)
    assert recorder.requests == []


def damage(journal: Path, sql: str) -> None:
    with sqlite3.connect(journal) as db:
        db.execute(sql)
    db.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE items SET state = 42",
        "UPDATE items SET error = CAST(X'FFFE00C3' AS TEXT)",  # a flipped bit in a text
        "UPDATE items SET normalized = CAST(X'C328' AS TEXT)",
    ],
    ids=["unknown state", "bad utf-8 error", "bad utf-8 number"],
)
async def test_a_damaged_journal_is_a_journal_error_and_nothing_is_sent(
    tmp_path: Path, sql: str
) -> None:
    journal = tmp_path / "job.sqlite"
    await run_with_journal(journal)
    damage(journal, sql)
    recorder = Recorder(json_answer(200, SENT))
    async with client_for(recorder) as client:
        with pytest.raises(JournalError, match="cannot be read"):
            await client.send_batch([("0712345678", "hi")], journal=journal)
    assert recorder.requests == []


# -- any argument at all ---------------------------------------------------------------------

FOLDER = tempfile.gettempdir()  # a folder that exists: a journal path the SDK refuses

ODD: list[object] = [
    None,
    True,
    0,
    -1,
    3,
    2.5,
    float("nan"),
    float("inf"),
    "",
    " ",
    "x",
    "100/60",
    "\ud800",
    b"0712345678",
    [],
    {},
    ("0712345678", "hi"),
    object(),
    print,
    Decimal("0.3"),
    httpx.Timeout(2.0),
    RateLimit(max_rate=1000, time_period=1.0),
    RetryPolicy(attempts=1),
    Priority.BACKGROUND,
    LocalRateLimiter(None),
    BatchProgress(),
    FOLDER,
    Message("0712345678", "hi"),
    ["0712345678", 5],
    [("0712345678", "hi"), ("x", None)],
    10**400,
    -(10**400),
    "no",
    "0",
    "\x00",
    "https://xn--a.com/api/",
]
odd = st.sampled_from(ODD)

CONSTRUCTOR = {
    "base_url": st.one_of(
        odd,
        st.sampled_from(
            [
                LOOPBACK,
                "https://texin.example/api",
                "http://[::1",
                "http://127.0.0.1/?a",
                "https://xn--a.com/api/",
                "http://127.0.0.1/\ud800/",
                "http://user:pw@127.0.0.1:99999/",
            ]
        ),
        st.text(max_size=30),
    ),
    "sender_id": odd,
    "rate_limit": odd,
    "limiter": odd,
    "retry": odd,
    "timeout": odd,
    "max_connections": odd,
    "max_answer_bytes": st.one_of(odd, st.integers(-10, 10**7)),
    "hooks": odd,
    "verify": st.one_of(odd, st.just("/nonexistent/ca.pem")),
    "allow_insecure_http": odd,
}


def answer(request: httpx.Request) -> httpx.Response:
    return json_answer(200, SENT)


def escapes(run: Callable[[], Coroutine[Any, Any, object]]) -> BaseException | None:
    """What ``run`` raised, if anything, in an event loop of its own."""
    try:
        asyncio.run(run())
    except BaseException as exc:
        return exc
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(api_key=odd, kwargs=st.fixed_dictionaries({}, optional=CONSTRUCTOR))
def test_any_constructor_arguments_give_a_client_or_a_texin_error(
    api_key: object, kwargs: dict[str, Any]
) -> None:
    """Whatever the arguments, the constructor makes a client that sends, or raises a
    TexinError, never anything else; and a refused client sent nothing."""
    recorder = Recorder(json_answer(200, SENT))

    async def construct_and_send() -> None:
        client = TexinClient(api_key, transport=httpx.MockTransport(recorder), **kwargs)  # type: ignore[arg-type]
        async with client:
            await client.send_sms("0712345678", "hi")

    error = escapes(construct_and_send)
    assert error is None or isinstance(error, TexinError), repr(error)
    if isinstance(error, InvalidRequestError):
        assert recorder.requests == []


def method_calls() -> st.SearchStrategy[tuple[str, tuple[object, ...], dict[str, object]]]:
    number = st.one_of(odd, st.just("0712345678"))
    text = st.one_of(odd, st.just("hi"))
    priority = st.one_of(odd, st.sampled_from(Priority))
    batch_options = st.fixed_dictionaries(
        {},
        optional={
            "chunk_size": odd,
            "max_in_flight": odd,
            "journal": st.sampled_from([None, 5, b"x", FOLDER, object()]),
            "on_outcome": odd,
            "dry_run": odd,
            "lookahead": odd,
            "progress": odd,
            "cost_per_unit": odd,
            "priority": priority,
        },
    )
    return st.one_of(
        st.tuples(
            st.just("send_sms"),
            st.tuples(number, text),
            st.fixed_dictionaries({}, optional={"sender_id": odd, "priority": priority}),
        ),
        st.tuples(
            st.just("send_bulk_sms"),
            st.tuples(st.one_of(odd, st.just(["0712345678"])), text),
            st.fixed_dictionaries({}, optional={"sender_id": odd, "priority": priority}),
        ),
        st.tuples(st.just("check_status"), st.tuples(text), st.just({})),
        st.tuples(
            st.just("get_balance"),
            st.just(()),
            st.fixed_dictionaries({}, optional={"priority": priority}),
        ),
        st.tuples(
            st.just("for_key"),
            st.tuples(st.one_of(odd, st.just("acct-key-000001"))),
            st.fixed_dictionaries({}, optional={"sender_id": odd}),
        ),
        st.tuples(st.sampled_from(["send_batch", "iter_batch"]), st.tuples(odd), batch_options),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=method_calls())
def test_any_method_arguments_give_a_result_or_a_texin_error_and_send_nothing(
    call: tuple[str, tuple[object, ...], dict[str, object]],
) -> None:
    """Whatever a method is given, it returns or raises a TexinError; when it raises, no
    request left."""
    name, args, kwargs = call
    recorder = Recorder(json_answer(200, SENT))

    async def invoke() -> None:
        async with client_for(recorder) as client:
            method = getattr(client, name)
            result = method(*args, **kwargs)
            if asyncio.iscoroutine(result):
                await result
            elif name == "iter_batch":
                async for _ in result:
                    pass

    error = escapes(invoke)
    assert error is None or isinstance(error, TexinError), repr(error)
    if error is not None:
        assert recorder.requests == []
