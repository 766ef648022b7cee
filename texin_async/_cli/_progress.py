"""Showing a running batch: a rich progress bar on a terminal, a line now and then elsewhere.

Both poll a :class:`BatchProgress` a few times a second; the batch never waits for them. At
the provider's 100 requests a minute a large batch runs for hours, so the ETA is the number
people watch: it comes from this run's rate and the row count found before sending.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, TypeVar

import anyio
from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.text import Text

from .._batch import BatchProgress

__all__ = ["ProgressDisplay", "format_seconds", "run_beside"]

_T = TypeVar("_T")

_REFRESH = 0.2
#: How often a plain progress line is written when stderr is not a terminal (a log file).
_LOG_EVERY = 30.0


def format_seconds(seconds: float | None) -> str:
    """``1:02:03`` or ``2:03``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _eta(progress: BatchProgress, total: int | None) -> str:
    """The limiter's ETA for the requests left (the key's budget, what is queued ahead)."""
    return f"ETA {format_seconds(progress.eta)}"


def _counts(progress: BatchProgress) -> str:
    """``sent 120 · invalid 3 · failed 0 · unknown 0 · 2 in flight · 6 waiting for budget``,
    and a 429 pause while one holds the key."""
    label = "planned" if progress.dry_run else "sent"
    value = progress.planned if progress.dry_run else progress.sent
    paused = (
        f" · paused {format_seconds(progress.paused_for)} by the server (429)"
        if progress.paused_for > 0
        else ""
    )
    return (
        f"{label} {value} · invalid {progress.invalid} · failed {progress.failed} · "
        f"unknown {progress.unknown} · {progress.in_flight} in flight · "
        f"{progress.waiting} waiting for budget{paused}"
    )


class _TwoLines(Progress):
    """The bar with its ETA on one line, the counts below it: both fit 80 columns."""

    counts = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield Text(self.counts)


class ProgressDisplay:
    """Shows ``progress`` on ``console`` while the block runs; call :meth:`run` in a task.

    ``total`` is the row count found by scanning the input first (None: unknown); the bar
    grows with it if the input turns out longer.
    """

    def __init__(
        self, progress: BatchProgress, console: Console, *, total: int | None, enabled: bool
    ) -> None:
        self._progress = progress
        self._console = console
        self._total = total
        self._enabled = enabled
        self._bar = _TwoLines(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.fields[shown_total]} rows"),
            TextColumn("{task.fields[eta]}"),
            console=console,
            transient=False,
            auto_refresh=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressDisplay:
        if self._enabled and self._console.is_terminal:
            self._bar.start()
            shown = "?" if self._total is None else self._total
            self._task = self._bar.add_task(
                "Sending", total=self._total, shown_total=shown, eta="ETA ?"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            if exc_type is None:  # Done: the rows counted, not the estimate, are the total.
                self._total = self._progress.done
            self._update()
            self._bar.stop()

    async def run(self) -> None:
        """Redraw until cancelled: the bar on a terminal, else a line every 30 seconds."""
        if not self._enabled:
            return
        last_line = time.monotonic()
        while True:
            await anyio.sleep(_REFRESH)
            if self._task is not None:
                self._update()
            elif time.monotonic() - last_line >= _LOG_EVERY:
                last_line = time.monotonic()
                self._console.print(self.line(), highlight=False)

    def line(self) -> str:
        """One plain line: rows done of the total, then the counts, rate and ETA."""
        total = "?" if self._total is None else self._total
        progress = self._progress
        return f"{progress.done}/{total} rows, {_eta(progress, self._total)}: {_counts(progress)}"

    def _update(self) -> None:
        assert self._task is not None
        done = self._progress.done
        if self._total is not None and done > self._total:  # The estimate was short.
            self._total = done
        self._bar.update(
            self._task,
            completed=done,
            total=self._total,
            shown_total="?" if self._total is None else self._total,
            eta=_eta(self._progress, self._total),
            description="Planning" if self._progress.dry_run else "Sending",
        )
        self._bar.counts = _counts(self._progress)
        self._bar.refresh()


async def run_beside(
    ticker: Callable[[], Coroutine[Any, Any, None]], work: Callable[[], Awaitable[_T]]
) -> _T:
    """Run ``work`` while ``ticker`` runs, then stop the ticker.

    An error from ``work`` comes out as itself, not wrapped in an ExceptionGroup by the
    task group, so callers can catch ``TexinError`` as usual.
    """
    error: Exception | None = None
    result: list[_T] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(ticker)
        try:
            result.append(await work())
        except Exception as exc:
            error = exc
        finally:
            tasks.cancel_scope.cancel()
    if error is not None:
        raise error
    return result[0]
