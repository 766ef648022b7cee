"""What became of each batch item, and the rules that decide it: a local check, an answer, an error.

One place holds the rules the batch promises, all derived from an error's ``maybe_sent``:

- SENT: the API confirmed it (with its message id, or a note that it gave none);
- INVALID: the number (or text) is bad: refused locally, or the API refused the number;
- FAILED: the API refused it, or nothing reached the API (``maybe_sent`` False);
- UNKNOWN: it may have gone out (``maybe_sent`` True), or a bulk answer left it out.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import msgspec

from .._exceptions import APIError, InvalidRequestError, TexinError
from .._models import BulkSMSResult, SMSResult, usable_id
from .._phone import try_normalize_recipient
from .._units import lone_surrogate
from ._input import Message
from ._plan import Item

__all__ = [
    "NOT_AN_ITEM",
    "Outcome",
    "OutcomeStatus",
    "bulk_outcomes",
    "local_error",
    "outcome_of",
    "sent_outcome",
    "short",
    "status_for",
]

NOT_AN_ITEM = "not a Message or a (recipient, text) pair"
NO_ID = "the API confirmed it but gave no message id"
_SURROGATE = "the text or sender_id holds a lone surrogate, which UTF-8 cannot encode"
_ERROR_CHARS = 200
# A refusal that names the number as the problem ("Invalid phone number format").
_NUMBER_WORD = re.compile(r"\b(?:phone|mobile|recipient|msisdn|number)s?\b", re.IGNORECASE)
_BAD_WORD = re.compile(r"\b(?:invalid|format|not (?:a )?valid|malformed|wrong)\b", re.IGNORECASE)


class OutcomeStatus(enum.Enum):
    """What became of one item; only ``SENT`` means the API accepted it."""

    #: The API accepted it and gave its message id.
    SENT = "sent"
    #: Refused before sending (bad number, empty text) or listed in ``invalid_numbers``.
    INVALID = "invalid"
    #: The API refused it, or the request provably never reached the API: not sent.
    FAILED = "failed"
    #: No usable answer: it may or may not have gone out. Never resent unless asked.
    UNKNOWN = "unknown"
    #: Dry runs only: it would be sent.
    PLANNED = "planned"


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """The settled fate of one batch item."""

    #: Position of the item in the input, from 0 (the journal's key).
    index: int
    #: The item's ``Message.ref``, or its index.
    ref: Any
    #: The recipient exactly as given.
    recipient: Any
    #: The number it was (or would be) sent as; None when it is not a valid number.
    normalized: str | None
    status: OutcomeStatus
    message_id: str | None = None
    #: SMS units used when SENT (estimated when PLANNED), else 0.
    units: int = 0
    #: A short reason for anything but SENT and PLANNED; on a SENT item without a
    #: message id, a note saying so.
    error: str | None = None


def status_for(error: BaseException) -> OutcomeStatus:
    """The status of every item of a request that ended in ``error``: from ``maybe_sent``."""
    if isinstance(error, InvalidRequestError) or refuses_number(error):
        return OutcomeStatus.INVALID
    if not isinstance(error, TexinError) or error.maybe_sent:
        return OutcomeStatus.UNKNOWN  # anything unforeseen may have gone out, too
    return OutcomeStatus.FAILED


def refuses_number(error: BaseException) -> bool:
    """Whether ``error`` is the API refusing the number itself, as a bulk lists it invalid."""
    if not isinstance(error, APIError) or error.maybe_sent or error.status_code != 400:
        return False
    said = f"{error.message} {error.error or ''}"
    return bool(_NUMBER_WORD.search(said) and _BAD_WORD.search(said))


def short(error: BaseException | str) -> str:
    """A one-line reason for ``Outcome.error``, at most 200 characters."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


def outcome_of(item: Item, status: OutcomeStatus, **fields: Any) -> Outcome:
    """The outcome of an item that went to a request."""
    return Outcome(
        index=item.index,
        ref=item.ref,
        recipient=item.recipient,
        normalized=item.normalized,
        status=status,
        **fields,
    )


def sent_outcome(item: Item, result: SMSResult, estimate: int) -> Outcome:
    """The outcome of a confirmed send_sms: SENT, with a note if it came without an id."""
    units = result.units_used if result.units_used is not None else estimate
    note = None if result.message_id is not None else NO_ID
    return outcome_of(
        item, OutcomeStatus.SENT, message_id=result.message_id, units=units, error=note
    )


def bulk_outcomes(items: list[Item], result: BulkSMSResult, estimate: int) -> list[Outcome]:
    """Each item's outcome from a confirmed bulk answer, keyed by normalised number.

    A number the answer lists in ``message_ids`` is SENT (a blank id noted as missing); one
    it lists invalid is INVALID, failed is FAILED. A number it does not mention is SENT
    without an id only when the answer's ``successful`` count covers it, else UNKNOWN.
    ``estimate`` is the SDK's units per message, used when the server's do not split.
    """
    units = _units_each(result, estimate)
    ids = _by_number(result.message_ids)
    failed = _by_number(result.failed_recipients)
    refused = {try_normalize_recipient(n) or n for n in result.invalid_numbers}
    listed = sum(1 for item in items if item.normalized in ids)
    known = ids.keys() | refused | failed.keys()
    unmentioned = {item.normalized for item in items} - known
    covered = _covers(result, listed + len(unmentioned))
    outcomes = []
    for item in items:
        number = item.normalized
        if number in ids or (covered and number in unmentioned):
            message_id = usable_id(ids.get(number))
            note = None if message_id is not None else NO_ID
            outcomes.append(
                outcome_of(item, OutcomeStatus.SENT, message_id=message_id, units=units, error=note)
            )
        elif number in refused:
            outcomes.append(outcome_of(item, OutcomeStatus.INVALID, error="invalid_numbers"))
        elif number in failed:
            reason = short(f"failed_recipients: {failed[number]}")
            outcomes.append(outcome_of(item, OutcomeStatus.FAILED, error=reason))
        else:
            reason = "the bulk answer did not mention this number"
            outcomes.append(outcome_of(item, OutcomeStatus.UNKNOWN, error=reason))
    return outcomes


def _covers(result: BulkSMSResult, sent: int) -> bool:
    """Whether the answer's own ``successful`` count says at least ``sent`` went out."""
    stats = result.statistics
    return stats is not None and stats.successful is not None and stats.successful >= sent


def _units_each(result: BulkSMSResult, estimate: int) -> int:
    """Units per sent message of a bulk: the server's count when it splits evenly.

    The server bills what it counts, which may differ from the SDK's GSM-7/UCS-2 estimate.
    """
    used = result.units_used
    successful = result.statistics.successful if result.statistics else None
    if used and successful and used > 0 and successful > 0 and used % successful == 0:
        return used // successful
    return estimate


def _by_number(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer's per-number map, keyed the way the batch keys numbers."""
    return {try_normalize_recipient(number) or number: value for number, value in answer.items()}


def local_error(message: Message) -> str | None:
    """Why the API would refuse ``message`` before sending, or None (number checked apart)."""
    text: object = message.text  # typed str, but a batch's input is whatever the caller has
    if not isinstance(text, str):
        return f"the text must be a string, not {type(text).__name__}"
    if not text.strip():
        return "the text is empty"
    sender = message.sender_id
    if sender is not None and (not isinstance(sender, str) or not sender.strip()):
        return "sender_id must be a non-empty string"
    if lone_surrogate(message.text) or (sender is not None and lone_surrogate(sender)):
        return _SURROGATE
    return None
