"""One exception hierarchy for everything the SDK raises, and the one verdict it carries.

Each class is named for what happened; every error also says whether the API may have acted
on the request (:attr:`TexinError.maybe_sent`), so a caller can decide what is safe to do::

    TexinError                   .maybe_sent: may the API have processed it?
    ├── InvalidRequestError      refused locally, nothing sent (also a ValueError)
    ├── APIConnectionError       never reached the API: nothing sent, safe to retry
    │   └── LimiterUnavailableError   the shared (Redis) limiter is down; nothing sent
    ├── OutcomeUnknownError      sent, then no usable answer: maybe sent
    │   └── APITimeoutError
    ├── APIError                 an error status or the API's refusal (.status_code,
    │   │                        .message, .error, .body); not sent only if the API refused
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401
    │   ├── PermissionDeniedError    403
    │   ├── NotFoundError            404
    │   ├── RateLimitError           429 (.retry_after): never sent
    │   └── ServerError              5xx: maybe sent ("server error or SMS gateway failure")
    ├── ResponseDecodeError      a read got no usable answer
    ├── InsufficientBalanceError a batch's preflight: the balance cannot cover it
    └── JournalError             a batch journal cannot be used; nothing sent
        └── JournalMismatchError     the input differs from the journal's

``maybe_sent`` comes from one table, :data:`MAYBE_SENT`, keyed by the request's
:class:`Fate`; the fate is decided once, where the answer (or the lack of one) is read.
Retries, batch statuses, CLI exit codes and README's retry table all follow from it.

No message or repr ever contains the API key: the key travels only in request bodies, and
no exception carries a request body.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

if TYPE_CHECKING:
    from ._secret import RequestBody

__all__ = [
    "HTTPX_ERRORS",
    "MAYBE_SENT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientStateError",
    "Fate",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "JournalError",
    "JournalMismatchError",
    "LimiterUnavailableError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "TexinError",
    "api_error_for",
    "map_transport_errors",
]


class Fate(enum.Enum):
    """What became of a request that did not succeed, as far as the verdict cares."""

    #: Stopped before it left: a local check, the limiter, the journal, no connection.
    NOT_SENT = "not sent"
    #: The API refused it: its JSON says ``"success": false`` (status below 500), or a 429.
    REFUSED = "refused"
    #: A 5xx: "server error or SMS gateway failure", which may come after the SMS went out.
    SERVER_ERROR = "server error"
    #: An answer without the API's verdict: HTML, a redirect, a cut-off or shapeless body.
    NO_VERDICT = "no verdict"
    #: Sent, then no answer: a timeout, a dropped or reset connection.
    NO_ANSWER = "no answer"


#: The one verdict table: whether the API may have processed a request that met each fate.
MAYBE_SENT: Mapping[Fate, bool] = MappingProxyType(
    {
        Fate.NOT_SENT: False,
        Fate.REFUSED: False,
        Fate.SERVER_ERROR: True,
        Fate.NO_VERDICT: True,
        Fate.NO_ANSWER: True,
    }
)


class TexinError(Exception):
    """Base class of every error the SDK raises."""

    #: The fate an error of this class stands for, unless the reader says otherwise.
    default_fate: ClassVar[Fate] = Fate.NOT_SENT

    def __init__(
        self, message: str, *, endpoint: str | None = None, fate: Fate | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The endpoint name (``"send_sms"``), when the error concerns a request.
        self.endpoint = endpoint
        self._fate = type(self).default_fate if fate is None else fate

    @property
    def fate(self) -> Fate:
        """What became of the request; :attr:`maybe_sent` follows from it."""
        return self._fate

    @property
    def maybe_sent(self) -> bool:
        """True when the API may have processed the request: for a send, the SMS may have
        gone out. Only a ``maybe_sent=False`` send is ever retried automatically."""
        return MAYBE_SENT[self.fate]

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, maybe_sent={self.maybe_sent})"


class InvalidRequestError(TexinError, ValueError):
    """The SDK refused the input before sending anything."""


class ClientStateError(TexinError, RuntimeError):
    """The client cannot send now: it is closed, or its connections belong to another event
    loop (a second ``asyncio.run``). Nothing was sent; a batch stops on it, its items left
    to send when re-run."""


class APIConnectionError(TexinError):
    """The request never reached the API (DNS, refused, TLS failure, pool timeout).

    Nothing was processed, so retrying is safe, sends included.
    """


class LimiterUnavailableError(APIConnectionError):
    """The shared rate limiter (Redis) could not be reached, so nothing was sent.

    An :class:`APIConnectionError`: the request never left, so retrying is safe, sends
    included. Pass ``fail_open=True`` to :class:`RedisRateLimiter` to fall back to a
    per-process limit instead.
    """


class OutcomeUnknownError(TexinError):
    """The request was sent but no usable answer came back; the API may have processed it.

    For a send this means the SMS may or may not have gone out, and there is no message id
    to look up: check your provider dashboard, or decide by cost whether a duplicate or a
    miss is worse, before sending again.
    """

    default_fate = Fate.NO_ANSWER

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        excerpt: str | None = None,
        fate: Fate | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, fate=fate)
        self.status_code = status_code
        self.excerpt = excerpt


class APITimeoutError(OutcomeUnknownError):
    """The API did not answer in time after the request was sent."""


class APIError(TexinError):
    """The API (or a server in front of it) answered with an error status or a refusal.

    Raised for a 200 whose JSON says ``"success": false`` and for any error status. Only
    the API's own refusal proves nothing was processed: see :attr:`maybe_sent`.
    """

    default_fate = Fate.REFUSED

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        body: dict[str, Any] | None = None,
        endpoint: str | None = None,
        fate: Fate | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, fate=fate)
        self.status_code = status_code
        #: The API's ``error`` field: the detailed reason, when it gave one.
        self.error = error
        #: The decoded JSON body (never contains the API key: the API does not echo it).
        self.body = body if body is not None else {}

    def __str__(self) -> str:
        detail = f" ({self.error})" if self.error and self.error != self.message else ""
        where = f"{self.endpoint}: " if self.endpoint else ""
        return f"{where}{self.status_code} {self.message}{detail}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, "
            f"message={self.message!r}, error={self.error!r}, maybe_sent={self.maybe_sent})"
        )


class BadRequestError(APIError):
    """400: invalid parameters, an invalid number or sender id, or insufficient balance."""


class AuthenticationError(APIError):
    """401: the API key is invalid or missing."""


class PermissionDeniedError(APIError):
    """403: the account is inactive or lacks permission."""


class NotFoundError(APIError):
    """404: unknown endpoint or message id."""


class RateLimitError(APIError):
    """429: the key went over the provider's request limit."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        #: Seconds the server asked us to wait, from ``Retry-After``.
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the API or its SMS gateway failed, maybe after the SMS went out."""

    default_fate = Fate.SERVER_ERROR


class ResponseDecodeError(TexinError):
    """A read's answer had no usable verdict (truncated, HTML, no ``success``)."""

    default_fate = Fate.NO_VERDICT

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        excerpt: str,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status_code = status_code
        #: The first bytes of the body, to see what came back instead.
        self.excerpt = excerpt


