"""How a batch runs: the one definition of its options, shared by ``send_batch`` and
``iter_batch`` (a test keeps both signatures equal to it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from .._checks import callable_or_none, flag, must_be, whole
from .._exceptions import InvalidRequestError
from .._lane import Priority
from .._units import COST_PER_UNIT
from ._progress import BatchProgress

if TYPE_CHECKING:
    from ._outcome import Outcome

__all__ = ["BatchOptions"]


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
    priority: Priority = Priority.BULK

    def __post_init__(self) -> None:
        whole("chunk_size", self.chunk_size, minimum=1)
        whole("max_in_flight", self.max_in_flight, minimum=1)
        lookahead = self.lookahead
        if lookahead is not None and whole("lookahead", lookahead, minimum=1) < self.chunk_size:
            raise InvalidRequestError(
                f"lookahead ({self.lookahead}) must be >= chunk_size ({self.chunk_size}): "
                "a bulk request can only group items the batch has read"
            )
        if self.journal is not None:
            must_be("journal", self.journal, str | os.PathLike, "a file path or None")
        callable_or_none("on_outcome", self.on_outcome)
        for name in ("dry_run", "resend_unknown", "retry_failed", "check_balance"):
            flag(name, getattr(self, name))
        if self.progress is not None:
            must_be("progress", self.progress, BatchProgress, "a BatchProgress or None")
        must_be("cost_per_unit", self.cost_per_unit, Decimal, "a Decimal")
        if not (self.cost_per_unit.is_finite() and self.cost_per_unit >= 0):
            raise InvalidRequestError(
                f"cost_per_unit must be a finite amount >= 0, got {self.cost_per_unit}"
            )
        must_be("priority", self.priority, Priority, "a Priority")
        if self.dry_run and self.check_balance:
            raise InvalidRequestError(
                "dry_run makes no HTTP request, so it cannot check the balance: run the dry "
                "run, then send with check_balance=True"
            )

    @property
    def window(self) -> int:
        """Items the planner may hold back to coalesce (the look-ahead)."""
        return self.lookahead if self.lookahead is not None else max(1000, 10 * self.chunk_size)
