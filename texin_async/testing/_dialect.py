"""How the emulator writes its answers: as documented, or as a PHP backend plausibly would.

The documentation is a set of examples, and the real service is PHP reading MySQL. Its
answers may well come out the way such code writes them: booleans as 0/1, numbers as the
strings MySQL returns, ``[]`` for an empty map (``json_encode`` of an empty PHP array). The
``"php"`` dialect writes every answer that way, so a client's tolerant reading is exercised
before production exercises it.
"""

from __future__ import annotations

from typing import Literal

from ._routes import ROUTES

__all__ = ["DIALECTS", "Dialect", "checked_dialect", "rewrite"]

Dialect = Literal["documented", "php"]
#: Every dialect, the documented one (the default) first.
DIALECTS: tuple[Dialect, ...] = ("documented", "php")

_DESCRIPTIONS = {route.endpoint: route.description for route in ROUTES}


def checked_dialect(value: object) -> Dialect:
    """``value`` if it names a dialect.

    Raises:
        ValueError: it does not; the message lists the dialects.
    """
    for dialect in DIALECTS:
        if value == dialect:
            return dialect
    raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}; got {value!r}")


def rewrite(body: object, dialect: Dialect, *, endpoint: str) -> object:
    """``body``, an answer of ``endpoint``, as ``dialect`` writes it; the input is not changed.

    ``"documented"`` returns ``body`` itself. ``"php"`` turns every boolean into 0/1, every
    number into a string, every empty map into ``[]``, and ``GET /api/``'s ``endpoints`` map
    into a list of ``{"method", "path", "description"}`` objects.
    """
    if dialect == "documented":
        return body
    if endpoint == "info" and isinstance(body, dict):
        body = {**body, "endpoints": _endpoint_list(body["endpoints"])}
    return _php(body)


def _php(value: object) -> object:
    # Recursion is bounded: requests nest at most MAX_DEPTH levels, answers only echo them
    # (sender_id_used), and plain loops keep it to one frame per level on Python < 3.12.
    if isinstance(value, bool):  # Before int: a bool is an int.
        return int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _php_float(value)
    if isinstance(value, list):
        items = []
        for item in value:
            items.append(_php(item))
        return items
    if isinstance(value, dict):
        if not value:
            return []
        entries = {}
        for key, item in value.items():
            entries[key] = _php(item)
        return entries
    return value


def _php_float(value: float) -> str:
    """A float as PHP's string cast writes small ones: ``0.3`` as "0.3", ``92.0`` as "92"."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _endpoint_list(endpoints: dict[str, str]) -> list[dict[str, str]]:
    """``{"send_sms": "POST /api/send_sms"}`` as ``[{"method", "path", "description"}]``."""
    listed = []
    for name, route in endpoints.items():
        method, _, path = route.partition(" ")
        listed.append({"method": method, "path": path, "description": _DESCRIPTIONS[name]})
    return listed
