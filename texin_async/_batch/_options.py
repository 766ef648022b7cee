"""How a batch runs: the one definition of its options, shared by ``send_batch`` and
``iter_batch`` (a test keeps both signatures equal to it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from .._exceptions import InvalidRequestError
from .._lane import Priority
from .._units import COST_PER_UNIT

if TYPE_CHECKING:
    from ._outcome import Outcome
    from ._progress import BatchProgress

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
        for name in ("chunk_size", "max_in_flight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRequestError(f"{name} must be an int >= 1, got {value!r}")
        if self.lookahead is not None and self.lookahead < self.chunk_size:
            raise InvalidRequestError(
                f"lookahead ({self.lookahead}) must be >= chunk_size ({self.chunk_size}): "
                "a bulk request can only group items the batch has read"
            )
        if not isinstance(self.priority, Priority):
            raise InvalidRequestError(f"priority must be a Priority, got {self.priority!r}")
        if self.dry_run and self.check_balance:
            raise InvalidRequestError(
                "dry_run makes no HTTP request, so it cannot check the balance: run the dry "
                "run, then send with check_balance=True"
            )

    @property
    def window(self) -> int:
        """Items the planner may hold back to coalesce (the look-ahead)."""
        return self.lookahead if self.lookahead is not None else max(1000, 10 * self.chunk_size)
