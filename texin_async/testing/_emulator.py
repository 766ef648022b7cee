"""TexinEmulator: the Texin SMS API as an ASGI app, with faults and a record of everything."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import anyio
import httpx

from texin_async._config import RateLimit

from ._asgi import (
    BodyTooLarge,
    ClientGone,
    Receive,
    Response,
    Scope,
    Send,
    TrackedSend,
    drop_connection,
    read_body,
    run_lifespan,
    send_response,
)
from ._dialect import Dialect, checked_dialect, rewrite
from ._endpoints import (
    Answer,
    ApiError,
    Handler,
    JSONObject,
    answer_post,
    requested_numbers,
)
from ._faults import Fault, FaultPlan
from ._payload import parse_payload
from ._records import DEFAULT_API_KEY, Account, FaultEvent, MessageRecord
from ._routes import Route, answer_get, route_for
from ._state import EmulatorState
from ._window import to_rate_limit

__all__ = ["TexinEmulator"]

_log = logging.getLogger("texin_async.testing")

_NOT_FOUND = ApiError(404, "Endpoint not found", "See GET /api/ for the endpoints").answer
_TOO_LARGE = ApiError(413, "Payload too large", "The request body is too large").answer
_SERVER_ERROR = ApiError(500, "Internal server error", "The server could not complete it").answer
_FORCED_429 = ApiError(
    429, "Rate limit exceeded", "Too many requests", headers=(("retry-after", "1"),)
).answer
# Byte for byte what nginx sends when the application behind it is down.
_NGINX_502 = Response(
    502,
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n",
    "text/html",
    (("server", "nginx"),),
)
_DROPS = frozenset({Fault.DROP_BEFORE, Fault.DROP_AFTER})


class TexinEmulator:
    """The Texin SMS API v2.0.1, faithful to its documentation, as an ASGI app.

    Strict where the real service is strict (number formats, sender ids, balance, the rate
    limit per key), able to inject the faults real networks produce, and recording what it
    did so tests can check it. Whatever a client sends, the answer is documented JSON: a
    400 for any undecodable or hostile body, and, should the emulator itself fail, the
    documented 500 (logged to the ``texin_async.testing`` logger). Serve it with
    :func:`serve` or :func:`serve_in_thread`, or in process with
    ``httpx.ASGITransport(app=emulator)``.

    The documentation is examples, and the real service a PHP backend: ``dialect="php"``
    answers as one reading MySQL plausibly would (booleans as 0/1, numbers as strings,
    ``[]`` for an empty map, ``GET /api/``'s endpoints as a list), refusals included, to
    prove a client reads both.

    Args:
        accounts: The accounts it serves; default one ``Account(api_key=DEFAULT_API_KEY)``.
        rate_limit: Requests per API key per sliding window (``"100/60"``); None: no limit.
        faults: Probability per POST request of each fault, drawn with ``seed``.
        seed: Seed of the fault draws and gateway transaction ids.
        failing_numbers: Numbers the simulated SMS gateway fails to deliver to.
        slow_seconds: How late ``Fault.SLOW_AFTER`` answers (and ``SLOW_BEFORE`` processes).
        max_bulk_recipients: Most recipients one ``send_bulk_sms`` accepts.
        max_body_bytes: Larger request bodies get 413.
        clock: Monotonic seconds for the rate window; inject one to test it without sleeping.
        dialect: How answers are written: ``"documented"``, exactly as the documentation's
            examples, or ``"php"``.
        key_prefix: Also serve any API key that starts with this, each as an account of its
            own (default balance) made on first use: for tests with thousands of accounts.

    Example::

        emulator = TexinEmulator(rate_limit="20/2", faults={Fault.DROP_AFTER: 0.05})
        async with serve(emulator) as base_url:
            ...
        assert max(emulator.processed(DEFAULT_API_KEY).values()) == 1
    """

    def __init__(
        self,
        accounts: Iterable[Account] | None = None,
        *,
        rate_limit: RateLimit | str | None = "100/60",
        faults: Mapping[Fault, float] | None = None,
        seed: int = 0,
        failing_numbers: Iterable[str] = (),
        slow_seconds: float = 2.0,
        max_bulk_recipients: int = 1000,
        max_body_bytes: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
        dialect: Dialect = "documented",
        key_prefix: str | None = None,
    ) -> None:
        if not slow_seconds >= 0:
            raise ValueError(f"slow_seconds must be >= 0, got {slow_seconds}")
        if max_bulk_recipients < 1 or max_body_bytes < 1:
            raise ValueError("max_bulk_recipients and max_body_bytes must be >= 1")
        self._state = EmulatorState(
            [Account(api_key=DEFAULT_API_KEY)] if accounts is None else accounts,
            rate_limit=to_rate_limit(rate_limit),
            clock=clock,
            failing_numbers=failing_numbers,
            max_bulk_recipients=max_bulk_recipients,
            seed=seed,
            key_prefix=key_prefix,
        )
        self._dialect = checked_dialect(dialect)
        self._initial = (seed, slow_seconds, max_body_bytes, self._dialect)
        #: Which requests get which fault; change it at any time.
        self.faults = FaultPlan(faults, seed=seed)
        #: How late ``Fault.SLOW_AFTER`` answers (``SLOW_BEFORE`` processes), in seconds;
        #: change it at any time.
        self.slow_seconds = slow_seconds
        #: Larger request bodies get 413; change it at any time.
        self.max_body_bytes = max_body_bytes

    @property
    def dialect(self) -> Dialect:
        """How answers are written, ``"documented"`` or ``"php"``; change it at any time.

        Raises:
            ValueError: on assignment, a value that names no dialect.
        """
        return self._dialect

    @dialect.setter
    def dialect(self, value: Dialect) -> None:
        self._dialect = checked_dialect(value)

    def __repr__(self) -> str:
        state = self._state
        return (
            f"TexinEmulator(accounts={len(state.accounts)}, messages={len(state.messages)}, "
            f"rate_limit={state.windows.limit!r}, faults={self.faults!r})"
        )

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope (HTTP, or lifespan under a server)."""
        if scope["type"] == "lifespan":
            await run_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        tracked = TrackedSend(send)
        try:
            await self._route(scope, receive, tracked)
        except httpx.RemoteProtocolError:  # In process, how a DROP fault reaches the client.
            raise
        except Exception:
            # Last resort: a bug here must still look like the API, never a server's text 500.
            _log.exception("The emulator failed on %s %s", scope["method"], scope["path"])
            if not tracked.started:
                route = route_for(scope["path"])
                await self._answer(
                    send, None, route.endpoint if route else "unknown", _SERVER_ERROR
                )

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self._state.lock:
            if scope.get("client"):
                self._state.clients.add(tuple(scope["client"]))
        route = route_for(scope["path"])
        if route is None:
            await self._answer(send, None, "unknown", _NOT_FOUND)
        elif scope["method"] != route.method:
            await self._answer(send, None, route.endpoint, _not_allowed(route))
        elif route.handler is None:
            await self._answer(send, None, route.endpoint, answer_get(route))
        else:
            await self._post(route.endpoint, route.handler, receive, send)

    async def _post(self, endpoint: str, handler: Handler, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            await self._answer(send, None, endpoint, _TOO_LARGE)
            return
        except ClientGone:
            return
        try:
            parsed: JSONObject | Answer = parse_payload(body)
        except ApiError as exc:
            parsed = exc.answer
        payload = parsed if isinstance(parsed, dict) else None
        fault = self.faults.draw(endpoint)
        if fault is not None and not fault.processes_first:
            await self._inject(fault, endpoint, payload, _refusal(fault), receive, send)
            return
        if fault is Fault.SLOW_BEFORE:
            await anyio.sleep(self.slow_seconds)  # queued; processed even if the client left
        if isinstance(parsed, Answer):
            answer = parsed
        else:
            with self._state.lock:
                answer = answer_post(self._state, handler, parsed)
        if fault is None:
            await self._answer(send, self._key_in(payload), endpoint, answer)
        else:
            await self._inject(fault, endpoint, payload, answer, receive, send)

    async def _inject(
        self,
        fault: Fault,
        endpoint: str,
        payload: JSONObject | None,
        answer: Answer,
        receive: Receive,
        send: Send,
    ) -> None:
        """Log ``fault`` and deliver it in place of (or to spoil) ``answer``."""
        processed = fault.processes_first and answer.status < 400
        event = FaultEvent(
            fault, endpoint, processed, requested_numbers(endpoint, payload), answer.message_ids
        )
        if fault is Fault.SERVER_ERROR_AFTER:
            answer = _SERVER_ERROR if answer.status < 400 else answer
        status = 0 if fault in _DROPS else 502 if fault is Fault.HTML_502 else answer.status
        with self._state.lock:
            self._state.fault_log.append(event)
            self._state.record_request(self._key_in(payload), endpoint, status)
        if fault in _DROPS:
            await drop_connection(send, receive)
        elif fault is Fault.HTML_502:
            await send_response(send, _NGINX_502)
        else:
            if fault is Fault.SLOW_AFTER:
                await anyio.sleep(self.slow_seconds)
            truncated = fault is Fault.TRUNCATED_JSON
            await send_response(send, self._json(endpoint, answer, truncated=truncated))

    async def _answer(self, send: Send, api_key: str | None, endpoint: str, answer: Answer) -> None:
        with self._state.lock:
            self._state.record_request(api_key, endpoint, answer.status)
        await send_response(send, self._json(endpoint, answer))

    def _json(self, endpoint: str, answer: Answer, *, truncated: bool = False) -> Response:
        """``answer`` as JSON in the current dialect; ``truncated``: only its first half."""
        body = rewrite(answer.body, self._dialect, endpoint=endpoint)
        response = Response.json(answer.status, body, answer.headers)
        if truncated:
            return Response(response.status, response.body[: len(response.body) // 2])
        return response

    def _key_in(self, payload: JSONObject | None) -> str | None:
        """The request's API key if it names an account: whose request to count it as."""
        account = self._state.account_for(payload.get("api_key")) if payload else None
        return account.api_key if account else None

    # -- Introspection and control ----------------------------------------------------------

    def processed(self, api_key: str) -> Counter[str]:
        """Normalised number -> times actually sent (charged or simulated) for ``api_key``.

        A count above 1 is a duplicate send.
        """
        with self._state.lock:
            return Counter(self._state.processed.get(api_key, ()))

    def requests(self, api_key: str | None = None) -> Counter[tuple[str, int]]:
        """(endpoint, HTTP status) -> count of requests, for ``api_key`` or (None) everyone.

        Endpoints are named as in the API (``"send_sms"``, ``"info"`` for ``GET /api/``,
        ``"unknown"`` for any other path); status 0 counts connections dropped unanswered.
        """
        counts: Counter[tuple[str, int]] = Counter()
        with self._state.lock:
            for (key, endpoint, status), count in self._state.requests.items():
                if api_key is None or key == api_key:
                    counts[endpoint, status] += count
        return counts

    def rate_limited(self, api_key: str) -> int:
        """How many 429s ``api_key`` got, from the rate window or injected."""
        with self._state.lock:
            return self._state.rate_limited[api_key]

    def max_in_window(self, api_key: str) -> int:
        """The most requests of ``api_key`` the rate window admitted within one period."""
        with self._state.lock:
            return self._state.windows.max_in_window(api_key)

    @property
    def connections_opened(self) -> int:
        """Distinct client connections seen (by client host and port)."""
        with self._state.lock:
            return len(self._state.clients)

    @property
    def fault_log(self) -> list[FaultEvent]:
        """Every fault injected so far, oldest first (a copy)."""
        with self._state.lock:
            return list(self._state.fault_log)

    @property
    def messages(self) -> Mapping[str, MessageRecord]:
        """message_id -> the message sent, for every account (a copy)."""
        with self._state.lock:
            return dict(self._state.messages)

    def account(self, api_key: str) -> Account:
        """The live account of ``api_key``: its balance falls as it sends.

        Raises:
            KeyError: no account has that key (the key is not repeated in the error).
        """
        with self._state.lock:
            account = self._state.account_for(api_key)
        if account is None:
            raise KeyError("no account has that api_key")
        return account

    def add_account(self, account: Account) -> None:
        """Serve ``account`` too, replacing any with the same key, until :meth:`reset`."""
        with self._state.lock:
            self._state.accounts[account.api_key] = account

    def set_rate_limit(self, rate_limit: RateLimit | str | None) -> None:
        """Change the rate limit (``"20/2"``, a RateLimit, or None for none) from now on."""
        limit = to_rate_limit(rate_limit)
        with self._state.lock:
            self._state.windows.limit = limit

    def reset(self) -> None:
        """Back to the initial accounts and settings, with no faults and no statistics."""
        seed, self.slow_seconds, self.max_body_bytes, self.dialect = self._initial
        self.faults.clear()
        self.faults.set_rates({}, seed=seed)
        self._state.reset()


def _refusal(fault: Fault) -> Answer:
    """What a "before" fault answers instead of the API (drops and HTML answer nothing)."""
    return _FORCED_429 if fault is Fault.RATE_LIMIT else _SERVER_ERROR


def _not_allowed(route: Route) -> Answer:
    return ApiError(
        405,
        "Method not allowed",
        f"{route.endpoint} requires {route.method}",
        headers=(("allow", route.method),),
    ).answer
