"""The API key in no exception, traceback (locals included), outcome, journal or CLI line.

Every error path a request can take, on both backends, is formatted as an error tracker
would keep it (``capture_locals=True``, chained causes included) and searched for the key;
so is every string of a server that echoes the request body (the key in it) back.
"""

from __future__ import annotations

import asyncio
import json
import socket
import traceback
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hostile_server import (
    JSON,
    HostileServer,
    Script,
    answer,
    head,
    hostile_server,
    hostile_server_in_thread,
    whole,
)
from mock_api import HookLimiter

from texin_async import (
    APIConnectionError,
    APIError,
    JournalError,
    LimiterUnavailableError,
    OutcomeStatus,
    Priority,
    RetryPolicy,
    SyncTexinClient,
    TexinClient,
    TexinError,
)
from texin_async._cli._app import run
from texin_async._endpoints import SEND_SMS
from texin_async._secret import Secret
from texin_async._transport import TransportChoice
from texin_async.testing import Account, Fault, TexinEmulator, serve_in_thread

pytestmark = pytest.mark.anyio

CANARY = "sk_live_7Qz-CANARY-key-4d1e"
ONCE = RetryPolicy(attempts=1, max_retry_after=0)


def leaks(exc: BaseException) -> list[str]:
    """The renderings of ``exc`` a user, a log or an error tracker keeps that show the key."""
    shown = {
        "str": str(exc),
        "repr": repr(exc),
        "attributes": repr(getattr(exc, "__dict__", {})),
        "traceback": "".join(traceback.format_exception(exc)),
        "locals": "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        ),
    }
    return [name for name, text in shown.items() if CANARY in text]


@pytest.fixture(params=[pytest.param(None, id="httpx"), pytest.param("aiohttp", id="aiohttp")])
def backend(request: pytest.FixtureRequest) -> TransportChoice:
    choice: TransportChoice = request.param
    return choice


async def failure(url: str, backend: TransportChoice, **kw: object) -> TexinError:
    """The error one send to ``url`` ends in."""
    kw.setdefault("timeout", 0.3)
    async with TexinClient(
        CANARY,
        base_url=url,
        transport=backend,
        retry=ONCE,
        rate_limit=None,
        **kw,  # type: ignore[arg-type]
    ) as client:
        with pytest.raises(TexinError) as caught:
            await client.send_sms("0712345678", "Your code is 4821")
    return caught.value


# -- every fault of the emulator -------------------------------------------------------------


@pytest.fixture(scope="module")
def canary_emulator() -> Iterator[tuple[TexinEmulator, str]]:
    emulator = TexinEmulator([Account(api_key=CANARY)], rate_limit=None, slow_seconds=0.6)
    with serve_in_thread(emulator) as url:
        yield emulator, url


@pytest.mark.parametrize("fault", list(Fault))
async def test_no_fault_of_the_service_shows_the_key(
    canary_emulator: tuple[TexinEmulator, str], backend: TransportChoice, fault: Fault
) -> None:
    """Drops, timeouts, 5xx, 429, HTML and cut-off answers: the key is in no rendering."""
    emulator, url = canary_emulator
    emulator.faults.clear()
    emulator.faults.schedule(fault)
    assert leaks(await failure(url, backend)) == []


async def test_a_wrong_key_and_a_refused_number_do_not_show_the_key(
    canary_emulator: tuple[TexinEmulator, str], backend: TransportChoice
) -> None:
    """The API's own refusals (401 for another key, 400 for a number) carry no key."""
    _, url = canary_emulator
    async with TexinClient(
        CANARY + "-old", base_url=url, transport=backend, retry=ONCE, rate_limit=None
    ) as client:
        with pytest.raises(APIError) as wrong_key:
            await client.get_balance()
    assert wrong_key.value.status_code == 401
    assert leaks(wrong_key.value) == []
    emulator, _ = canary_emulator
    emulator.faults.clear()
    async with TexinClient(
        CANARY, base_url=url, transport=backend, retry=ONCE, rate_limit=None
    ) as client:
        with pytest.raises(APIError) as refused:
            await client.send_sms("0110000001", "hi")  # a number the API refuses
    assert refused.value.status_code == 400
    assert leaks(refused.value) == []


