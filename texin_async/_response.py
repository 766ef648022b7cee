"""Reading an HTTP answer: a result, or the one error it amounts to, with its verdict.

This is where a request's :class:`~texin_async._exceptions.Fate` is decided for every
answer that arrived (transport failures are decided in ``map_transport_errors``):

==========================================  ===================  =================
answer                                      fate                 maybe_sent
==========================================  ===================  =================
JSON ``success`` true (any status)          (a result)           -
JSON ``success`` false, status below 500    REFUSED              False
429, whatever the body                      REFUSED              False
5xx, unless JSON ``success`` true           SERVER_ERROR         True
anything else (HTML, redirect, cut off)     NO_VERDICT           True
==========================================  ===================  =================

An answer larger than ``max_answer_bytes`` was not read to its end, so whatever JSON it
began with is no verdict: it is read by its status alone (a 2xx or 4xx is NO_VERDICT).

``success`` is read leniently (``true``, ``1``, ``"true"``); everything else of a success
answer is read leniently too, so a confirmed send never becomes "unknown".
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
import msgspec

from ._endpoints import Endpoint
from ._exceptions import (
    APIError,
    Fate,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    TexinError,
    api_error_for,
)
from ._lenient import read_struct, truth
from ._models import Result, decoder_for
from ._secret import Secret
from ._transport import RawResponse

__all__ = ["parse_retry_after", "read_response"]

_R = TypeVar("_R", bound=Result)
_EXCERPT_CHARS = 200
_TEXT_CHARS = 500  # a server's message or error, as kept on an exception
# The headers an error message quotes (the rest are never shown).
_SHOWN_HEADERS = ("Location", "Content-Type", "Retry-After")


def read_response(response: RawResponse, endpoint: Endpoint[_R], secret: Secret) -> _R:
    """Decode a success into the endpoint's result, or raise the error the answer amounts to.

    A server or proxy that echoes the request body (``secret``, the key, in it) has the key
    scrubbed out of the answer before anything of it is read, kept or shown.

    Raises:
        APIError: An error status, or the API's refusal (see :attr:`TexinError.maybe_sent`).
        OutcomeUnknownError: A send got a 2xx without a verdict.
        ResponseDecodeError: A read got a 2xx without a verdict.
    """
    if _echoes(response, secret):
        response = _scrubbed(response, secret)
    status, content = response.status, response.content
    if response.too_large:  # not read to its end: whatever it said, it is not a verdict
        raise _failure(response, None, None, endpoint)
    if 200 <= status < 300 and (result := _documented(content, endpoint)) is not None:
        return result
    body = _json_object(content)
    success = truth(body.get("success")) if body is not None else None
    if body is not None and success:
        result = read_struct({**body, "success": True}, endpoint.model)
        result.__dict__["_raw"] = body
        return result
    body = secret.scrub(body)  # JSON may spell an echoed key with \\u escapes
    raise _failure(response, body, success, endpoint)


def _documented(content: bytes, endpoint: Endpoint[_R]) -> _R | None:
    """The fast path: a success of the documented shape, decoded straight into the Struct."""
    try:
        result = decoder_for(endpoint.model).decode(content)
    except msgspec.DecodeError:
        return None
    if not result.success:
        return None
    result.__dict__["_content"] = content
    return result


def fate_of(status: int, success: bool | None) -> Fate:
    """The fate of an answer that is not a success: the table in this module's docstring."""
    if status == 429:
        return Fate.REFUSED
    if status >= 500:
        return Fate.SERVER_ERROR
    return Fate.REFUSED if success is False else Fate.NO_VERDICT


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000" says "no zone known": HTTP dates are in GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _json_object(content: bytes) -> dict[str, Any] | None:
    """The body's JSON object, or None for anything else (never raises).

    A number beyond float range (``1e400``) is valid JSON that msgspec refuses to decode
    untyped: such a body is decoded again with those numbers as infinities, so that the
    refusal around it keeps its verdict. (The lenient reader takes infinities as absent.)
    """
    try:
        body = msgspec.json.decode(content)
    except msgspec.ValidationError:
        body = _decode_wide(content)
    except (msgspec.DecodeError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


_WIDE = msgspec.json.Decoder(float_hook=float)  # float("1e400") is inf, not an error


def _decode_wide(content: bytes) -> Any:
    """The body decoded with out-of-range floats as infinities; None if still undecodable."""
    try:
        return _WIDE.decode(content)
    except (msgspec.DecodeError, RecursionError):
        return None


def _failure(
    response: RawResponse,
    body: dict[str, Any] | None,
    success: bool | None,
    endpoint: Endpoint[Any],
) -> TexinError:
    """The error an answer without success amounts to, carrying its fate."""
    status, fate = response.status, fate_of(response.status, success)
    if fate is Fate.NO_VERDICT and status < 300:
        return _unusable(response, endpoint)
    cls = api_error_for(status) if status >= 300 else APIError
    if fate is Fate.NO_VERDICT and 300 <= status < 400:
        location = _text(response.headers.get("Location")) or "?"
        message = f"unexpected redirect to {location}: check base_url"
    elif response.too_large:
        message = f"{response.reason or 'error'}; {_too_large(response)}"
    else:
        said = _text(body.get("message")) if body else None
        message = said or response.reason or "error"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "error": _text(body.get("error")) if body else None,
        "body": body,
        "endpoint": endpoint.name,
        "fate": fate,
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
    return cls(message, **kwargs)


def _unusable(response: RawResponse, endpoint: Endpoint[Any]) -> TexinError:
    """A 2xx without a verdict: maybe processed, so a send's outcome is unknown."""
    status, excerpt = response.status, _excerpt(response.content)
    kind = _text(response.headers.get("Content-Type")) or "no content type"
    if response.too_large:
        kind = _too_large(response)
    if endpoint.is_send:
        return OutcomeUnknownError(
            f"{endpoint.name}: sent, but the answer was unusable (HTTP {status}, {kind}); "
            "the SMS may or may not have gone out",
            endpoint=endpoint.name,
            status_code=status,
            excerpt=excerpt,
            fate=Fate.NO_VERDICT,
        )
    return ResponseDecodeError(
        f"{endpoint.name}: the answer was not the documented JSON (HTTP {status}, {kind})",
        status_code=status,
        excerpt=excerpt,
        endpoint=endpoint.name,
    )


def _echoes(response: RawResponse, secret: Secret) -> bool:
    """Whether the answer holds the key: in its body, reason phrase or the headers shown."""
    shown = (response.headers.get(name) for name in _SHOWN_HEADERS)
    return secret.in_bytes(response.content) or secret.in_text(response.reason, *shown)


def _scrubbed(response: RawResponse, secret: Secret) -> RawResponse:
    headers = httpx.Headers(list(response.headers.items()))  # case-insensitive, as it was
    for name in _SHOWN_HEADERS:
        if name in headers:
            headers[name] = secret.scrub(headers[name])
    return dataclasses.replace(
        response,
        content=secret.scrub_bytes(response.content),
        reason=secret.scrub(response.reason),
        headers=headers,
    )


def _too_large(response: RawResponse) -> str:
    return f"the answer was larger than max_answer_bytes ({response.too_large:,} bytes), unread"


def _text(value: object) -> str | None:
    """A server-given string (or number) to show in an error, cut to a sane length."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 3] + "..."


def _excerpt(content: bytes) -> str:
    return content[:_EXCERPT_CHARS].decode("utf-8", errors="replace")
