"""How each batch item's Outcome is decided: a local check, a journal row, an answer, an error.

One place holds the rules the batch promises: SENT only with a message id; INVALID when
refused locally or listed in ``invalid_numbers``; FAILED when the API said no or the request
provably never reached it; UNKNOWN when no usable answer came, or a bulk answer left a number
out.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ._batch_models import Message, Outcome, OutcomeStatus
from ._coalesce import Item
from ._exceptions import APIConnectionError, APIError, InvalidRequestError, OutcomeUnknownError
from ._journal import ItemState, JournalRow
from ._models import BulkSMSResult
from ._phone import try_normalize_recipient

__all__ = [
    "NOT_AN_ITEM",
    "Settled",
    "as_message",
    "bulk_outcomes",
    "from_row",
    "invalid",
    "local_error",
    "outcome_of",
    "row_of",
    "short",
    "status_for",
]

NOT_AN_ITEM = "not a Message or a (recipient, text) pair"
_IN_FLIGHT_AT_CRASH = "in flight when an earlier run stopped: it may have been sent"
_ERROR_CHARS = 200


class Settled(NamedTuple):
    """An outcome that needed no request, and the journal row to write for it, if news."""

    outcome: Outcome
    resumed: bool
    record: JournalRow | None


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


def row_of(outcome: Outcome, fp: bytes) -> JournalRow:
    """The journal row recording a final ``outcome``."""
    return JournalRow(
        outcome.index,
        fp,
        ItemState.of(outcome.status),
        outcome.normalized,
        outcome.message_id,
        outcome.units,
        outcome.error,
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


def as_message(raw: object) -> Message | None:
    if isinstance(raw, Message):
        return raw
    if isinstance(raw, tuple) and len(raw) == 2:
        return Message(raw[0], raw[1])
    return None


def local_error(message: Message) -> str | None:
    """Why the API would refuse ``message`` before sending, or None (number checked apart)."""
    if not isinstance(message.text, str) or not message.text.strip():
        return "the text is empty"
    sender = message.sender_id
    if sender is not None and (not isinstance(sender, str) or not sender.strip()):
        return "sender_id must be a non-empty string"
    return None


def from_row(row: JournalRow, ref: Any, recipient: Any) -> Settled:
    """What a journal row records; an item in flight at a crash is now UNKNOWN, for good."""
    state = ItemState(row.state)
    outcome = Outcome(
        index=row.idx,
        ref=ref,
        recipient=recipient,
        normalized=row.normalized,
        status=state.status,
        message_id=row.message_id,
        units=row.units,
        error=_IN_FLIGHT_AT_CRASH if state is ItemState.IN_FLIGHT else row.error,
    )
    record = row_of(outcome, row.fp) if state is ItemState.IN_FLIGHT else None
    return Settled(outcome, True, record)


def invalid(
    index: int, ref: Any, recipient: Any, normalized: str | None, error: str | None, fp: bytes
) -> Settled:
    outcome = Outcome(
        index=index,
        ref=ref,
        recipient=recipient,
        normalized=normalized,
        status=OutcomeStatus.INVALID,
        error=error,
    )
    return Settled(outcome, False, row_of(outcome, fp))