async def test_an_unreachable_server_does_not_show_the_key(backend: TransportChoice) -> None:
    """Connection refused: the error comes from deep inside httpx or aiohttp, frames and all."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exc = await failure(f"http://127.0.0.1:{port}/api/", backend)
    assert isinstance(exc, APIConnectionError)
    assert leaks(exc) == []


@pytest.mark.parametrize(
    "script",
    [whole(b"", then="reset"), whole(head("200 OK", JSON, "Content-Length: 50"), then="hold")],
    ids=["reset", "held"],
)
async def test_a_reset_or_a_silent_server_does_not_show_the_key(
    backend: TransportChoice, script: Script
) -> None:
    async with hostile_server(script) as server:
        exc = await failure(server.url, backend, timeout=0.2)
    assert exc.maybe_sent
    assert leaks(exc) == []


async def test_a_failing_limiter_or_journal_does_not_show_the_key() -> None:
    """Failures before anything is sent (the limiter's, a batch journal's) carry no key."""

    class Broken(HookLimiter):
        async def acquire(self, key_id: str, priority: Priority) -> None:
            raise RuntimeError("redis is down")

    async with TexinClient(CANARY, base_url="http://127.0.0.1:9/api/", limiter=Broken()) as c:
        with pytest.raises(LimiterUnavailableError) as caught:
            await c.send_sms("0712345678", "hi")
    assert leaks(caught.value) == []

    async def departure() -> None:
        raise JournalError("journal job.sqlite: disk I/O error")

    async with TexinClient(CANARY, base_url="http://127.0.0.1:9/api/", rate_limit=None) as c:
        payload = c._sms_payload("0712345678", "hi", None)
        with pytest.raises(JournalError) as journal:
            await c._request(SEND_SMS, payload, departure=departure)
    assert leaks(journal.value) == []


# -- a server that echoes the request body ---------------------------------------------------


BALANCE = b'{"success": true, "sms_balance": "500.00", "sms_cost_per_unit": "0.30"}'


def quoting(template: str, body: str) -> str:
    """``template`` quoting the request ``body``: ``{body}`` as a JSON string's content
    (PHP's json_encode, slashes escaped), ``{ubody}`` every character a ``\\u`` escape,
    ``{qbody}`` percent-encoded as in a URL."""
    return (
        template.replace("{body}", json.dumps(body)[1:-1].replace("/", "\\/"))
        .replace("{ubody}", "".join(f"\\u{ord(c):04x}" for c in body))
        .replace("{qbody}", urllib.parse.quote(body, safe=""))
    )


def echoing(template: str, *headers: str) -> tuple[Script, list[HostileServer]]:
    """A script answering ``template`` (status line, newline, body) and ``headers``, each
    quoting the request's body (see :func:`quoting`)."""
    holder: list[HostileServer] = []

    async def script(writer: asyncio.StreamWriter) -> None:
        request = holder[0].requests[-1]
        if b"/send" not in request.partition(b"\r\n")[0]:  # the balance a batch checks first
            writer.write(answer("200 OK", BALANCE, JSON))
            return
        body = request.partition(b"\r\n\r\n")[2].decode()
        status, _, rest = quoting(template, body).partition("\n")
        shown = (quoting(header, body) for header in headers)
        writer.write(answer(status, rest.encode(), *shown))
        await writer.drain()

    return script, holder


@pytest.fixture
async def echo_server(request: pytest.FixtureRequest) -> AsyncIterator[HostileServer]:
    template, *headers = request.param
    script, holder = echoing(template, *headers)
    async with hostile_server(script) as server:
        holder.append(server)
        yield server


ECHOES = {
    "500 json": ('500 Internal Server Error\n{"success": false, "message": "{body}"}', JSON),
    "400 json": ('400 Bad Request\n{"success": false, "error": "bad: {body}"}', JSON),
    "502 html": ("502 Bad Gateway\n<html><pre>{body}</pre></html>", "Content-Type: text/html"),
    "200 text": ("200 OK\nreceived {body}", "Content-Type: text/plain"),
    "429 json": ('429 Too Many Requests\n{"success": false, "message": "{body}"}', JSON),
    "500 json, escaped": (
        '500 Internal Server Error\n{"success": false, "message": "{ubody}"}',
        JSON,
    ),
    "302": ("302 Found\n", "Location: http://127.0.0.1/login?next={qbody}"),
    "header": ("503 Service Unavailable\n", "X-Request: {qbody}", "Content-Type: text/plain"),
    # No colon: the HTTP parser fails, and its error quotes the line it choked on.
    "malformed header": ("200 OK\n{}", "X-Echo {body}", JSON),
}


@pytest.mark.parametrize("echo_server", list(ECHOES.values()), ids=list(ECHOES), indirect=True)
async def test_an_echoed_key_is_scrubbed_from_every_error(
    echo_server: HostileServer, backend: TransportChoice
) -> None:
    """A server or proxy that quotes the request (the key in it) in its answer: the key is
    cut from the message, the body, the excerpt and the headers an error keeps."""
    exc = await failure(echo_server.url, backend)
    assert CANARY.encode() in echo_server.requests[-1]  # the server did see it
    assert leaks(exc) == []


async def test_an_echoed_key_is_in_no_outcome_and_no_journal(tmp_path: Path) -> None:
    """A batch against an echoing server: outcomes and the journal file hold no key."""
    script, holder = echoing(ECHOES["500 json"][0], JSON)
    journal = tmp_path / "job.sqlite"
    async with hostile_server(script) as server:
        holder.append(server)
        async with TexinClient(CANARY, base_url=server.url, retry=ONCE, rate_limit=None) as c:
            outcomes = [
                o
                async for o in c.iter_batch(
                    [("0712345678", "Hi"), ("0712345679", "Hi")], journal=journal
                )
            ]
    assert {o.status for o in outcomes} == {OutcomeStatus.UNKNOWN}
    assert all(CANARY not in repr(o) for o in outcomes)
    assert CANARY not in json.dumps([o.error for o in outcomes])
    files = [path.read_bytes() for path in tmp_path.iterdir()]  # noqa: ASYNC240
    assert files  # the journal, and any log beside it
    assert not any(CANARY.encode() in data for data in files)


def test_the_sync_client_shows_no_key() -> None:
    """The sync client re-raises on the caller's thread: the same renderings, no key."""
    script, holder = echoing(ECHOES["500 json"][0], JSON)
    with hostile_server_in_thread(script) as server:
        holder.append(server)
        with (
            SyncTexinClient(
                CANARY, base_url=server.url, retry=ONCE, rate_limit=None, timeout=0.3
            ) as client,
            pytest.raises(TexinError) as caught,
        ):
            client.send_sms("0712345678", "Hi")
    assert leaks(caught.value) == []


def test_the_cli_prints_no_echoed_key_even_with_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``texin --debug send`` and a batch with a journal, against an echoing server."""
    script, holder = echoing(ECHOES["500 json"][0], JSON)
    source = tmp_path / "in.csv"
    source.write_text("phone\n0712345678\n", encoding="utf-8")
    monkeypatch.setenv("TEXIN_API_KEY", CANARY)
    with hostile_server_in_thread(script) as server:
        holder.append(server)
        monkeypatch.setenv("TEXIN_BASE_URL", server.url)
        codes = [
            run(["--debug", "send", "0712345678", "Hi"]),
            run(["batch", str(source), "--text", "Hi", "--journal", str(tmp_path / "j.sqlite")]),
        ]
    out, err = capsys.readouterr()
    assert 0 not in codes
    assert 'texin: error: send_sms: 500 {"api_key":"<api key>"' in err  # the echo was shown...
    assert "1 row may have been sent" in out
    assert CANARY not in out + err  # ...without the key
    assert CANARY.encode() not in (tmp_path / "j.sqlite").read_bytes()


# -- cancellation and failed constructions ---------------------------------------------------


async def test_a_cancelled_call_leaves_no_key_in_any_frame(backend: TransportChoice) -> None:
    """A caller's timeout cancels the request inside httpx or aiohttp, whose frames held
    the body: the error the caller gets, chained to the cancellation, shows no key."""
    async with (
        hostile_server(whole(b"", then="hold")) as server,
        TexinClient(CANARY, base_url=server.url, transport=backend, retry=ONCE) as client,
    ):
        with pytest.raises(asyncio.TimeoutError) as caught:
            await asyncio.wait_for(client.send_sms("0712345678", "hi"), 0.2)
    assert leaks(caught.value) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: TexinClient(CANARY, base_url="ftp://127.0.0.1/api/"),
        lambda: TexinClient(CANARY + "\ud800", base_url="http://127.0.0.1/api/"),
        lambda: TexinClient(CANARY.encode(), base_url="http://127.0.0.1/api/"),  # type: ignore[arg-type]
        lambda: SyncTexinClient(CANARY, base_url="ftp://127.0.0.1/api/"),
        lambda: SyncTexinClient(CANARY, base_url="http://127.0.0.1/api/", retry=None),  # type: ignore[arg-type]
        lambda: TexinClient("other-key-123", base_url="http://127.0.0.1/api/").for_key(
            CANARY, sender_id=""
        ),
        lambda: SyncTexinClient("other-key-123", base_url="http://127.0.0.1/api/").for_key(
            CANARY, sender_id=""
        ),
    ],
    ids=[
        "bad url",
        "surrogate key",
        "bytes key",
        "sync bad url",
        "sync bad retry",
        "view",
        "sync view",
    ],
)
def test_a_failed_construction_leaves_no_key_in_any_frame(make: Callable[[], object]) -> None:
    """The key given to a constructor that refuses another argument is in no local."""
    with pytest.raises(TexinError) as caught:
        make()
    assert leaks(caught.value) == []


def test_cleansing_leaves_a_suspended_generator_that_caught_a_chained_error_alive() -> None:
    """An error whose context a suspended generator caught (another task's, say): the key is
    cleansed and the generator, whose frame is live, still runs."""

    def paused() -> Iterator[BaseException | None]:
        try:
            raise KeyError(CANARY)
        except KeyError as exc:
            yield exc
        yield None

    generator = paused()
    caught = next(generator)
    assert caught is not None
    error = RuntimeError("the transport failed")
    error.__context__ = caught
    Secret(CANARY).cleanse(error)
    assert next(generator) is None  # a finalised generator would raise StopIteration
    assert leaks(error) == []
