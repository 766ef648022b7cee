"""TexinClient: one connection pool, one limiter per key, one method per endpoint."""

from __future__ import annotations

import asyncio
import enum
import hashlib
import ipaddress
import logging
import os
import ssl
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx
import msgspec

from ._batch import BatchItems, BatchOptions, BatchProgress, BatchReport, Outcome
from ._batch import iter_batch as _iter_batch
from ._batch import send_batch as _send_batch
from ._checks import flag, must_be, text, whole
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    RateLimit,
    RetryPolicy,
    check_max_answer_bytes,
    to_timeout,
)
from ._endpoints import (
    API_INFO,
    CHECK_STATUS,
    GET_BALANCE,
    SEND_BULK_SMS,
    SEND_SMS,
    TEST_CONNECTION,
    Endpoint,
)
from ._exceptions import (
    ClientStateError,
    InvalidRequestError,
    LimiterUnavailableError,
    RateLimitError,
    TexinError,
)
from ._logs import fields, logger
from ._models import (
    ApiInfo,
    Balance,
    BulkSMSResult,
    ConnectionTest,
    MessageStatus,
    Result,
    SMSResult,
)
from ._phone import normalize_recipient
from ._ratelimit import LocalRateLimiter, Priority, RateLimiter, claim
from ._response import read_response
from ._retry import Retries
from ._secret import RequestBody, secret_key
from ._transport import TransportChoice, open_transport
from ._units import COST_PER_UNIT, lone_surrogate
from .instrumentation._hooks import client_hooks
from .instrumentation._watch import CallWatch, watch_call

if TYPE_CHECKING:
    from .instrumentation import Hook

__all__ = ["ClientState", "Departure", "TexinClient"]

_R = TypeVar("_R", bound=Result)
_ENCODER = msgspec.json.Encoder()

#: A step run once a request holds its limiter slot, just before it leaves (e.g. a batch's
#: journal write). If it raises, nothing was sent: its error must be a TexinError whose
#: ``maybe_sent`` is False.
Departure = Callable[[], Awaitable[object]]


class ClientState(enum.Enum):
    """Lifecycle: usable until closed, never reopened."""

    OPEN = "open"
    CLOSED = "closed"


