"""The tolerant reader: a result Struct from whatever JSON a success answer holds.

The documentation is examples, not a schema, and the service behind it is a PHP backend:
numbers may come as strings, booleans as 0/1 or ``"true"``, an empty map as ``[]`` (what
``json_encode`` makes of an empty PHP array), a nested object as a JSON string. The
documented shape decodes on msgspec's fast path (:mod:`texin_async._models`); when it does
not fit, :func:`read_struct` reads each field as leniently as its type allows, and a field
that still does not fit takes its default (None). It never raises: only what a promise
depends on (did the API say success?) may fail a call, and that is read by :func:`truth`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

__all__ = ["money", "read_struct", "truth"]

_S = TypeVar("_S", bound=msgspec.Struct)
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
# Sign, up to 30 digits, an optional fraction: longer "numbers" are not quantities we read.
_NUMBER = re.compile(r"[+-]?[0-9]{1,30}(?:\.[0-9]{0,30})?")
#: Money with more integer digits than this is not a balance or a price: treated as absent.
MONEY_DIGITS = 15


class _Misfit(Exception):
    """A value that does not fit its field's type, even read leniently."""


def truth(value: object) -> bool | None:
    """``true``/``1``/``"true"``/``"1"`` → True, their opposites → False, else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def money(value: object) -> Decimal | None:
    """A finite amount under 10**:data:`MONEY_DIGITS`, from a number or a numeric string.

    NaN, infinities, ``"1e999999999"`` and anything shapeless read as absent (None): a
    balance check must never pass, or crash, on one.
    """
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        amount = Decimal(repr(value))
    else:
        text = str(value).strip()
        if not _NUMBER.fullmatch(text):
            return None
        amount = Decimal(text)
    # adjusted() is the exponent of the leading digit: cheap, and never traps (no Overflow
    # from abs() of 1E+999999999, no InvalidOperation from comparing a signalling NaN).
    return amount if amount.is_finite() and amount.adjusted() < MONEY_DIGITS else None


def read_struct(body: dict[str, Any], model: type[_S]) -> _S:
    """``model`` from a decoded JSON object, each field read as leniently as its type allows."""
    fields: dict[str, Any] = {}
    for field in _struct_type(model).fields:
        if field.encode_name in body:
            with contextlib.suppress(_Misfit):  # else the field's default (None) stands
                fields[field.name] = _read(body[field.encode_name], field.type)
    return model(**fields)


@functools.cache
def _struct_type(model: type[msgspec.Struct]) -> mi.StructType:
    info = mi.type_info(model)
    assert isinstance(info, mi.StructType)
    return info


def _read(value: Any, kind: mi.Type) -> Any:
    """``value`` as ``kind``, or _Misfit."""
    reader = _READERS.get(type(kind))
    if reader is None:
        return value  # Any, and anything the models do not use
    return reader(value, kind)


def _read_union(value: Any, kind: mi.UnionType) -> Any:
    if value is None and any(isinstance(t, mi.NoneType) for t in kind.types):
        return None
    for option in kind.types:
        if not isinstance(option, mi.NoneType):
            try:
                return _read(value, option)
            except _Misfit:
                continue
    raise _Misfit


def _read_bool(value: Any, kind: mi.BoolType) -> bool:
    flag = truth(value)
    if flag is None:
        raise _Misfit
    return flag


def _read_int(value: Any, kind: mi.IntType) -> int:
    if isinstance(value, bool):
        raise _Misfit
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _NUMBER.fullmatch(number := value.strip()):
        whole, _, fraction = number.partition(".")
        if not fraction.strip("0"):
            return int(whole)
    raise _Misfit


def _read_str(value: Any, kind: mi.StrType) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise _Misfit
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    raise _Misfit


def _read_decimal(value: Any, kind: mi.DecimalType) -> Decimal:
    amount = money(value)
    if amount is None:
        raise _Misfit
    return amount


def _read_datetime(value: Any, kind: mi.DateTimeType) -> datetime:
    if not isinstance(value, str):
        raise _Misfit
    try:
        return msgspec.convert(value.strip(), datetime, strict=False)
    except msgspec.ValidationError:
        raise _Misfit from None


def _read_struct(value: Any, kind: mi.StructType) -> msgspec.Struct:
    value = _unwrap(value)
    if not isinstance(value, dict):
        raise _Misfit
    return read_struct(value, kind.cls)


def _read_dict(value: Any, kind: mi.DictType) -> dict[str, Any]:
    value = _unwrap(value)
    if isinstance(value, list):
        if not all(isinstance(key, str | int) and not isinstance(key, bool) for key in value):
            raise _Misfit
        value = dict.fromkeys(value)  # a PHP list of keys: ["2547..."] for {"2547...": ...}
    if not isinstance(value, dict):
        raise _Misfit
    read = {}
    for key, item in value.items():
        try:
            read[str(key)] = _read(item, kind.value_type)
        except _Misfit:
            continue
    return read


def _read_list(value: Any, kind: mi.ListType) -> list[Any]:
    value = _unwrap(value)
    if isinstance(value, dict):
        value = list(value.values())  # a PHP array with gaps in its keys encodes as a map
    if not isinstance(value, list):
        raise _Misfit
    read = []
    for item in value:
        try:
            read.append(_read(item, kind.item_type))
        except _Misfit:
            continue
    return read


def _unwrap(value: Any) -> Any:
    """A nested object sent as a JSON string, decoded; anything else as it is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return msgspec.json.decode(value)
        except (msgspec.DecodeError, RecursionError):
            raise _Misfit from None
    return value


_READERS: dict[type[mi.Type], Any] = {
    mi.UnionType: _read_union,
    mi.BoolType: _read_bool,
    mi.IntType: _read_int,
    mi.StrType: _read_str,
    mi.DecimalType: _read_decimal,
    mi.DateTimeType: _read_datetime,
    mi.StructType: _read_struct,
    mi.DictType: _read_dict,
    mi.ListType: _read_list,
}