class InsufficientBalanceError(TexinError):
    """The balance cannot cover the batch (or is unknown); raised before anything is sent."""

    def __init__(self, message: str, *, needed_units: int, balance: Decimal | None) -> None:
        super().__init__(message)
        self.needed_units = needed_units
        self.balance = balance


class JournalError(TexinError):
    """The journal cannot be used: in use by another batch, not a journal, or unwritable."""


class JournalMismatchError(JournalError):
    """The input is not the one the journal recorded; ``index`` is the first item that differs."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def api_error_for(status_code: int) -> type[APIError]:
    """The APIError subclass for an HTTP status (a ``success: false`` 2xx is plain APIError)."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIError)


#: httpx's failures by class; the most specific class in an error's MRO wins.
HTTPX_ERRORS: dict[type[BaseException], type[TexinError]] = {
    # Before the request could reach the server: nothing was processed.
    httpx.ConnectError: APIConnectionError,
    httpx.ConnectTimeout: APIConnectionError,
    httpx.PoolTimeout: APIConnectionError,
    httpx.ProxyError: APIConnectionError,
    httpx.UnsupportedProtocol: APIConnectionError,
    httpx.LocalProtocolError: APIConnectionError,
    # Timed out once the request was on its way: the server may have acted on it.
    httpx.ReadTimeout: APITimeoutError,
    httpx.WriteTimeout: APITimeoutError,
    # Dropped, reset, cut off or undecodable after the request left.
    httpx.TransportError: OutcomeUnknownError,
    httpx.DecodingError: OutcomeUnknownError,
}
_WORDING: dict[type[TexinError], str] = {
    APIConnectionError: "{endpoint}: could not reach the API ({name}: {exc})",
    APITimeoutError: "{endpoint}: no answer in time after the request was sent ({name})",
    OutcomeUnknownError: "{endpoint}: the connection failed after the request was sent "
    "({name}: {exc})",
}


@contextlib.contextmanager
def map_transport_errors(
    endpoint: str,
    table: Mapping[type[BaseException], type[TexinError]] = HTTPX_ERRORS,
    body: RequestBody | None = None,
) -> Iterator[None]:
    """Translate a transport's errors into ours at one boundary, keeping the cause chained.

    Only a failure to connect proves the request was not processed (``Fate.NOT_SENT``); a
    dropped connection or a timeout after sending is ``Fate.NO_ANSWER``. ``table`` maps the
    transport's exception classes (httpx's by default) to ours; anything else passes. Every
    error out of a request with a ``body``, cancellation included, is cleansed of the key
    first (:meth:`Secret.cleanse`).
    """
    try:
        yield
    except BaseException as exc:
        if body is not None:
            body.secret.cleanse(exc)
        cls = next((table[c] for c in type(exc).__mro__ if c in table), None)
        if cls is None or not isinstance(exc, Exception):
            raise
        message = _WORDING[cls].format(endpoint=endpoint, name=type(exc).__name__, exc=_reason(exc))
        raise cls(message, endpoint=endpoint) from exc


def _reason(exc: BaseException) -> str:
    """The error's message or, when it has none, the first message down its causes: on trio
    httpx's ConnectError wraps a messageless BrokenResourceError around the TLS or socket
    error that says what happened."""
    cause: BaseException | None = exc
    while cause is not None and not str(cause):
        cause = cause.__cause__ or cause.__context__
    return str(cause or "")
