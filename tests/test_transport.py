"""The transports: httpx (default) and native aiohttp behave alike over real sockets.

Endpoint, refusal, fault and TLS behaviour runs on both backends in test_client.py; here are
what the backends could get wrong on their own: headers, redirects, proxies, pool size, the
error table, and secrets in what they raise or log.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import ssl
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
import msgspec
import pytest
from aiohttp.client_reqrep import ConnectionKey
from mock_api import CANARY
from support import free_port

from texin_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidRequestError,
    OutcomeUnknownError,
    RetryPolicy,
    TexinClient,
    TexinError,
)
from texin_async._exceptions import map_transport_errors
from texin_async._transport import TransportChoice, _error_table
from texin_async.testing import Account, Fault, TexinEmulator

pytestmark = pytest.mark.anyio

ONCE = RetryPolicy(attempts=1)
BALANCE = b'{"success": true, "sms_balance": 7}'


def http_answer(status: str, body: bytes = b"", **headers: str) -> bytes:
    """A whole HTTP/1.1 answer that closes its connection."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Canned:
    """A loopback server giving every request the same bytes, and keeping what it got."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            body = await reader.readexactly(int(length[1]) if length else 0)
            self.requests.append(head + body)
            writer.write(self.answer)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def canned(answer: bytes) -> AsyncIterator[Canned]:
    server = Canned(answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


# -- what goes on the wire -------------------------------------------------------------------


async def test_backends_send_the_same_request(backend: TransportChoice) -> None:
    """Method, path, User-Agent, JSON content type and the key in the body, on both."""
    async with canned(http_answer("200 OK", BALANCE)) as server:
        url = f"http://127.0.0.1:{server.port}/api/"
        async with TexinClient(CANARY, base_url=url, transport=backend) as client:
            assert (await client.get_balance()).sms_balance == 7
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/get_balance HTTP/1.1\r\n")
    for header in (b"user-agent: texin-async/0.1.0", b"content-type: application/json"):
        assert header in head.lower()
    assert b"accept: application/json" in head.lower()
    assert msgspec.json.decode(body) == {"api_key": CANARY}


async def test_redirect_is_never_followed(backend: TransportChoice) -> None:
    """A 301 is an APIError naming its target; the key is not posted anywhere else."""
    answer = http_answer("301 Moved Permanently", Location="https://elsewhere.example/")
    async with canned(answer) as server:
        url = f"http://127.0.0.1:{server.port}/api/"
        async with TexinClient(CANARY, base_url=url, transport=backend) as client:
            with pytest.raises(APIError, match=r"redirect to https://elsewhere\.example/"):
                await client.send_sms("0712345678", "hi")
    assert len(server.requests) == 1


async def test_https_goes_through_the_environment_proxy(
    backend: TransportChoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY is honoured alike: the proxy is asked for a tunnel, the key stays in TLS."""
    async with canned(http_answer("502 Bad Gateway")) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        url = "https://texin.invalid/api/"
        async with TexinClient(CANARY, base_url=url, transport=backend, retry=ONCE) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.get_balance()
    assert proxy.requests[0].startswith(b"CONNECT texin.invalid:443 HTTP/1.1")
    assert not caught.value.maybe_sent
    assert CANARY.encode() not in b"".join(proxy.requests)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
async def test_plain_http_never_goes_through_an_environment_proxy(
    backend: TransportChoice, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """A loopback http:// base URL goes straight to the server: no proxy reads the key."""
    async with canned(http_answer("200 OK", BALANCE)) as api, canned(b"") as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.port}")
        url = f"http://127.0.0.1:{api.port}/api/"
        async with TexinClient(CANARY, base_url=url, transport=backend, retry=ONCE) as client:
            assert (await client.get_balance()).sms_balance == 7
    assert proxy.requests == []
    assert len(api.requests) == 1


