"""Reading an HTTP answer: accepted (decode it), refused (raise why), or unusable.

The classification is a small table so that the retry rules can rely on it: a refusal proves
the API did not act, an unusable answer proves nothing.
"""

from __future__ import annotations

import email.utils
import enum
import math
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

import msgspec

from ._exceptions import (
    APIError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    TexinError,
    api_error_for,
)
from ._models import ErrorBody, decoder_for
from ._transport import RawResponse

__all__ = ["Answer", "classify", "parse_retry_after", "read_response"]


class _Succeeds(Protocol):
    @property
    def success(self) -> bool | None: ...


_R = TypeVar("_R", bound=_Succeeds)
_ENVELOPE = msgspec.json.Decoder(ErrorBody)
_EXCERPT_CHARS = 200


class Answer(enum.Enum):
    """What an HTTP answer tells us about the request."""

    #: The documented JSON with ``"success": true``: decode it.
    ACCEPTED = "accepted"
    #: The API (or a proxy in front of it) refused: nothing was processed.
    REFUSED = "refused"
    #: No usable answer: the request may or may not have been processed.
    UNUSABLE = "unusable"


def classify(status: int, envelope: ErrorBody | None) -> Answer:
    """Classify by status and by whether the body was the API's JSON envelope."""
    if envelope is None:
        # A non-JSON 3xx/4xx is a proxy or server refusing the request; a non-JSON 2xx or
        # 5xx (a truncated body, a proxy's 502/504 page) says nothing about processing.
        return Answer.REFUSED if 300 <= status < 500 else Answer.UNUSABLE
    if status >= 300 or envelope.success is False:
        return Answer.REFUSED
    return Answer.ACCEPTED if envelope.success else Answer.UNUSABLE


def read_response(response: RawResponse, model: type[_R], *, endpoint: str, is_send: bool) -> _R:
    """Decode an accepted answer into ``model``, or raise the error it amounts to.

    Raises:
        APIError: Refused (by status, or a 200 with ``"success": false``).
        OutcomeUnknownError: A send got no usable answer.
        ResponseDecodeError: A read got no usable answer.
    """
    status, content = response.status, response.content
    if 200 <= status < 300:
        # Fast path: one decode straight into the Struct.
        try:
            result = decoder_for(model).decode(content)
        except msgspec.DecodeError:
            pass
        else:
            if result.success:
                return result
    envelope = _decode_envelope(content)
    if classify(status, envelope) is Answer.REFUSED:
        raise _refusal(response, envelope, endpoint)
    raise _unusable(response, endpoint, is_send=is_send)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _decode_envelope(content: bytes) -> ErrorBody | None:
    try:
        return _ENVELOPE.decode(content)
    except msgspec.DecodeError:
        return None


def _excerpt(content: bytes) -> str:
    return content[:_EXCERPT_CHARS].decode("utf-8", errors="replace")


def _refusal(response: RawResponse, envelope: ErrorBody | None, endpoint: str) -> APIError:
    status = response.status
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        return APIError(
            f"unexpected redirect to {location}: check base_url",
            status_code=status,
            endpoint=endpoint,
        )
    cls = api_error_for(status) if status >= 300 else APIError
    message = (envelope.message if envelope else None) or response.reason or "error"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "error": envelope.error if envelope else None,
        "body": _body_dict(response.content) if envelope else None,
        "endpoint": endpoint,
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
    return cls(message, **kwargs)


def _body_dict(content: bytes) -> dict[str, Any]:
    body = msgspec.json.decode(content)
    return body if isinstance(body, dict) else {}


def _unusable(response: RawResponse, endpoint: str, *, is_send: bool) -> TexinError:
    status, excerpt = response.status, _excerpt(response.content)
    kind = response.headers.get("Content-Type", "no content type")
    if is_send:
        return OutcomeUnknownError(
            f"{endpoint}: sent, but the answer was unusable (HTTP {status}, {kind}); "
            "the SMS may or may not have gone out",
            endpoint=endpoint,
            status_code=status,
            excerpt=excerpt,
        )
    return ResponseDecodeError(
        f"{endpoint}: the answer was not the documented JSON (HTTP {status}, {kind})",
        status_code=status,
        excerpt=excerpt,
        endpoint=endpoint,
    )
