"""Read a request body into the JSON object the endpoints take, or refuse it with a 400.

Whatever a client sends, the answer is the documented ``{"success": false, ...}`` 400, never
a crash: malformed or non-UTF-8 JSON, lone surrogate escapes, nesting deep enough to exhaust
the decoder's recursion, numbers a 64-bit backend cannot hold, and JSON that is not an object.
"""

from __future__ import annotations

import msgspec

from ._endpoints import ApiError, JSONObject

__all__ = ["MAX_DEPTH", "parse_payload"]

#: Deepest nesting of arrays and objects accepted: PHP's ``json_decode`` default depth.
MAX_DEPTH = 512
# PHP_INT_MIN..PHP_INT_MAX: PHP reads larger integers as floats, and the widest as INF.
_INT_RANGE = range(-(2**63), 2**63)
_JSON_WHITESPACE = b" \t\r\n"


def parse_payload(body: bytes) -> JSONObject:
    """The request's JSON object.

    Raises:
        ApiError: 400 for a body that is not UTF-8 JSON (empty or blank included), nests
            deeper than :data:`MAX_DEPTH`, holds a number out of range, or is not an object.
    """
    if not body.strip(_JSON_WHITESPACE):
        raise ApiError(400, "Invalid JSON", "The request body is empty")
    try:
        payload = msgspec.json.decode(body)
    except RecursionError:  # msgspec's own depth guard, far past MAX_DEPTH.
        raise _too_deep() from None
    except msgspec.ValidationError:  # Untyped, only a number past what a double holds.
        raise _out_of_range() from None
    except msgspec.DecodeError:
        raise ApiError(400, "Invalid JSON", "The request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "Invalid JSON", "The request body must be a JSON object")
    _check_values(payload)
    return payload


def _check_values(payload: JSONObject) -> None:
    """Refuse nesting past MAX_DEPTH and out-of-range integers, walking without recursion."""
    pending: list[tuple[object, int]] = [(payload, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
            raise _out_of_range()


def _too_deep() -> ApiError:
    return ApiError(400, "Invalid JSON", f"The request body nests deeper than {MAX_DEPTH} levels")


def _out_of_range() -> ApiError:
    return ApiError(400, "Invalid JSON", "A number in the request body is out of range")
