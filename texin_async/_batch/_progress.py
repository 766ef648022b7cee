"""Live progress of a batch, counts a progress bar can poll, and the report it ends with."""

from __future__ import annotations

import time
from decimal import Decimal

import msgspec

from .._units import COST_PER_UNIT
from ._outcome import Outcome, OutcomeStatus

__all__ = ["BatchProgress", "BatchReport"]


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


class BatchProgress:
    """Counts of a running batch, updated in place as outcomes settle.

    Pass one as ``progress=`` and read it from another task (a progress bar, a log line) at
    any time; reads are plain attribute loads, so polling costs the batch nothing.

    Example::

        progress = BatchProgress()
        async with anyio.create_task_group() as tg:
            tg.start_soon(show, progress)   # prints progress.done, .rate, .eta every second
            report = await client.send_batch(rows, progress=progress)
    """

    __slots__ = (
        "_ended",
        "_started",
        "cost_per_unit",
        "dry_run",
        "failed",
        "in_flight",
        "invalid",
        "planned",
        "requests",
        "resumed",
        "sent",
        "total",
        "units",
        "unknown",
    )

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        #: Items in the input when it is Sized (a list, a DataFrame column), else None.
        self.total: int | None = None
        self.sent = self.invalid = self.failed = self.unknown = self.planned = 0
        #: Outcomes reported from the journal rather than settled in this run.
        self.resumed = 0
        #: Requests made (in a dry run: that would be made) and requests awaiting an answer.
        self.requests = self.in_flight = 0
        self.units = 0
        self.dry_run = False
        self.cost_per_unit = COST_PER_UNIT
        self._started = self._ended = 0.0

    def start(self, *, total: int | None, dry_run: bool, cost_per_unit: Decimal) -> None:
        """Reset every count and start the clock; the batch calls this as it begins."""
        self._reset()
        self.total, self.dry_run, self.cost_per_unit = total, dry_run, cost_per_unit
        self._started = time.monotonic()

    def finish(self) -> None:
        """Stop the clock; ``elapsed`` stays fixed from now on."""
        self._ended = time.monotonic()

    def add(self, outcome: Outcome, *, resumed: bool = False) -> None:
        """Count one settled outcome."""
        status = outcome.status
        if status is OutcomeStatus.SENT:
            self.sent += 1
            self.units += outcome.units
        elif status is OutcomeStatus.PLANNED:
            self.planned += 1
            self.units += outcome.units
        elif status is OutcomeStatus.INVALID:
            self.invalid += 1
        elif status is OutcomeStatus.FAILED:
            self.failed += 1
        else:
            self.unknown += 1
        self.resumed += resumed

    @property
    def done(self) -> int:
        """Items settled so far, in any status."""
        return self.sent + self.invalid + self.failed + self.unknown + self.planned

    @property
    def elapsed(self) -> float:
        """Seconds since the batch started (until it ended)."""
        if not self._started:
            return 0.0
        return (self._ended or time.monotonic()) - self._started

    @property
    def rate(self) -> float:
        """Items settled per second in this run (journal replays excluded)."""
        elapsed = self.elapsed
        return (self.done - self.resumed) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds until done at the current rate; None without a total or a rate yet."""
        return self.eta_for(self.total)

    def eta_for(self, total: int | None) -> float | None:
        """:attr:`eta` against a total known elsewhere (a CSV's line count, say)."""
        rate = self.rate
        if total is None or rate <= 0:
            return None
        return max(0, total - self.done) / rate

    @property
    def cost(self) -> Decimal:
        """The price of the units used so far (or planned, in a dry run)."""
        return self.units * self.cost_per_unit

    def report(self) -> BatchReport:
        """A frozen snapshot of the counts."""
        return BatchReport(
            total=self.done,
            sent=self.sent,
            invalid=self.invalid,
            failed=self.failed,
            unknown=self.unknown,
            planned=self.planned,
            resumed=self.resumed,
            requests=self.requests,
            units=self.units,
            cost=self.cost,
            elapsed=self.elapsed,
            dry_run=self.dry_run,
        )

    def __repr__(self) -> str:
        total = "?" if self.total is None else self.total
        return (
            f"<BatchProgress {self.done}/{total} sent={self.sent} invalid={self.invalid} "
            f"failed={self.failed} unknown={self.unknown} requests={self.requests} "
            f"in_flight={self.in_flight}>"
        )
