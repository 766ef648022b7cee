"""Sending one request and getting its bytes back: httpx by default, or native aiohttp.

The client needs little from HTTP: post some JSON, get a status, a few headers and the body,
and know whether a failure happened before the request left. :class:`Transport` is that
much. httpx stays the default; :class:`AiohttpTransport` sends on a native aiohttp session
because httpx's model layer (Request, URL, Headers, Response) costs more CPU per request
than aiohttp's whole exchange.

Each backend translates its own failures with the same rule as
:func:`~texin_async._exceptions.map_transport_errors`: only a failure to connect proves the
request was not sent. Both bound every attempt alike: a total deadline (the timeouts added
up, :func:`~texin_async._config.attempt_deadline`) and a byte cap on the answer
(:mod:`texin_async._body`). Neither ever hands the key to a party that could read it: no
environment proxy for plain http, no caller's client or transport that skips TLS checks.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import anyio
import httpx

from ._body import ACCEPT_ENCODING, read_aiohttp, read_httpx
from ._config import attempt_deadline
from ._eventloop import require_asyncio
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    OutcomeUnknownError,
    TexinError,
    map_transport_errors,
)
from ._pool import pool_of, proxy_of, reap_orphans, ssl_context_of, transport_for
from ._secret import RequestBody
from ._version import __version__

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "AiohttpTransport",
    "HttpxTransport",
    "RawResponse",
    "Transport",
    "TransportChoice",
    "open_transport",
    "ssl_context",
]

_USER_AGENT = f"texin-async/{__version__}"
_HEADERS = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
#: Sent with every request, on a caller's client too: the answer's codings must be ones
#: the byte cap can bound (see _body.py).
_JSON = {"Content-Type": "application/json", "Accept-Encoding": ACCEPT_ENCODING}

#: What ``TexinClient(transport=...)`` takes: an httpx transport, or a native backend's name.
TransportChoice = httpx.AsyncBaseTransport | Literal["aiohttp"] | None


@dataclass(frozen=True, slots=True)
class RawResponse:
    """An HTTP answer reduced to what classification reads, whichever backend got it."""

    status: int
    #: Case-insensitive (httpx.Headers, aiohttp's CIMultiDictProxy): no copy is made.
    headers: Mapping[str, str]
    content: bytes
    #: The status line's reason phrase, for refusals without a JSON message.
    reason: str = ""
    #: The byte cap the body was larger than (reading stopped there, ``content`` is
    #: empty); 0 when it was read whole.
    too_large: int = 0

    def __repr__(self) -> str:
        # Neither the body nor the headers: a server may echo the request (the key in it),
        # and a traceback that captures locals shows this repr.
        return f"<RawResponse {self.status} {len(self.content)} bytes>"


class Transport(Protocol):
    """Sends one request on a shared pool; raises only our transport errors."""

    async def request(
        self, method: str, url: str, body: RequestBody | None, *, endpoint: str
    ) -> RawResponse:
        """Send ``body`` and read the whole answer, within the byte cap (past it, the
        connection is dropped and ``too_large`` says so) and the attempt's deadline.

        Raises:
            APIConnectionError: Never reached the API: nothing was sent.
            APITimeoutError: Sent, and no answer in time (or not all of it by the deadline).
            OutcomeUnknownError: Sent, and the connection failed before a full answer.
        """
        ...

    async def aclose(self) -> None:
        """Close the pool, if this transport owns it."""
        ...


def open_transport(
    choice: TransportChoice,
    http_client: httpx.AsyncClient | None,
    *,
    base_url: str,
    verify: ssl.SSLContext | str | None,
    timeout: httpx.Timeout,
    max_connections: int,
    max_answer_bytes: int,
) -> Transport:
    """The transport for ``TexinClient(transport=..., http_client=...)``.

    Raises:
        InvalidRequestError: ``http_client`` or an httpx ``transport`` would skip TLS
            verification, or send a plain-http ``base_url`` (with the key) to a proxy; or
            ``verify`` is a CA bundle path that cannot be loaded.
        ImportError: ``"aiohttp"`` without the ``aiohttp`` extra installed.
    """
    check_trust(choice, http_client, base_url)
    if http_client is not None:
        return HttpxTransport(http_client, timeout=timeout, cap=max_answer_bytes, owned=False)
    if choice == "aiohttp":  # any other string was refused with the other arguments
        return AiohttpTransport(
            verify=verify, timeout=timeout, max_connections=max_connections, cap=max_answer_bytes
        )
    client = _own_client(choice, verify, timeout, max_connections, base_url)
    return HttpxTransport(client, timeout=timeout, cap=max_answer_bytes, owned=True)


def _own_client(
    transport: httpx.AsyncBaseTransport | None,
    verify: ssl.SSLContext | str | None,
    timeout: httpx.Timeout,
    max_connections: int,
    base_url: str,
) -> httpx.AsyncClient:
    """The SDK's own httpx client: verifying TLS, no redirects, a pool of ``max_connections``."""
    return httpx.AsyncClient(
        transport=transport,
        verify=ssl_context(verify),
        timeout=timeout,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
        headers=_HEADERS,
        # An environment proxy never sees a plain-http request: the key is in its body.
        trust_env=not _plain_http(base_url),
    )


