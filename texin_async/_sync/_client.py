"""SyncTexinClient: TexinClient for code without an event loop (Django, Celery, Flask, scripts)."""

from __future__ import annotations

import functools
import os
import ssl
import weakref
from collections.abc import Callable, Generator, Iterable
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import httpx

from .._batch import BatchItems, BatchProgress, BatchReport, Outcome
from .._client import ClientState, TexinClient
from .._config import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    RateLimit,
    RetryPolicy,
)
from .._exceptions import ClientStateError, InvalidRequestError
from .._models import ApiInfo, Balance, BulkSMSResult, ConnectionTest, MessageStatus, SMSResult
from .._ratelimit import Priority, RateLimiter
from .._secret import Secret, secret_key
from .._transport import TransportChoice
from .._units import COST_PER_UNIT
from ..instrumentation._hooks import as_hooks
from . import _loop
from ._caller import CallerThread
from ._outcomes import OutcomeFeed, iterate

if TYPE_CHECKING:
    from ..instrumentation import Hook

__all__ = ["SyncTexinClient"]


class SyncTexinClient:
    """Blocking client for the Texin SMS API: :class:`TexinClient`'s methods, without ``await``.

    Each call runs the async client's method on one background event loop per process,
    shared by every sync client: all clients of a key share one rate-limit budget, and each
    keeps one connection pool. Safe to share between threads, safe across ``fork`` (the
    child starts its own loop and pool), and Ctrl-C cancels the request in flight. Same
    arguments, results and exceptions as :class:`TexinClient`, except:

    - ``http_client`` is refused: the SDK's loop cannot use an ``httpx.AsyncClient`` made
      for yours. Pass ``transport=``, ``verify=`` or ``max_connections=`` instead.
    - A ``transport`` object (not ``"aiohttp"``) works until a ``fork``: its connections
      would be the parent's, so a child must make its own client.
    - A batch reads ``items`` and calls ``on_outcome`` in your thread, as you would expect
      (lists and tuples are read on the loop: they run none of your code).
    - ``hooks`` run on the SDK's loop thread (your thread's tracing context still reaches
      them, so a span of yours is the parent of the call's span): keep them thread-safe.

    Calls that wait for the API raise :class:`InvalidRequestError` inside a running event
    loop: there, use :class:`TexinClient`.

    Example::

        with SyncTexinClient() as client:  # key from TEXIN_API_KEY
            result = client.send_sms("0712345678", "Your code is 4821")
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
        key = None if api_key is None else secret_key(api_key)
        del api_key  # held redacted from here on: no frame of a traceback shows it
        if isinstance(key, str):
            raise InvalidRequestError(key)
        if http_client is not None:
            raise InvalidRequestError(
                "SyncTexinClient sends on its own event loop, where an httpx.AsyncClient made "
                "for yours cannot be used: pass transport=, verify= or max_connections= "
                "instead, or use TexinClient with your http_client"
            )
        self._make: Callable[[], TexinClient] = _Maker(
            key,
            base_url=base_url,
            sender_id=sender_id,
            rate_limit=rate_limit,
            limiter=limiter,
            retry=retry,
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
            verify=verify,
            allow_insecure_http=allow_insecure_http,
            max_answer_bytes=max_answer_bytes,
            hooks=as_hooks(hooks),  # a tuple: a forked child builds its client again
        )
        # After a fork, a transport object would carry the parent's connections.
        self._forkable = transport is None or isinstance(transport, str)
        self._closed = False
        self._generation = _loop.generation()
        self._core = self._build()

    def _build(self) -> TexinClient:
        """A TexinClient made on the loop's thread (where its anyio objects belong)."""
        core = _loop.run_sync(self._make)
        _loop.adopt(core)
        # Dropped unclosed, its pool is closed on the loop (not here, on another thread).
        weakref.finalize(self, _loop.close_later, core, _loop.generation()).atexit = False
        return core

    def _client(self) -> TexinClient:
        """The async client of this process: a forked child makes its own on first use."""
        if self._closed:
            raise ClientStateError(
                "this SyncTexinClient is closed; nothing was sent: create a new one"
            )
        generation = _loop.generation()
        if self._generation != generation:
            if not self._forkable:
                raise InvalidRequestError(
                    "this SyncTexinClient was made before a fork with a transport object, "
                    "whose connections belong to the parent process: make the client in "
                    "the child (e.g. in Celery's worker_process_init)"
                )
            self._core, self._generation = self._build(), generation
        return self._core

    @property
    def _texin_async(self) -> TexinClient:
        """The async client behind this one (a batch item's ``client`` may name either)."""
        return self._core

    @property
    def base_url(self) -> str:
        """The API root every request goes to, with a trailing slash."""
        return self._core.base_url

    @property
    def sender_id(self) -> str | None:
        """The default sender id of sends (None: the account's default)."""
        return self._core.sender_id

    @property
    def retry(self) -> RetryPolicy:
        """When failed requests are retried."""
        return self._core.retry

    @property
    def key_id(self) -> str:
        """A hash prefix naming the API key in logs, limiters and errors, never the key."""
        return self._core.key_id

    @property
    def state(self) -> ClientState:
        """OPEN until :meth:`close`."""
        return ClientState.CLOSED if self._closed else ClientState.OPEN

    def __repr__(self) -> str:
        # getattr: a half-built client (its constructor raised) must still format.
        core: TexinClient | None = getattr(self, "_core", None)
        if core is None:
            return "<SyncTexinClient unopened>"
        return f"<SyncTexinClient {core.base_url} key_id={core.key_id} {self.state.value}>"

    def __enter__(self) -> SyncTexinClient:
        self._client()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool. Safe to call twice, and from any thread."""
        if self._closed:
            return
        self._closed = True
        if self._generation == _loop.generation():  # a parent's pool is never touched
            _loop.run_sync(self._core.aclose)

    def for_key(self, api_key: str, *, sender_id: str | None = None) -> SyncTexinClient:
        """A client for another API key on this one's pool and settings; see
        :meth:`TexinClient.for_key`."""
        key = secret_key(api_key)
        del api_key  # held redacted from here on: no frame of a traceback shows it
        if isinstance(key, str):
            raise InvalidRequestError(key)
        parent = self
        view = SyncTexinClient.__new__(SyncTexinClient)
        view.__dict__.update(self.__dict__)
        # A Secret passes for the key: for_key takes it as given, never unwrapped here.
        view._make = lambda: parent._client().for_key(cast(str, key), sender_id=sender_id)
        view._closed = False
        view._core = view._build()
        return view

    # -- endpoints: each is TexinClient's, run on the shared loop --------------------------

    def api_info(self, *, priority: Priority = Priority.INTERACTIVE) -> ApiInfo:
        """The API's name, version and endpoints (``GET /api/``); ``priority`` (every
        method takes it) as for :class:`TexinClient`."""
        return _loop.call(self._client().api_info, priority=priority)

    def test_connection(self, *, priority: Priority = Priority.INTERACTIVE) -> ConnectionTest:
        """Check that the API is reachable (``GET /api/test_connection``)."""
        return _loop.call(self._client().test_connection, priority=priority)

    def get_balance(self, *, priority: Priority = Priority.INTERACTIVE) -> Balance:
        """Credits left and account details."""
        return _loop.call(self._client().get_balance, priority=priority)

    def check_status(
        self, message_id: str, *, priority: Priority = Priority.INTERACTIVE
    ) -> MessageStatus:
        """Delivery status of a message sent earlier; see :meth:`TexinClient.check_status`."""
        return _loop.call(self._client().check_status, message_id, priority=priority)

    def send_sms(
        self,
        recipient: str,
        message: str,
        *,
        sender_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> SMSResult:
        """Send one SMS, never twice; see :meth:`TexinClient.send_sms`.

        Raises:
            InvalidRequestError: A bad number or empty message; nothing was sent.
            TexinError: Anything else; its ``maybe_sent`` says whether the SMS may have
                gone out.
        """
        send = self._client().send_sms
        return _loop.call(send, recipient, message, sender_id=sender_id, priority=priority)

    def send_bulk_sms(
        self,
        recipients: Iterable[str],
        message: str,
        *,
        sender_id: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> BulkSMSResult:
        """Send one text to many numbers in one request; see :meth:`TexinClient.send_bulk_sms`."""
        send = self._client().send_bulk_sms
        return _loop.call(send, recipients, message, sender_id=sender_id, priority=priority)

    # -- batches ---------------------------------------------------------------------------

    def send_batch(
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
        """Send many messages under the key's budget; see :meth:`TexinClient.send_batch`.

        ``items`` are read, and ``on_outcome`` called, in this thread. Ctrl-C stops the
        batch (its journal stays consistent) and raises ``KeyboardInterrupt``.
        """
        caller = CallerThread()
        return _loop.serve(
            caller,
            self._client().send_batch,
            caller.items(items),
            chunk_size=chunk_size,
            max_in_flight=max_in_flight,
            journal=journal,
            on_outcome=caller.callback(on_outcome),
            dry_run=dry_run,
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
            check_balance=check_balance,
            lookahead=lookahead,
            progress=progress,
            cost_per_unit=cost_per_unit,
            priority=priority,
        )

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
    ) -> Generator[Outcome, None, None]:
        """Like :meth:`send_batch`, but yield each :class:`Outcome` as it settles.

        Nothing runs until the first ``next()``. Breaking out of the loop, or ``close()`` on
        the generator, stops the batch. ``items`` are read, and ``on_outcome`` called, in
        the thread that iterates.

        Example::

            for outcome in client.iter_batch(rows, journal="job.sqlite"):
                writer.writerow([outcome.ref, outcome.status.value, outcome.message_id])
        """
        _loop.refuse_inside_event_loop()
        caller = CallerThread()
        make = functools.partial(
            self._client().iter_batch,
            caller.items(items),
            chunk_size=chunk_size,
            max_in_flight=max_in_flight,
            journal=journal,
            on_outcome=caller.callback(on_outcome),
            dry_run=dry_run,
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
            check_balance=check_balance,
            lookahead=lookahead,
            progress=progress,
            cost_per_unit=cost_per_unit,
            priority=priority,
        )
        return iterate(OutcomeFeed(_loop.run_sync(make), buffer=chunk_size), caller)


class _Maker:
    """Makes the async client (again, in a forked child) from the constructor's arguments,
    the key held redacted: its repr, as a traceback's locals show it, hides the key."""

    __slots__ = ("_key", "_kwargs")

    def __init__(self, key: Secret | None, **kwargs: Any) -> None:
        self._key, self._kwargs = key, kwargs

    def __call__(self) -> TexinClient:
        # A Secret passes for the key: TexinClient takes it as given, never unwrapped here.
        return TexinClient(cast(str | None, self._key), **self._kwargs)

    def __repr__(self) -> str:
        return "<SyncTexinClient's TexinClient maker>"