def test_a_callers_client_that_would_proxy_plain_http_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An http_client routing the http:// base URL through a proxy is refused at
    construction, saying why and how to fix it; https through it, or no proxy, is fine."""
    monkeypatch.setenv("HTTP_PROXY", "http://user:pass@proxy.example:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pass@proxy.example:3128")
    url = "http://127.0.0.1:8001/api/"
    for http in (httpx.AsyncClient(), httpx.AsyncClient(proxy="http://proxy.example:3128")):
        with pytest.raises(InvalidRequestError, match=r"proxy\.example:3128.*trust_env=False") as e:
            TexinClient(CANARY, base_url=url, http_client=http)
        assert "pass" not in str(e.value)
    TexinClient(CANARY, base_url=url, http_client=httpx.AsyncClient(trust_env=False))
    TexinClient(CANARY, base_url="https://texin.example/api/", http_client=httpx.AsyncClient())


def test_an_httpx_transport_that_would_proxy_plain_http_is_refused() -> None:
    """transport= an httpx transport with a proxy is refused for an http:// base URL too."""
    proxied = httpx.AsyncHTTPTransport(proxy="http://proxy.example:3128")
    with pytest.raises(InvalidRequestError, match="through the proxy"):
        TexinClient(CANARY, base_url="http://127.0.0.1:8001/api/", transport=proxied)


def _unverified(*, keep_certificates: bool) -> ssl.SSLContext:
    """A context that checks no host names, and no certificates unless ``keep_certificates``."""
    context = ssl.create_default_context()
    context.check_hostname = False
    if not keep_certificates:
        context.verify_mode = ssl.CERT_NONE
    return context


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(lambda: {"http_client": httpx.AsyncClient(verify=False)}, id="client-False"),
        pytest.param(
            lambda: {"http_client": httpx.AsyncClient(verify=_unverified(keep_certificates=False))},
            id="client-ctx",
        ),
        pytest.param(
            lambda: {"transport": httpx.AsyncHTTPTransport(verify=False)}, id="transport-False"
        ),
        pytest.param(
            lambda: {
                "transport": httpx.AsyncHTTPTransport(verify=_unverified(keep_certificates=True))
            },
            id="transport-no-hostname-check",
        ),
        pytest.param(
            lambda: {"http_client": httpx.AsyncClient(verify=False, proxy="http://p.example:1")},
            id="client-proxied",
        ),
    ],
)
def test_tls_verification_cannot_be_turned_off_through_httpx(
    kwargs: Callable[[], dict[str, object]],
) -> None:
    """verify=False on an http_client or httpx transport is refused, naming the fix."""
    with pytest.raises(InvalidRequestError, match=r"does not verify TLS.*verify= a CA bundle"):
        TexinClient(CANARY, base_url="https://texin.example/api/", **kwargs())  # type: ignore[arg-type]


def test_verifying_or_uninspectable_httpx_settings_are_accepted() -> None:
    """A verifying http_client or transport is fine; a custom transport class cannot be
    inspected, so it is the caller's to vouch for."""
    url = "https://texin.example/api/"
    verifying = ssl.create_default_context()
    TexinClient(CANARY, base_url=url, http_client=httpx.AsyncClient(verify=verifying))
    TexinClient(CANARY, base_url=url, transport=httpx.AsyncHTTPTransport(verify=verifying))
    TexinClient(CANARY, base_url=url, transport=httpx.MockTransport(lambda r: httpx.Response(200)))


async def test_pool_size_bounds_connections(
    backend: TransportChoice, texin_emulator: TexinEmulator, texin_emulator_url: str
) -> None:
    """max_connections caps the sockets opened, however many calls are waiting."""
    async with TexinClient(
        "texin-test-key", base_url=texin_emulator_url, max_connections=2, transport=backend
    ) as client:
        await asyncio.gather(*(client.get_balance() for _ in range(20)))
    assert 1 <= texin_emulator.connections_opened <= 2


# -- choosing a backend ----------------------------------------------------------------------


def test_unknown_backend_name_is_refused() -> None:
    """A transport name other than 'aiohttp' is refused, naming what is accepted."""
    with pytest.raises(ValueError, match="'aiohttp'"):
        TexinClient(CANARY, transport="requests")  # type: ignore[arg-type]


