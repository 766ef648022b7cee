"""The values a batch takes and gives: Message in, one Outcome per item, a BatchReport at the end.

They are msgspec Structs rather than dataclasses: Structs are slotted by construction, cost
about a third of a frozen dataclass to create (a batch makes one Outcome per recipient, up to
millions), and encode as they are with ``msgspec.json``/``msgpack`` for a results file.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from ._exceptions import TexinError
from ._units import COST_PER_UNIT

if TYPE_CHECKING:
    from ._progress import BatchProgress

__all__ = [
    "BatchOptions",
    "BatchReport",
    "InsufficientBalanceError",
    "Message",
    "Outcome",
    "OutcomeStatus",
]


class Message(msgspec.Struct, frozen=True):
    """One SMS to send in a batch: a number, a text, and your own reference for it.

    ``ref`` comes back on the item's :class:`Outcome`; it defaults to the item's index.
    """

    recipient: str
    text: str
    sender_id: str | None = None
    ref: Any = None


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


class BatchReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a batch did: outcomes per status, requests, units and cost, time taken.

    ``resumed`` counts outcomes reported from the journal rather than settled in this run;
    they are included in the per-status counts. ``requests`` counts the send requests the
    batch made (the client's retries of one are not counted again). In a dry run
    ``requests``, ``units`` and ``cost`` are what the batch would use.
    """

    total: int
    sent: int
    invalid: int
    failed: int
    unknown: int
    planned: int
    resumed: int
    requests: int
    units: int
    cost: Decimal
    elapsed: float
    dry_run: bool = False


class InsufficientBalanceError(TexinError):
    """The balance cannot cover the batch; raised before anything is sent."""

    def __init__(self, message: str, *, needed_units: int, balance: Decimal) -> None:
        super().__init__(message)
        self.needed_units = needed_units
        self.balance = balance


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOptions:
    """How a batch runs; see :meth:`TexinClient.send_batch` for each option."""

    chunk_size: int = 100
    max_in_flight: int = 8
    journal: str | os.PathLike[str] | None = None
    on_outcome: Callable[[Outcome], object] | None = None
    dry_run: bool = False
    resend_unknown: bool = False
    retry_failed: bool = False
    check_balance: bool = False
    lookahead: int | None = None
    progress: BatchProgress | None = None
    cost_per_unit: Decimal = COST_PER_UNIT

    def __post_init__(self) -> None:
        for name in ("chunk_size", "max_in_flight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.lookahead is not None and self.lookahead < self.chunk_size:
            raise ValueError(
                f"lookahead ({self.lookahead}) must be >= chunk_size ({self.chunk_size}): "
                "a bulk request can only group items the batch has read"
            )
        if self.dry_run and self.check_balance:
            raise ValueError(
                "dry_run makes no HTTP request, so it cannot check the balance: run the dry "
                "run, then send with check_balance=True"
            )

    @property
    def window(self) -> int:
        """Items the planner may hold back to coalesce (the look-ahead)."""
        return self.lookahead if self.lookahead is not None else max(1000, 10 * self.chunk_size)
