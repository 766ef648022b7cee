"""Live progress of a batch, counts a progress bar can poll, and the report it ends with."""

from __future__ import annotations

import math
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
    any time; reads are plain attribute loads, so polling costs the batch nothing. Requests
    are counted apart while they wait for the key's budget (``waiting``) and once they
    have left (``in_flight``); ``eta`` comes from the key's limiter: the requests left, the
    budget, and what is queued ahead, refreshed twice a second, not from items per second.

    Example::

        progress = BatchProgress()
        async with anyio.create_task_group() as tg:
            tg.start_soon(show, progress)   # prints progress.done, .waiting, .eta every second
            report = await client.send_batch(rows, progress=progress)
    """

    __slots__ = (
        "_dispatched",
        "_ended",
        "_local",
        "_paused_until",
        "_plan_at",
        "_plan_seconds",
        "_started",
        "cost_per_unit",
        "dry_run",
        "expected_items",
        "expected_requests",
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
        "waiting",
    )

    def __init__(
        self, *, expected_items: int | None = None, expected_requests: int | None = None
    ) -> None:
        #: What the caller knows ahead: the input's size (when ``items`` is a one-shot
        #: iterator, e.g. a CSV it has counted) and the requests it will take. Used for the
        #: ETA; kept across :meth:`start`.
        self.expected_items = expected_items
        self.expected_requests = expected_requests
        self._reset()

    def _reset(self) -> None:
        #: Items in the input when it is Sized (a list, a DataFrame column), else None.
        self.total: int | None = None
        self.sent = self.invalid = self.failed = self.unknown = self.planned = 0
        #: Outcomes reported from the journal rather than settled in this run.
        self.resumed = 0
        #: Requests made (in a dry run: that would be made), those waiting for the key's
        #: budget, and those sent and awaiting an answer.
        self.requests = self.waiting = self.in_flight = 0
        self.units = 0
        self.dry_run = False
        self.cost_per_unit = COST_PER_UNIT
        self._started = self._ended = 0.0
        self._dispatched = self._local = 0
        self._plan_at = self._paused_until = 0.0
        self._plan_seconds: float | None = None

    def start(self, *, total: int | None, dry_run: bool, cost_per_unit: Decimal) -> None:
        """Reset every count and start the clock; the batch calls this as it begins."""
        self._reset()
        self.total, self.dry_run, self.cost_per_unit = total, dry_run, cost_per_unit
        self._started = time.monotonic()

    def finish(self) -> None:
        """Stop the clock; ``elapsed`` stays fixed from now on."""
        self._ended = time.monotonic()

    def add(self, outcome: Outcome, *, resumed: bool = False, local: bool = False) -> None:
        """Count one settled outcome (``local``: settled without a request)."""
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
        self._local += local

    def dispatch(self, items: int) -> None:
        """One request for ``items`` items starts: it waits for the key's budget."""
        self.requests += 1
        self.waiting += 1
        self._dispatched += items

    def depart(self) -> None:
        """A waiting request leaves."""
        self.waiting -= 1
        self.in_flight += 1

    def settle(self, *, departed: bool) -> None:
        """A request ended (its outcomes are added apart)."""
        if departed:
            self.in_flight -= 1
        else:
            self.waiting -= 1

    def requests_left(self) -> int | None:
        """Requests still to be granted: those waiting, plus the items not yet in one at
        the average items per request so far (None without a total)."""
        if self.expected_requests is not None:
            return max(self.waiting, self.expected_requests - self.requests + self.waiting)
        total = self.total if self.total is not None else self.expected_items
        if total is None:
            return None
        left = max(0, total - self._local - self._dispatched)
        per_request = self._dispatched / self.requests if self.requests else 1.0
        return self.waiting + math.ceil(left / max(1.0, per_request))

    def plan(self, seconds: float, paused_for: float) -> None:
        """The limiter's plan for :meth:`requests_left`, as of now (the batch refreshes it)."""
        self._plan_at, self._plan_seconds = time.monotonic(), seconds
        self._paused_until = self._plan_at + paused_for

    @property
    def paused_for(self) -> float:
        """Seconds the key stays paused by the server's 429 (Retry-After), counting down."""
        return 0.0 if self._ended else max(0.0, self._paused_until - time.monotonic())

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
        """Seconds until the last request can go, from the key's limiter; None when unknown
        (no total for a one-shot input and no ``expected_items``), 0 once done."""
        if self._ended:
            return 0.0
        if self._plan_seconds is None:
            return None
        return max(0.0, self._plan_seconds - (time.monotonic() - self._plan_at))

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
            f"waiting={self.waiting} in_flight={self.in_flight}>"
        )