def ssl_context(verify: ssl.SSLContext | str | None) -> ssl.SSLContext:
    """A verifying context: the one given, one for a CA bundle, or httpx's default trust.

    Raises:
        InvalidRequestError: The context given does not verify certificates and host names.
    """
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:  # missing, unreadable, not PEM
            raise InvalidRequestError(
                f"verify= could not load the CA bundle {verify!r} ({exc.strerror or exc})"
            ) from None
    if verify is None:
        return httpx.create_ssl_context()
    if not _verifies(verify):
        raise InvalidRequestError(
            "verify= must check certificates and host names (CERT_REQUIRED, "
            "check_hostname=True): TLS verification cannot be turned off"
        )
    return verify


def check_trust(choice: object, http_client: httpx.AsyncClient | None, base_url: str) -> None:
    """Refuse a caller's httpx client or transport whose pool for ``base_url`` would not
    verify TLS, or would send plain http (the key in the body) through a proxy. A
    transport of another class cannot be inspected: the caller vouches for it.

    Raises:
        InvalidRequestError: Naming what is wrong and how to fix it.
    """
    if http_client is not None:
        what, transport = "http_client=", transport_for(http_client, base_url)
    elif isinstance(choice, httpx.AsyncBaseTransport):
        what, transport = "transport=", choice
    else:
        return
    pool = pool_of(transport)
    context = ssl_context_of(pool) if pool is not None else None
    if context is not None and not _verifies(context):
        raise InvalidRequestError(
            f"{what} does not verify TLS certificates (verify=False, or an SSLContext without "
            "CERT_REQUIRED and check_hostname): the API key could go to any server. Create it "
            "with verify= a CA bundle path or a verifying ssl.SSLContext"
        )
    proxy = proxy_of(pool) if pool is not None else None
    if proxy is not None and _plain_http(base_url):
        raise InvalidRequestError(
            f"{what} would send plain-http requests to {base_url} through the proxy at "
            f"{proxy}, which would read the API key: create it with trust_env=False (or "
            "without that proxy), add the host to NO_PROXY, or use an https base_url"
        )


def _verifies(context: ssl.SSLContext) -> bool:
    return context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def _plain_http(url: str) -> bool:
    return httpx.URL(url).scheme == "http"