def test_aiohttp_backend_without_aiohttp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without aiohttp installed, construction fails saying what to install."""
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'texin-async[aiohttp]'")):
        TexinClient(CANARY, transport="aiohttp")


def open_aiohttp_sessions() -> list[aiohttp.ClientSession]:
    """The aiohttp sessions alive and not closed (type(), not isinstance(): a lazy proxy,
    such as Celery's, would evaluate itself when asked its __class__)."""
    gc.collect()
    return [o for o in gc.get_objects() if type(o) is aiohttp.ClientSession and not o.closed]


def made_without_a_loop() -> TexinClient:
    """An aiohttp-backed client made in a thread that runs no event loop."""
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    return TexinClient(CANARY, transport="aiohttp")


async def test_aiohttp_backend_is_made_outside_a_loop_and_closes_unused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Construction needs no running loop (the session comes on first use). Closed unused,
    twice, and collected, the client leaves no open session behind: no ResourceWarning,
    no "Unclosed client session" through the loop's exception handler or the log."""
    before = open_aiohttp_sessions()
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client = await asyncio.to_thread(made_without_a_loop)
            await client.aclose()
            await client.aclose()
            del client
            assert open_aiohttp_sessions() == before
    finally:
        loop.set_exception_handler(None)
    assert [str(w.message) for w in caught] == []
    assert reported == []
    assert "Unclosed" not in caplog.text


# -- aiohttp's failures, by what they prove --------------------------------------------------

_KEY = ConnectionKey("127.0.0.1", 443, True, True, None, None, None)


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (
            aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(111, "refused")),
            APIConnectionError,
        ),
        (aiohttp.ClientConnectorDNSError(_KEY, OSError(-2, "no such host")), APIConnectionError),
        (
            aiohttp.ClientConnectorCertificateError(_KEY, ssl.SSLCertVerificationError("bad")),
            APIConnectionError,
        ),
        (aiohttp.ClientConnectorSSLError(_KEY, ssl.SSLError("handshake")), APIConnectionError),
        (aiohttp.ClientProxyConnectionError(_KEY, OSError(111, "proxy")), APIConnectionError),
        (aiohttp.ConnectionTimeoutError("no connection in time"), APIConnectionError),
        (aiohttp.InvalidUrlClientError("http://"), APIConnectionError),
        (aiohttp.SocketTimeoutError("no answer in time"), APITimeoutError),
        (aiohttp.ServerTimeoutError("no answer in time"), APITimeoutError),
        (asyncio.TimeoutError(), APITimeoutError),
        (aiohttp.ServerDisconnectedError(), OutcomeUnknownError),
        (aiohttp.ClientPayloadError("truncated"), OutcomeUnknownError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), OutcomeUnknownError),
        (aiohttp.ClientConnectionResetError("closing transport"), OutcomeUnknownError),
        (aiohttp.ClientError("anything else"), OutcomeUnknownError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_aiohttp_errors_map_by_what_they_prove(
    error: BaseException, raised: type[TexinError]
) -> None:
    """Only a failure to connect is 'never sent'; a timeout after sending is a timeout."""
    with pytest.raises(TexinError) as caught, map_transport_errors("send_sms", _error_table()):
        raise error
    translated = caught.value
    assert translated.__cause__ is error
    assert type(translated) is raised
    assert translated.endpoint == "send_sms"
    assert translated.message.startswith("send_sms: ")


# -- secrets ---------------------------------------------------------------------------------


def _assert_no_canary(error: BaseException | None) -> None:
    while error is not None:
        assert CANARY not in str(error)
        assert CANARY not in repr(error)
        assert CANARY not in repr(getattr(error, "body", ""))
        error = error.__cause__ or error.__context__


@pytest.mark.parametrize(
    "fault",
    [
        Fault.SERVER_ERROR,
        Fault.DROP_BEFORE,
        Fault.DROP_AFTER,
        Fault.SLOW_AFTER,
        Fault.HTML_502,
        Fault.TRUNCATED_JSON,
        Fault.RATE_LIMIT,
    ],
)
async def test_api_key_never_appears_in_errors_or_logs_over_sockets(
    backend: TransportChoice,
    fault: Fault,
    texin_emulator: TexinEmulator,
    texin_emulator_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each fault, on each backend: the canary key is in no error, cause or log record."""
    caplog.set_level(logging.DEBUG)
    texin_emulator.add_account(Account(api_key=CANARY))
    texin_emulator.faults.schedule(fault)
    async with TexinClient(
        CANARY, base_url=texin_emulator_url, retry=ONCE, timeout=0.3, transport=backend
    ) as client:
        with pytest.raises(TexinError) as caught:
            await client.send_sms("0712345678", "hi")
    _assert_no_canary(caught.value)
    assert all(CANARY not in r.getMessage() for r in caplog.records)


async def test_api_key_never_appears_when_unreachable(
    backend: TransportChoice, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused connection, retried, leaves no trace of the key either."""
    caplog.set_level(logging.DEBUG)
    port = free_port()
    fast = RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0)
    url = f"http://127.0.0.1:{port}/api/"
    async with TexinClient(CANARY, base_url=url, retry=fast, transport=backend) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.send_sms("0712345678", "hi")
    _assert_no_canary(caught.value)
    assert all(CANARY not in r.getMessage() for r in caplog.records)
