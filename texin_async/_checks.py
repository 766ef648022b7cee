"""Argument checks: a bad argument is an :class:`InvalidRequestError` naming it.

Every argument the SDK takes is checked where it is given (a constructor, a method call)
with these, so that nothing is sent on a bad one and no foreign exception (an
``AttributeError`` at the first retry, an ``httpx.InvalidURL``, a ``FileNotFoundError``)
escapes later. ``TypeError`` is left to Python's own call checks (a missing or unknown
argument).
"""

from __future__ import annotations

import math
from types import UnionType
from typing import Any

from ._exceptions import InvalidRequestError

__all__ = ["a_number", "callable_or_none", "flag", "must_be", "text", "whole"]


def whole(name: str, value: object, *, minimum: int) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be a whole number, got {_shown(value)}")
    if value < minimum:
        raise InvalidRequestError(f"{name} must be >= {minimum}, got {value}")
    return value


def a_number(
    name: str, value: object, *, positive: bool = False, what: str = "a number of seconds"
) -> float:
    """``value`` as a float if it is a finite real number >= 0 (> 0 when ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(f"{name} must be {what}, got {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int past float's range
        number = math.inf
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        raise InvalidRequestError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


def flag(name: str, value: object) -> bool:
    """``value`` if it is True or False: a truthy ``"no"`` must not switch a safety off."""
    if not isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be True or False, got {_shown(value)}")
    return value


def text(name: str, value: object) -> str:
    """``value`` if it is a string with something in it besides whitespace."""
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string, got {_shown(value)}")
    if not value.strip():
        raise InvalidRequestError(f"{name} must not be empty")
    return value


def must_be(name: str, value: object, kind: type | UnionType, what: str) -> None:
    """Refuse ``value`` unless it is a ``kind``; ``what`` says what to pass instead."""
    if not isinstance(value, kind):
        raise InvalidRequestError(f"{name} must be {what}, got {_shown(value)}")


def callable_or_none(name: str, value: Any) -> Any:
    """``value`` if it is None or callable."""
    if value is not None and not callable(value):
        raise InvalidRequestError(f"{name} must be a callable or None, got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    """A bad argument as an error names it: its type, and its value when short.

    Only the type of a string is shown: a misplaced argument may be the key or a text.
    """
    kind = type(value).__name__
    if isinstance(value, str | bytes) or value is None:
        return kind if value is not None else "None"
    shown = repr(value)
    return f"{kind} {shown}" if len(shown) <= 40 and not shown.startswith("<") else kind
