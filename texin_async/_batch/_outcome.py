"""What became of each batch item, and the rules that decide it: a local check, an answer, an error.

One place holds the rules the batch promises: SENT only with a message id; INVALID when
refused locally or listed in ``invalid_numbers``; FAILED when the API said no or the request
provably never reached it; UNKNOWN when no usable answer came, or a bulk answer left a number
out.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from .._exceptions import APIConnectionError, APIError, InvalidRequestError, OutcomeUnknownError
from .._models import BulkSMSResult
from .._phone import try_normalize_recipient
from ._input import Message
from ._plan import Item

__all__ = [
    "NOT_AN_ITEM",
    "Outcome",
    "OutcomeStatus",
    "bulk_outcomes",
    "local_error",
    "outcome_of",
    "short",
    "status_for",
]

NOT_AN_ITEM = "not a Message or a (recipient, text) pair"
_ERROR_CHARS = 200


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
    #: A short reason for anything but SENT and PLANNED.
    error: str | None = None


# Which outcome an error from a send amounts to; the first matching class wins.
_STATUS_FOR_ERROR: tuple[tuple[type[Exception], OutcomeStatus], ...] = (
    (InvalidRequestError, OutcomeStatus.INVALID),  # refused locally: nothing sent
    (APIConnectionError, OutcomeStatus.FAILED),  # never reached the API, even after retries
    (APIError, OutcomeStatus.FAILED),  # the API said no
    (OutcomeUnknownError, OutcomeStatus.UNKNOWN),  # sent, no usable answer
    (Exception, OutcomeStatus.UNKNOWN),  # anything else: it may have gone out
)


def status_for(error: Exception) -> OutcomeStatus:
    """The status of every item of a request that ended in ``error``."""
    return next(status for cls, status in _STATUS_FOR_ERROR if isinstance(error, cls))


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


def bulk_outcomes(items: list[Item], result: BulkSMSResult, estimate: int) -> list[Outcome]:
    """Each item's outcome from a bulk answer, keyed by normalised number.

    ``estimate`` is the SDK's own count of units per message, used only when the answer's
    ``units_used`` does not split evenly over its successful sends.
    """
    units = _units_each(result, estimate)
    ids = _by_number(result.message_ids)
    failed = _by_number(result.failed_recipients)
    refused = {try_normalize_recipient(n) or n for n in result.invalid_numbers}
    outcomes = []
    for item in items:
        number = item.normalized
        if (message_id := ids.get(number)) is not None:
            outcomes.append(
                outcome_of(item, OutcomeStatus.SENT, message_id=message_id, units=units)
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


def _units_each(result: BulkSMSResult, estimate: int) -> int:
    """Units per sent message of a bulk: the server's count when it splits evenly.

    The server bills what it counts, which may differ from the SDK's GSM-7/UCS-2 estimate.
    """
    used, successful = result.units_used, result.statistics.successful
    if used > 0 and successful > 0 and used % successful == 0:
        return used // successful
    return estimate


def _by_number(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer's per-number map, keyed the way the batch keys numbers."""
    return {try_normalize_recipient(number) or number: value for number, value in answer.items()}


def local_error(message: Message) -> str | None:
    """Why the API would refuse ``message`` before sending, or None (number checked apart)."""
    if not isinstance(message.text, str) or not message.text.strip():
        return "the text is empty"
    sender = message.sender_id
    if sender is not None and (not isinstance(sender, str) or not sender.strip()):
        return "sender_id must be a non-empty string"
    return None
