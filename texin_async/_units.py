"""SMS unit counting: how many billed segments a message needs, and what it will cost.

The provider bills per segment, so a caller can check a message's price, or trim it, before
sending to a million recipients. Segments follow 3GPP TS 23.038 with the default alphabet
only (no national language shift tables): GSM-7 when every character is in the GSM 03.38
default alphabet or its extension table, UCS-2 otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from ._exceptions import InvalidRequestError

__all__ = ["COST_PER_UNIT", "count_units", "encoding_of", "estimate_cost", "lone_surrogate"]

#: The documented price of one SMS unit, in KES.
COST_PER_UNIT = Decimal("0.30")

# The default alphabet, in table order, without 0x1B (ESC only introduces an extension char).
_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets, ESC + the character.
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


def _outside(chars: str) -> re.Pattern[str]:
    """A pattern that finds the first character not in ``chars``: one C-level scan."""
    return re.compile("[^" + "".join(re.escape(char) for char in chars) + "]")


_NOT_GSM_BASIC = _outside(_GSM_BASIC)
_NOT_GSM = _outside(_GSM_BASIC + "".join(sorted(_GSM_EXTENSION)))
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # Two UTF-16 code units (a surrogate pair).
_SURROGATE = re.compile("[\ud800-\udfff]")

_GSM_SINGLE, _GSM_PART = 160, 153  # Septets; a part loses 7 to the concatenation header.
_UCS2_SINGLE, _UCS2_PART = 70, 67  # UTF-16 code units, likewise.
_CENT = Decimal("0.01")


def count_units(message: str) -> int:
    """Return the number of SMS segments (billed units) ``message`` needs.

    GSM-7 fits 160 septets in one segment, else 153 per segment; extension characters
    (``^{}\\[~]|€`` and form feed) take two septets. UCS-2 fits 70 UTF-16 code units, else
    67 per segment; a character outside the BMP (most emoji) takes two. A segment never ends
    halfway through a two-unit character (senders keep an escape or surrogate pair together),
    so a long message with them can need more than ``ceil(total / 153)`` (or ``/ 67``).

    Args:
        message: The text to send.

    Raises:
        InvalidRequestError: ``message`` is empty (the API refuses it) or not a str.

    Example::

        >>> count_units("a" * 161)
        2
    """
    _check(message)
    if _NOT_GSM_BASIC.search(message) is None:  # The common case: one septet per character.
        return _segments(len(message), _GSM_SINGLE, _GSM_PART)
    if _NOT_GSM.search(message) is None:
        wide = sum(message.count(char) for char in _GSM_EXTENSION)
        return _segments_of(message, wide, _GSM_SINGLE, _GSM_PART, _GSM_EXTENSION.__contains__)
    wide = len(_ASTRAL.findall(message))
    return _segments_of(message, wide, _UCS2_SINGLE, _UCS2_PART, _is_astral)


def encoding_of(message: str) -> Literal["GSM-7", "UCS-2"]:
    """Return the encoding ``message`` will be sent in: ``"GSM-7"`` or ``"UCS-2"``.

    One character outside the GSM alphabet (an emoji, a curly quote) switches the whole
    message to UCS-2 and cuts a segment from 160 characters to 70.

    Raises:
        InvalidRequestError: ``message`` is empty or not a str.
    """
    _check(message)
    return "GSM-7" if _NOT_GSM.search(message) is None else "UCS-2"


def estimate_cost(
    message: str, recipients: int = 1, *, cost_per_unit: Decimal = COST_PER_UNIT
) -> Decimal:
    """Return the price of sending ``message`` to ``recipients`` numbers, in KES.

    ``count_units * recipients * cost_per_unit``, rounded half-up to cents. It is an estimate:
    the balance the API reports after a send is the authority.

    Args:
        message: The text to send.
        recipients: How many numbers receive it; 0 costs nothing.
        cost_per_unit: The price of one unit, for accounts not on the documented rate.

    Raises:
        InvalidRequestError: ``message`` is empty or not a str, ``recipients`` is not a
            non-negative int, or ``cost_per_unit`` is not a finite non-negative Decimal.

    Example::

        >>> estimate_cost("Hello", recipients=3)
        Decimal('0.90')
    """
    if isinstance(recipients, bool) or not isinstance(recipients, int) or recipients < 0:
        raise InvalidRequestError(f"recipients must be an int >= 0, got {recipients!r}")
    if not (
        isinstance(cost_per_unit, Decimal) and cost_per_unit.is_finite() and cost_per_unit >= 0
    ):
        raise InvalidRequestError(
            f"cost_per_unit must be a finite Decimal >= 0, got {cost_per_unit!r}"
        )
    units = count_units(message) * recipients
    return (units * cost_per_unit).quantize(_CENT, rounding=ROUND_HALF_UP)


def lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (``"\\ud800"``), which UTF-8 cannot encode.

    Such a string fails only when the request body is encoded; checking first lets it be
    refused as bad input, before anything is sent. ASCII text, the common case, costs one
    C-level check.
    """
    return not text.isascii() and _SURROGATE.search(text) is not None


def _check(message: object) -> None:
    """Refuse what the API would: a non-str or an empty message."""
    if not isinstance(message, str):
        shown = repr(message)
        shown = shown if len(shown) <= 64 else shown[:64] + "..."
        raise InvalidRequestError(f"message must be a str, got {type(message).__name__} {shown}")
    if not message:
        raise InvalidRequestError("message must not be empty")


def _segments(size: int, single: int, part: int) -> int:
    """Segments for ``size`` units when no character can straddle a segment boundary."""
    return 1 if size <= single else -(-size // part)


def _segments_of(
    message: str, wide: int, single: int, part: int, is_wide: Callable[[str], bool]
) -> int:
    """Segments for ``message``, ``wide`` of whose characters take two units each.

    Fills each part greedily and starts a new one when a two-unit character would not fit,
    so the walk is needed only for a multi-part message that has such characters.
    """
    size = len(message) + wide
    if wide == 0 or size <= single:
        return _segments(size, single, part)
    count, used = 1, 0
    for char in message:
        width = 2 if is_wide(char) else 1
        used += width
        if used > part:
            count, used = count + 1, width
    return count


def _is_astral(char: str) -> bool:
    """Whether ``char`` is outside the BMP, so UTF-16 needs a surrogate pair for it."""
    return char > "\uffff"