class HttpxTransport:
    """Sends on an ``httpx.AsyncClient``: the SDK's own, or one the caller owns."""

    __slots__ = ("_cap", "_client", "_deadline", "_owned", "_timeout")

    def __init__(
        self, client: httpx.AsyncClient, *, timeout: httpx.Timeout, cap: int, owned: bool
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._deadline = attempt_deadline(timeout)
        self._cap = cap
        self._owned = owned

    async def request(
        self, method: str, url: str, body: RequestBody | None, *, endpoint: str
    ) -> RawResponse:
        """Send through httpx, read within the cap and the attempt's deadline; errors are
        mapped by ``map_transport_errors``, and a pool place a failure orphaned is freed."""
        with anyio.move_on_after(self._deadline):
            try:
                with map_transport_errors(endpoint, body=body):
                    return await self._exchange(method, url, body)
            except BaseException:  # cancellation above all: see _pool.reap_orphans
                await reap_orphans(pool_of(transport_for(self._client, url)))
                raise
        raise _deadline_passed(endpoint, self._deadline)

    async def _exchange(self, method: str, url: str, body: RequestBody | None) -> RawResponse:
        request = self._client.build_request(
            method,
            url,
            content=None if body is None else body.data,
            headers=_JSON,
            timeout=self._timeout,
        )
        # follow_redirects=False even on a caller's client: a redirect would re-post
        # the API key, maybe over plain http, maybe to another host, maybe twice.
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            content = await read_httpx(response, self._cap)
        finally:
            await response.aclose()  # an answer not read to its end closes the connection
        return RawResponse(
            response.status_code,
            response.headers,
            content or b"",
            response.reason_phrase,
            0 if content is not None else self._cap,
        )

    async def aclose(self) -> None:
        """Close the client unless the caller owns it."""
        if self._owned:
            await self._client.aclose()


class AiohttpTransport:
    """Sends on one native ``aiohttp.ClientSession`` (the ``aiohttp`` extra).

    Settings match the httpx path: the same TLS trust, a pool of ``max_connections``,
    redirects never followed, a proxy read once from the environment (for https only),
    the same byte cap. The session is made on first use, because aiohttp binds it to the
    running event loop; aiohttp runs on asyncio only, so a call on trio is refused.

    Timeouts map from ``httpx.Timeout``: ``connect`` plus ``pool`` bound getting a
    connection, ``read`` bounds each wait for answer bytes, and aiohttp's ``total`` is the
    attempt's deadline. aiohttp has no write timeout of its own; the deadline bounds a
    server that stops reading a large body too.
    """

    __slots__ = ("_cap", "_proxy", "_session", "_settings", "_table")

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | None,
        timeout: httpx.Timeout,
        max_connections: int,
        cap: int,
    ) -> None:
        try:
            self._table = _error_table()  # imports aiohttp
        except ImportError as exc:
            raise ImportError(
                "transport='aiohttp' needs aiohttp: pip install 'texin-async[aiohttp]'"
            ) from exc
        self._settings = (ssl_context(verify), _client_timeout(timeout), max_connections)
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._cap = cap

    async def request(
        self, method: str, url: str, body: RequestBody | None, *, endpoint: str
    ) -> RawResponse:
        """Send through aiohttp; its errors are mapped by :func:`_error_table`."""
        session = self._session or self._open(url)
        with map_transport_errors(endpoint, self._table, body):
            async with session.request(
                method,
                url,
                data=None if body is None else body.data,
                allow_redirects=False,
                proxy=self._proxy,
            ) as response:
                content = await read_aiohttp(response, self._cap)
        return RawResponse(
            response.status,
            response.headers,
            content or b"",
            response.reason or "",
            0 if content is not None else self._cap,
        )

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()

    def _open(self, url: str) -> aiohttp.ClientSession:
        require_asyncio("transport='aiohttp'", "under trio, use the default httpx transport")
        import aiohttp

        context, timeout, limit = self._settings
        self._proxy = _env_proxy(url)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit, ssl=context),
            timeout=timeout,
            headers={**_HEADERS, **_JSON},
        )
        return self._session


def _deadline_passed(endpoint: str, seconds: float) -> APITimeoutError:
    return APITimeoutError(
        f"{endpoint}: no whole answer within the attempt's deadline of {seconds:g} s "
        "(the connect, write, read and pool timeouts added up)",
        endpoint=endpoint,
    )


def _client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    import aiohttp

    connect, pool = timeout.connect, timeout.pool
    # aiohttp's ``connect`` covers the wait for a pooled connection and the connecting.
    acquire = None if connect is None or pool is None else connect + pool
    return aiohttp.ClientTimeout(
        total=attempt_deadline(timeout),
        connect=acquire,
        sock_connect=connect,
        sock_read=timeout.read,
    )


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for an https ``url`` (``HTTPS_PROXY``, ``NO_PROXY``,
    ...); never one for plain http, which would read the key in the request body."""
    parsed = httpx.URL(url)
    if parsed.scheme != "https" or urllib.request.proxy_bypass(parsed.host):
        return None
    return urllib.request.getproxies().get(parsed.scheme)


def _error_table() -> dict[type[BaseException], type[TexinError]]:
    """aiohttp's failures by class; the most specific class in an error's MRO wins."""
    import aiohttp

    return {
        # Refused, DNS, proxy, TLS handshake or certificate: nothing was sent.
        aiohttp.ClientConnectorError: APIConnectionError,
        aiohttp.ClientSSLError: APIConnectionError,
        aiohttp.ClientHttpProxyError: APIConnectionError,
        aiohttp.InvalidURL: APIConnectionError,
        # No connection in time (connecting, or a free one from the pool): nothing was sent.
        aiohttp.ConnectionTimeoutError: APIConnectionError,
        # No answer bytes in time, once the request was written.
        aiohttp.ServerTimeoutError: APITimeoutError,
        asyncio.TimeoutError: APITimeoutError,
        # Disconnects, resets, truncated bodies, bad HTTP: after the request left.
        aiohttp.ClientError: OutcomeUnknownError,
    }