class TexinClient:
    """Async client for the Texin SMS API.

    Hold one for the life of your application: it owns a connection pool, and every client
    with the same API key in the process draws on one rate-limit budget. To send for many
    keys (a platform sending for its accounts), hold one client and take a light view per
    key with :meth:`for_key`: one pool and one TLS context for all, a budget for each.

    Args:
        api_key: Your API key; ``TEXIN_API_KEY`` when None.
        base_url: The API root; ``TEXIN_BASE_URL``, else the provider's.
        sender_id: Default sender id for sends; the account default ("Texin") when None.
        rate_limit: Requests per window per key (or ``"100/60"``); None disables
            client-side limiting. Every client of one key in a process must agree on it.
        limiter: A shared backend (e.g. Redis) instead of the in-process one; it carries
            its own budget, so it excludes ``rate_limit``.
        retry: When to retry and how long to wait.
        timeout: Seconds, or an ``httpx.Timeout``; never unlimited. Each attempt also has
            a total deadline, the connect, write, read and pool timeouts added up (95 s by
            default): a server dribbling its answer within the read timeout cannot hold a
            request for ever. Past it the attempt fails with ``APITimeoutError``.
        max_connections: Pool size, and the most requests in flight at once.
        max_answer_bytes: The most bytes of one answer read (4 MiB; a 1,000-number bulk
            answer is about 60 KB). A larger answer is not read on: it is unusable
            (``maybe_sent`` True for a send) and its connection is dropped.
        http_client: An ``httpx.AsyncClient`` you own; the SDK will not close it. Refused
            if it would skip TLS verification, or send a plain-http ``base_url`` (the key
            in the body) through a proxy.
        transport: An httpx transport for the SDK's own httpx client, or ``"aiohttp"`` to
            send on a native aiohttp session instead (the ``aiohttp`` extra; asyncio only),
            which costs several times less CPU per request. A name rather than a helper
            object: the backend needs only settings given here (pool size, timeout, TLS
            trust), so there is nothing to configure twice and no aiohttp type in the API.
            An ``httpx.AsyncHTTPTransport`` that skips TLS verification is refused; a
            transport of another class cannot be inspected, and is yours to vouch for.
        verify: TLS trust for a private CA: an ``ssl.SSLContext`` or a CA bundle path;
            None trusts what httpx trusts. Verification cannot be turned off.
        allow_insecure_http: Permit ``http://`` to a host other than loopback. An
            environment proxy (``HTTP_PROXY``, ``ALL_PROXY``) is never used for ``http://``:
            it would read the key; https goes through one as usual.
        hooks: Instrumentation for this client: one hook or several, told of each call,
            attempt, retry, 429 pause and batch, after the process-wide ones
            (:mod:`texin_async.instrumentation`; OpenTelemetry is one such hook).

    Raises:
        InvalidRequestError: Any argument of the wrong type or value, each named (no key,
            a base URL that is not allowed, an ``http_client``/``transport`` that would
            expose the key, a hook that is not callable, ...); nothing is sent.

    Example::

        async with TexinClient() as client:
            result = await client.send_sms("0712345678", "Your code is 4821")
            print(result.message_id)
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        sender_id: str | None = None,
        rate_limit: RateLimit | str | None = DEFAULT_RATE_LIMIT,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        http_client: httpx.AsyncClient | None = None,
        transport: TransportChoice = None,
        verify: ssl.SSLContext | str | None = None,
        allow_insecure_http: bool = False,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        hooks: Hook | Iterable[Hook] | None = None,
    ) -> None:
        # The key is held redacted from here on: no frame of a traceback shows it.
        key = secret_key(api_key if api_key is not None else os.environ.get("TEXIN_API_KEY"))
        del api_key
        if isinstance(key, str):
            raise InvalidRequestError(key)
        self._key = key
        self._key_id = key_id_of(key.value)
        _check_transport_arguments(http_client, transport, verify, max_connections)
        self._parent: TexinClient | None = None
        self._views: weakref.WeakSet[TexinClient] = weakref.WeakSet()
        # The event loop the pool belongs to (its first request's), shared with the views.
        self._home: list[weakref.ref[asyncio.AbstractEventLoop]] = []
        self._base_url = _checked_base_url(
            base_url or os.environ.get("TEXIN_BASE_URL") or DEFAULT_BASE_URL,
            allow_insecure_http=flag("allow_insecure_http", allow_insecure_http),
        )
        self._sender_id = None if sender_id is None else _checked_sender(sender_id)
        must_be("retry", retry, RetryPolicy, "a RetryPolicy")
        self._retry = retry
        self._hooks = client_hooks(hooks, retry)  # RetryPolicy.on_retry is one of them
        self._timeout = to_timeout(timeout)
        self._limiter = _limiter_for(rate_limit, limiter)
        self._in_flight = anyio.Semaphore(max_connections, fast_acquire=True)
        # Last, so that a refused argument above leaves no claim behind.
        self._unclaim = claim(self._key_id, self._limiter)
        try:
            self._transport = open_transport(
                transport,
                http_client,
                base_url=self._base_url,
                verify=verify,
                timeout=self._timeout,
                max_connections=max_connections,
                max_answer_bytes=check_max_answer_bytes(max_answer_bytes),
            )
        except BaseException:
            self._unclaim()
            raise
        weakref.finalize(self, self._unclaim)  # a client dropped unclosed frees its key
        self._state = ClientState.OPEN

    @property
    def base_url(self) -> str:
        """The API root every request goes to, with a trailing slash."""
        return self._base_url

    @property
    def sender_id(self) -> str | None:
        """The default sender id of sends (None: the account's default)."""
        return self._sender_id

    @property
    def retry(self) -> RetryPolicy:
        """When failed requests are retried."""
        return self._retry

    @property
    def key_id(self) -> str:
        """A hash prefix naming the API key in logs, limiters and errors, never the key."""
        return self._key_id

    @property
    def state(self) -> ClientState:
        """OPEN until :meth:`aclose`."""
        return self._state

    def __repr__(self) -> str:
        # getattr: a half-built client (its constructor raised) must still format.
        state = getattr(self, "_state", None)
        return (
            f"<TexinClient {getattr(self, '_base_url', '?')} "
            f"key_id={getattr(self, '_key_id', '?')} {state.value if state else 'unopened'}>"
        )

    async def __aenter__(self) -> TexinClient:
        self._check_usable()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it was passed in), and with it every view of
        :meth:`for_key`; a view's ``aclose`` only gives its key back. Safe to call twice."""
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        self._unclaim()
        if self._parent is not None:
            return
        for view in list(self._views):
            view._state = ClientState.CLOSED
            view._unclaim()
        if not self._on_another_loop():
            await self._transport.aclose()
            return
        # The pool belongs to another loop: closed there while it runs; a loop that has
        # ended (a second asyncio.run) took its connections with it.
        home = self._home[0]()
        if home is not None and not home.is_closed():
            asyncio.run_coroutine_threadsafe(self._transport.aclose(), home)

    def for_key(self, api_key: str, *, sender_id: str | None = None) -> TexinClient:
        """A client for another API key that shares this one's pool, TLS context and
        settings (base URL, limiter, retries, timeouts), for platforms that send for many
        accounts: setting one up costs microseconds, not a pool.

        The view has its own key, budget (the limiter's lane of its key) and ``key_id``;
        nothing of one key appears in another's errors or logs. ``sender_id`` replaces this
        client's default sender id for the view's sends. Closing the view gives its key back;
        closing this client closes the pool, so every view with it.

        Raises:
            InvalidRequestError: The key is missing, or another open client uses it with a
                different budget.

        Example::

            async with TexinClient(platform_key) as platform:
                for account in accounts:
                    await platform.for_key(account.key).send_sms(account.phone, "Paid, thanks")
        """
        key = secret_key(api_key)
        del api_key  # no frame shows it (tracebacks with locals)
        if isinstance(key, str):
            raise InvalidRequestError(key)
        self._check_usable()
        owner = self._parent or self
        view = TexinClient.__new__(TexinClient)
        view.__dict__.update(self.__dict__)  # the shared pool, limiter and settings
        view._key, view._key_id = key, key_id_of(key.value)
        view._parent, view._views = owner, weakref.WeakSet()
        if sender_id is not None:
            view._sender_id = _checked_sender(sender_id)
        view._unclaim = claim(view._key_id, view._limiter)
        weakref.finalize(view, view._unclaim)
        owner._views.add(view)
        return view

    # -- endpoints -------------------------------------------------------------------------

    async def api_info(self, *, priority: Priority = Priority.INTERACTIVE) -> ApiInfo:
        """The API's name, version and endpoints (``GET /api/``).

        ``priority`` (every endpoint method takes it) is the call's traffic class on the
        key's budget: INTERACTIVE by default; BACKGROUND for work that can wait.
        """
        return await self._request(API_INFO, None, priority=priority)

    async def test_connection(self, *, priority: Priority = Priority.INTERACTIVE) -> ConnectionTest:
        """Check that the API is reachable (``GET /api/test_connection``)."""
        return await self._request(TEST_CONNECTION, None, priority=priority)

    async def get_balance(self, *, priority: Priority = Priority.INTERACTIVE) -> Balance:
        """Credits left and account details."""
        return await self._request(GET_BALANCE, {}, priority=priority)

    async def check_status(
        self, message_id: str, *, priority: Priority = Priority.INTERACTIVE
    ) -> MessageStatus:
        """Delivery status of a message sent earlier.

        Raises:
            InvalidRequestError: ``message_id`` is empty.
            NotFoundError: The API knows no such message for this key.
        """
        payload = {"message_id": _encodable(text("message_id", message_id), "message_id")}
        return await self._request(CHECK_STATUS, payload, priority=priority)

    async def send_sms(
        self,
        recipient: str,
        message: str,
        *,
        sender_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> SMSResult:
        """Send one SMS. Never sent twice: only a send that surely did not go out is retried.

        Raises:
            InvalidRequestError: A bad number or empty message; nothing was sent.
            TexinError: Anything else; its ``maybe_sent`` says whether the SMS may have
                gone out (see README, "Retries, and what maybe sent means").
        """
        payload = self._sms_payload(recipient, message, sender_id)
        return await self._request(SEND_SMS, payload, priority=priority)

    async def send_bulk_sms(
        self,
        recipients: Iterable[str],
        message: str,
        *,
        sender_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> BulkSMSResult:
        """Send one text to many numbers in one request.

        Numbers that normalise alike are sent once (the API keys its answer by number);
        ``result.message_id_for(recipient)`` answers for each string you gave.

        Raises:
            InvalidRequestError: No recipients, any bad number (all are named), or an
                empty message; nothing was sent.
        """
        requested = _normalized_map(recipients)
        payload = self._bulk_payload(requested.values(), message, sender_id)
        result = await self._request(SEND_BULK_SMS, payload, priority=priority)
        result.__dict__["_requested"] = requested
        return result

    # -- the request path ------------------------------------------------------------------

    async def _request(
        self,
        endpoint: Endpoint[_R],
        payload: dict[str, Any] | None,
        *,
        priority: Priority = Priority.INTERACTIVE,
        departure: Departure | None = None,
    ) -> _R:
        """One call: its attempts, told to the hooks when any is registered.

        With no hook (the usual case) that costs one check; with some, a ``CallWatch``
        tells them of the call and of each attempt, and holds their spans open around them.
        """
        self._check_usable()
        must_be("priority", priority, Priority, "a Priority")
        watch = watch_call(self, endpoint, payload, priority)  # None: no hook registered
        if watch is None:
            return await self._attempts(endpoint, payload, priority, departure, None)
        with watch:
            result = await self._attempts(endpoint, payload, priority, departure, watch)
            watch.returned(result)
            return result

    async def _attempts(
        self,
        endpoint: Endpoint[_R],
        payload: dict[str, Any] | None,
        priority: Priority,
        departure: Departure | None,
        watch: CallWatch | None,
    ) -> _R:
        """One call, top to bottom: slot → departure → send → read → verdict → retry.

        Everything before the transport is "not sent" if it fails (the limiter, the
        ``departure`` step); the answer's verdict is read once, by ``read_response``, and
        the retry decision follows from it alone.
        """
        url = self._base_url + endpoint.path
        # Built here and held redacted: no frame of a traceback shows the key in it.
        body = None if payload is None else RequestBody(self._encode(payload), self._key)
        called = time.monotonic()
        retries: Retries | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                # In flight first: a granted slot goes straight to a free connection.
                async with self._in_flight, _Slot(self, endpoint, priority, watch) as slot:
                    if departure is not None:
                        await departure()
                    started = time.perf_counter()
                    response = await self._transport.request(
                        endpoint.method, url, body, endpoint=endpoint.name
                    )
                slot.answered(attempt, response.status, time.perf_counter() - started)
                return read_response(response, endpoint, self._key)
            except TexinError as exc:
                if watch is not None:
                    watch.failed(exc)
                if isinstance(exc, RateLimitError) and exc.retry_after is not None:
                    # The one place a 429 is handled: the whole key waits, not just this call.
                    await self._pause(exc.retry_after, endpoint, priority, watch)
                retries = retries or Retries(
                    self._retry,
                    endpoint,
                    called,
                    key_id=self._key_id,
                    priority=priority,
                    tell=None if watch is None else watch.retried,
                )
                delay = retries.after(exc)  # raises the error that ends the call
            await anyio.sleep(delay)

    def _encode(self, payload: dict[str, Any]) -> bytes:
        return _ENCODER.encode({"api_key": self._key.value, **payload})

    async def _pause(
        self,
        retry_after: float,
        endpoint: Endpoint[Any],
        priority: Priority,
        watch: CallWatch | None,
    ) -> None:
        """Hold the whole key for a 429's Retry-After (capped by the policy), and say so."""
        seconds = min(retry_after, self._retry.max_retry_after)
        logger.info(
            "texin key %s: paused %.1fs by the server's 429 (Retry-After)",
            self._key_id,
            seconds,
            extra=fields(
                key_id=self._key_id,
                wait=seconds,
                endpoint=endpoint.name,
                priority=priority.name.lower(),
            ),
        )
        if watch is not None:
            watch.paused(seconds, retry_after)
        await self._limiter.pause(self._key_id, seconds)

    def _sms_payload(self, recipient: str, message: str, sender_id: str | None) -> dict[str, Any]:
        """The checked body of a send_sms (without the key).

        Raises:
            InvalidRequestError: A bad number, message or sender id.
        """
        payload = {"recipient": normalize_recipient(recipient), "message": _checked(message)}
        return self._with_sender(payload, sender_id)

    def _bulk_payload(
        self, numbers: Iterable[str], message: str, sender_id: str | None
    ) -> dict[str, Any]:
        """The checked body of a send_bulk_sms to normalised ``numbers``, each once."""
        payload = {"recipients": list(dict.fromkeys(numbers)), "message": _checked(message)}
        return self._with_sender(payload, sender_id)

    def _with_sender(self, payload: dict[str, Any], sender_id: str | None) -> dict[str, Any]:
        if sender_id is not None:
            payload["sender_id"] = _checked_sender(sender_id)
        elif self._sender_id is not None:  # checked at construction
            payload["sender_id"] = self._sender_id
        return payload

    def _check_usable(self) -> None:
        """Refuse a request on a closed client, or from another event loop than its pool's
        (a second ``asyncio.run``), whose connections cannot be used there."""
        parent = self._parent
        if self._state is ClientState.CLOSED or (parent and parent._state is ClientState.CLOSED):
            raise ClientStateError("this TexinClient is closed; nothing was sent: create a new one")
        if self._on_another_loop():
            raise ClientStateError(
                "this TexinClient's connections belong to the event loop of its first "
                "request (a second asyncio.run()?), where they cannot be used; nothing was "
                "sent: make the client inside the loop that uses it, or use SyncTexinClient"
            )

    def _on_another_loop(self) -> bool:
        """Whether the running loop is not the pool's (the first to use it becomes its)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): anyio's own checks apply
            return False
        home = self._home
        if not home:
            home.append(weakref.ref(loop))
        return home[0]() is not loop

    # -- batches ---------------------------------------------------------------------------

    async def send_batch(
        self,
        items: BatchItems,
        *,
        chunk_size: int = 100,
        max_in_flight: int = 8,
        journal: str | os.PathLike[str] | None = None,
        on_outcome: Callable[[Outcome], object] | None = None,
        dry_run: bool = False,
        resend_unknown: bool = False,
        retry_failed: bool = False,
        check_balance: bool = False,
        lookahead: int | None = None,
        progress: BatchProgress | None = None,
        cost_per_unit: Decimal = COST_PER_UNIT,
        priority: Priority = Priority.BULK,
    ) -> BatchReport:
        """Send many messages under the key's budget; one :class:`Outcome` per item.

        Items with the same text and sender id are coalesced into bulk requests of up to
        ``chunk_size`` distinct numbers, within a look-ahead window; the rest go out one by
        one. Every request goes through :meth:`send_sms`/:meth:`send_bulk_sms` (limiter,
        retries, never sent twice). Outcomes are counted, not kept: memory stays flat for
        millions of items.

        Args:
            items: ``Message`` objects or ``(recipient, text)`` pairs, from a sync or async
                iterable, read lazily. ``Message.ref`` defaults to the item's index.
            chunk_size: Most numbers in one bulk request.
            max_in_flight: Most requests awaiting an answer at once.
            journal: Path of a SQLite file that makes the batch resumable: run again with
                the same items and journal, and finished items are reported from it, not
                resent; items in flight at a crash are reported UNKNOWN. An item is
                recorded in flight only once the key's rate limit lets its request go, so
                items still waiting for the budget are simply sent on the next run.
            on_outcome: Called with each outcome as it settles (may be async). If it
                raises, no new request is sent; requests already in flight finish and are
                journaled, then the batch stops and the first error propagates.
            dry_run: Send nothing (no HTTP request at all): outcomes are PLANNED and the
                report holds the requests, units and cost the batch would use.
            resend_unknown: With a journal, send again items recorded UNKNOWN or in flight:
                at-least-once instead of at-most-once.
            retry_failed: With a journal, send again items recorded FAILED.
            check_balance: Before sending anything, refuse a batch the balance cannot
                cover. A Collection (list, tuple) is checked whole; a one-shot iterator is
                checked for the items in the first look-ahead window, and later sends the
                balance cannot cover fail on their own (FAILED).
            lookahead: Items held back to coalesce; default ``max(1000, 10 * chunk_size)``.
            progress: A :class:`BatchProgress` to update live (for a progress bar).
            cost_per_unit: Price of one SMS unit, for the report's cost.
            priority: The batch's traffic class on the key's budget: BULK by default, so
                interactive sends (a login code) go first and a reserve stays theirs.

        Raises:
            JournalMismatchError: The items differ from the ones the journal recorded.
            JournalError: The journal is in use by another batch or unusable.
            InsufficientBalanceError: ``check_balance`` found the balance short.

        Example::

            report = await client.send_batch(
                (Message(row["phone"], row["text"], ref=row["id"]) for row in rows),
                journal="campaign.sqlite",
            )
            print(report.sent, report.failed, report.unknown, report.cost)
        """
        options = BatchOptions(
            chunk_size=chunk_size,
            max_in_flight=max_in_flight,
            journal=journal,
            on_outcome=on_outcome,
            dry_run=dry_run,
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
            check_balance=check_balance,
            lookahead=lookahead,
            progress=progress,
            cost_per_unit=cost_per_unit,
            priority=priority,
        )
        return await _send_batch(self, items, options)

    def iter_batch(
        self,
        items: BatchItems,
        *,
        chunk_size: int = 100,
        max_in_flight: int = 8,
        journal: str | os.PathLike[str] | None = None,
        on_outcome: Callable[[Outcome], object] | None = None,
        dry_run: bool = False,
        resend_unknown: bool = False,
        retry_failed: bool = False,
        check_balance: bool = False,
        lookahead: int | None = None,
        progress: BatchProgress | None = None,
        cost_per_unit: Decimal = COST_PER_UNIT,
        priority: Priority = Priority.BULK,
    ) -> AsyncGenerator[Outcome, None]:
        """Like :meth:`send_batch`, but yield each :class:`Outcome` as it settles.

        Outcomes pass through a buffer of ``chunk_size``: a slow consumer slows the batch
        rather than growing memory. Breaking out of the loop is safe; the batch stops when
        the generator is closed, so close it at once to stop promptly (``async with
        contextlib.aclosing(client.iter_batch(...)) as outcomes:``, required off asyncio).
        Pass ``progress=`` for the counts.

        Example::

            async for outcome in client.iter_batch(rows, journal="job.sqlite"):
                writer.writerow([outcome.ref, outcome.status.value, outcome.message_id])
        """
        options = BatchOptions(
            chunk_size=chunk_size,
            max_in_flight=max_in_flight,
            journal=journal,
            on_outcome=on_outcome,
            dry_run=dry_run,
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
            check_balance=check_balance,
            lookahead=lookahead,
            progress=progress,
            cost_per_unit=cost_per_unit,
            priority=priority,
        )
        return _iter_batch(self, items, options)


def _check_transport_arguments(
    http_client: object, transport: object, verify: object, max_connections: object
) -> None:
    """Refuse a transport argument of the wrong kind, or combinations where one would
    silently be ignored."""
    whole("max_connections", max_connections, minimum=1)
    if http_client is not None:
        must_be("http_client", http_client, httpx.AsyncClient, "an httpx.AsyncClient")
        if transport is not None or verify is not None:
            raise InvalidRequestError(
                "http_client= comes with its own transport and TLS settings: "
                "do not pass transport= or verify= with it"
            )
    if transport is not None and transport != "aiohttp":
        must_be("transport", transport, httpx.AsyncBaseTransport, "an httpx transport or 'aiohttp'")
    if verify is not None and not isinstance(verify, ssl.SSLContext | str):
        # verify=False above all must not slip past the type checker
        raise InvalidRequestError(
            f"verify takes an ssl.SSLContext or a CA bundle path, got {verify!r}: "
            "TLS verification cannot be turned off"
        )


def _limiter_for(rate_limit: RateLimit | str | None, limiter: RateLimiter | None) -> RateLimiter:
    """The client's limiter: the one given, or the process-wide one for ``rate_limit``."""
    if limiter is not None:
        if rate_limit is not DEFAULT_RATE_LIMIT:
            raise InvalidRequestError(
                "pass rate_limit= or limiter=, not both: a limiter has its own budget"
            )
        must_be("limiter", limiter, RateLimiter, "a RateLimiter (e.g. RedisRateLimiter)")
        return limiter
    if isinstance(rate_limit, str):
        rate_limit = RateLimit.parse(rate_limit)
    elif rate_limit is not None and not isinstance(rate_limit, RateLimit):
        raise InvalidRequestError(
            f"rate_limit must be a RateLimit, '100/60' or None, got {rate_limit!r}"
        )
    return LocalRateLimiter.shared(rate_limit)


def key_id_of(key: str) -> str:
    """A hash prefix naming an API key in logs, limiters and errors, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _checked(message: object) -> str:
    """The message, if it is a non-blank string; the API refuses empty messages."""
    return _encodable(text("message", message), "message")


def _checked_sender(sender: object) -> str:
    return _encodable(text("sender_id", sender), "sender_id")


def _encodable(value: str, field: str) -> str:
    """``value``, unless it holds a lone surrogate: it would fail only once being encoded."""
    if lone_surrogate(value):
        raise InvalidRequestError(
            f"{field} holds a lone surrogate (such as '\\ud800'), which UTF-8 cannot "
            "encode; nothing was sent"
        )
    return value


def _normalized_map(recipients: Iterable[str]) -> dict[str, str]:
    """Each given recipient → its normalised number; every bad one named at once."""
    if isinstance(recipients, str | bytes) or not isinstance(recipients, Iterable):
        raise InvalidRequestError(
            f"recipients must be a list of numbers, got {type(recipients).__name__}"
        )
    requested: dict[str, str] = {}
    bad: list[str] = []
    for recipient in recipients:
        try:
            requested[recipient] = normalize_recipient(recipient)
        except InvalidRequestError:
            bad.append(repr(recipient))
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise InvalidRequestError(f"invalid recipient number(s): {shown}; nothing was sent")
    if not requested:
        raise InvalidRequestError("recipients must not be empty")
    return requested


def _checked_base_url(url: object, *, allow_insecure_http: bool) -> str:
    """The base URL with a trailing slash; https only, unless loopback or opted in.

    Endpoint paths are appended to it, so it cannot carry a query or a fragment (a
    ``?v=2`` would send every request to ``/api/?v=2/send_sms``).
    """
    url = text("base_url", url)
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # an IDNA name is checked only when read
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise InvalidRequestError(f"base_url is not a valid URL ({exc}): {url!r}") from None
    if parsed.scheme not in ("https", "http") or not host:
        raise InvalidRequestError(f"base_url must be an http(s) URL, got {url!r}")
    if "?" in url or "#" in url:
        raise InvalidRequestError(
            f"base_url must not have a query or fragment ('?', '#'), got {url!r}: "
            "endpoint paths are appended to it"
        )
    if parsed.scheme == "http" and not (allow_insecure_http or _is_loopback(host)):
        raise InvalidRequestError(
            f"refusing plain http to {host}: the API key would travel unencrypted; "
            "use https, or pass allow_insecure_http=True"
        )
    return url if url.endswith("/") else url + "/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Slot:
    """The limiter's slot for one attempt: a limiter's own failure means nothing was sent,
    and the slot is given back whatever happens, even to a cancelled caller.

    It also times the wait for the slot, for the attempt's DEBUG line and its hooks: with a
    ``watch``, the hooks hear of the grant (their span opens, for the HTTP request's own to
    nest in) and of the answer.
    """

    __slots__ = ("_endpoint", "_held", "_key_id", "_priority", "_watch", "waited")

    def __init__(
        self,
        client: TexinClient,
        endpoint: Endpoint[Any],
        priority: Priority,
        watch: CallWatch | None = None,
    ) -> None:
        self._endpoint, self._priority, self._watch = endpoint, priority, watch
        self._key_id = client._key_id
        self._held = client._limiter.slot(client._key_id, priority)
        #: Seconds from asking the limiter for the slot to getting it.
        self.waited = 0.0

    async def __aenter__(self) -> _Slot:
        asked = time.perf_counter()
        try:
            await self._held.__aenter__()
        except TexinError:
            raise
        except Exception as exc:
            name = self._endpoint.name
            raise LimiterUnavailableError(
                f"{name}: the rate limiter failed ({type(exc).__name__}: {exc}); nothing was sent",
                endpoint=name,
            ) from exc
        self.waited = time.perf_counter() - asked
        if self._watch is not None:
            self._watch.granted(self.waited)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        with anyio.CancelScope(shield=True):  # a held slot must never leak
            await self._held.__aexit__(exc_type, exc, tb)  # type: ignore[arg-type]

    def answered(self, attempt: int, status: int, elapsed: float) -> None:
        """An answer came: the DEBUG line (its facts as ``texin_*`` fields), and the hooks."""
        if logger.isEnabledFor(logging.DEBUG):
            name = self._endpoint.name
            logger.debug(
                "texin %s -> %d in %.3fs",
                name,
                status,
                elapsed,
                extra=fields(
                    endpoint=name,
                    attempt=attempt,
                    status=status,
                    elapsed=elapsed,
                    key_id=self._key_id,
                    priority=self._priority.name.lower(),
                    wait=self.waited,
                ),
            )
        if self._watch is not None:
            self._watch.answered(status)
