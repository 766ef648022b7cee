"""Recipient normalisation: every way people write a Kenyan mobile number, to one form.

The API documents ``2547XXXXXXXX`` and ``07XXXXXXXX``; batch inputs arrive in many more
shapes. Normalising once, locally, lets the SDK deduplicate recipients, key its journal and
refuse a typo before it costs a request. Both functions run per recipient in batch jobs of
millions, so the work is one precompiled regex match and at most one new string.
"""

from __future__ import annotations

import re

from ._exceptions import InvalidRequestError

__all__ = ["normalize_recipient", "try_normalize_recipient"]

# An optional prefix ("+254", "254" or the trunk "0"), then 9 digits starting 7 or 1, with at
# most one space or dash between digits and surrounding ASCII whitespace (CSV fields). The
# classes are explicit ASCII: \d and \s would also match Arabic-Indic digits, NBSP and so on.
_RECIPIENT = re.compile(r"[ \t\r\n]*(?:(?:\+?254|0)[ -]?)?([17](?:[ -]?[0-9]){8})[ \t\r\n]*")
_DROP_SEPARATORS = str.maketrans("", "", " -")
# The longest match without padding is 22 chars ("+254 7 1 2 3 4 5 6 7 8"). Anything much
# longer fails before the regex runs: a field padded that much is not a phone number.
_MAX_LENGTH = 32
_SHOWN_MAX = 64
_ACCEPTED = (
    "07XXXXXXXX, 01XXXXXXXX, 2547XXXXXXXX, 2541XXXXXXXX, +2547XXXXXXXX, +2541XXXXXXXX, "
    "7XXXXXXXX or 1XXXXXXXX (single spaces or dashes between digits allowed)"
)


def try_normalize_recipient(recipient: object) -> str | None:
    """Like :func:`normalize_recipient`, but return ``None`` for anything it would refuse.

    For batch hot paths, where building an exception per bad row would cost more than the
    check itself.

    Example::

        >>> try_normalize_recipient("+254 712-345 678")
        '254712345678'
        >>> try_normalize_recipient("0800 123 456") is None
        True
    """
    if not isinstance(recipient, str) or len(recipient) > _MAX_LENGTH:
        return None
    match = _RECIPIENT.fullmatch(recipient)
    if match is None:
        return None
    if (
        match.start(1) == 3
        and len(recipient) == 12
        and type(recipient) is str
        and recipient.startswith("254")  # not "   712345678": padding also ends at 3
    ):
        return recipient  # Already canonical ("254" + 9 digits): no new string.
    subscriber = match.group(1)
    if len(subscriber) != 9:
        subscriber = subscriber.translate(_DROP_SEPARATORS)
    return "254" + subscriber


def normalize_recipient(recipient: str) -> str:
    """Return a Kenyan mobile number in the canonical 12-digit form ``254XXXXXXXXX``.

    Accepted: ``07XXXXXXXX``, ``01XXXXXXXX``, ``2547XXXXXXXX``, ``2541XXXXXXXX``, the same
    with ``+254``, and the bare 9-digit ``7XXXXXXXX``/``1XXXXXXXX``. A single space or dash may
    separate any two digits (``"+254 712-345 678"``, ``"0712 345 678"``) and surrounding
    whitespace is ignored. Refused: parentheses, dots, letters, other country codes, and
    ``00254``, since the international prefix depends on where it is dialled from (Kenya's is
    ``000``), so a run of leading zeros is a dialling string rather than a number.

    The API documents only the 07/2547 ranges; numbers in the newer 01/2541 range are
    normalised the same way and left to the server to accept or report as invalid.

    Args:
        recipient: The number as written by a person or a spreadsheet.

    Raises:
        InvalidRequestError: ``recipient`` is not a str or not a Kenyan mobile number; the
            message shows the value and the accepted forms.

    Example::

        >>> normalize_recipient("0712 345 678")
        '254712345678'
    """
    canonical = try_normalize_recipient(recipient)
    if canonical is None:
        raise InvalidRequestError(_refusal(recipient))
    return canonical


def _refusal(recipient: object) -> str:
    """The error message for a refused recipient: the value as given, then what would do."""
    shown = repr(recipient)
    if len(shown) > _SHOWN_MAX:  # A whole CSV line in one cell should not flood the logs.
        shown = shown[:_SHOWN_MAX] + "..."
    if not isinstance(recipient, str):
        return f"recipient must be a str, got {type(recipient).__name__} {shown}; use {_ACCEPTED}"
    return f"invalid recipient {shown}: expected a Kenyan mobile number as {_ACCEPTED}"
