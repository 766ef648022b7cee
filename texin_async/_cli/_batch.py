"""``texin batch``: send a CSV's rows with a progress bar, a report file and a journal.

Order of events, so that a bad input never costs an SMS: check the CSV (all of it, bytes
only), check the key and balance with one request, then stream rows into
:meth:`TexinClient.send_batch`. Ctrl-C stops at once; the journal keeps every answer
received, and re-running the same command resumes where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.table import Table

from .._batch import BatchProgress, BatchReport, Outcome
from .._exceptions import JournalMismatchError, TexinError
from ._common import (
    JsonOption,
    Settings,
    fail,
    print_json,
    run_loop,
    settings_of,
    stderr,
    stdout,
)
from ._csv import CsvRows, ReportWriter, open_rows
from ._errors import EXIT_BATCH_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, BadInput
from ._progress import ProgressDisplay, format_seconds, run_beside

__all__ = ["batch", "exit_code_of", "print_report"]


def batch(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="UTF-8 CSV with a header.")],
    text: Annotated[
        str | None, typer.Option(metavar="TEXT", help="The same message for every row.")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(metavar="TEMPLATE", help="A message per row from its columns: 'Hi {name}'."),
    ] = None,
    column: Annotated[str, typer.Option(metavar="NAME", help="The recipients' column.")] = "phone",
    sender_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Sender id; the account default if not given.")
    ] = None,
    journal: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="SQLite journal: re-running with the same one resumes and never sends a row "
            "twice.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            metavar="OUT.csv",
            help="Write each input row with its status, normalized number, message_id, units "
            "and error, in input order.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and plan everything; send nothing.")
    ] = False,
    chunk_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Recipients per bulk request.")
    ] = 100,
    max_in_flight: Annotated[int, typer.Option(min=1, help="Requests at once.")] = 8,
    delimiter: Annotated[str, typer.Option(metavar="CHAR", help="The CSV's delimiter.")] = ",",
    resend_unknown: Annotated[
        bool,
        typer.Option(
            "--resend-unknown",
            help="On resume, send again rows whose outcome is unknown (they may arrive twice).",
        ),
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="On resume, send again rows that failed.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Send one SMS per CSV row, resumably, with live progress and a per-row report."""
    settings = settings_of(ctx, json)
    if len(delimiter) != 1:
        fail(settings, BadInput("--delimiter must be one character"))
    try:
        rows = open_rows(
            file,
            column=column,
            text=text,
            template=template,
            sender_id=sender_id,
            delimiter=delimiter,
            keep=report is not None,
        )
    except BadInput as exc:
        fail(settings, exc)
    options = _Options(
        chunk_size=chunk_size,
        max_in_flight=max_in_flight,
        journal=journal,
        report=report,
        dry_run=dry_run,
        resend_unknown=resend_unknown,
        retry_failed=retry_failed,
    )
    with rows:
        code = _run(settings, rows, options)
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Options:
    """The batch options as given on the command line."""

    chunk_size: int
    max_in_flight: int
    journal: Path | None
    report: Path | None
    dry_run: bool
    resend_unknown: bool
    retry_failed: bool


def _run(settings: Settings, rows: CsvRows, options: _Options) -> int:
    """Run the batch and report it; the exit code."""
    progress = BatchProgress()
    report = options.report
    try:
        writer = ReportWriter(report, rows) if report is not None else None
    except BadInput as exc:
        fail(settings, exc)
    display = ProgressDisplay(
        progress, stderr, total=rows.estimated_rows, enabled=not settings.json
    )
    try:
        result = run_loop(_send, settings, rows, options, progress, writer, display)
    except KeyboardInterrupt:
        _interrupted(settings, progress, options)
        return EXIT_INTERRUPTED
    except JournalMismatchError as exc:
        fail(settings, exc, EXIT_USAGE)
    except TexinError as exc:
        fail(settings, exc)
    finally:
        if writer is not None:
            writer.close()
    if settings.json:
        print_json(
            {
                **msgspec.to_builtins(result),
                "report_file": None if report is None else str(report),
                "journal": None if options.journal is None else str(options.journal),
            }
        )
    else:
        print_report(result, title=f"Batch {rows.path.name}")
        _print_hints(result, options)
    return exit_code_of(result)


async def _send(
    settings: Settings,
    rows: CsvRows,
    options: _Options,
    progress: BatchProgress,
    writer: ReportWriter | None,
    display: ProgressDisplay,
) -> BatchReport:
    async with settings.client(needs_key=not options.dry_run) as client:
        if not options.dry_run:  # A bad key or no network fails here, not on every row.
            balance = await client.get_balance()
            if not settings.json:
                _print_plan(rows, settings, options, balance.sms_balance)
        on_outcome = writer.add if writer is not None else _ignore

        async def send() -> BatchReport:
            return await client.send_batch(
                rows.messages(),
                chunk_size=options.chunk_size,
                max_in_flight=options.max_in_flight,
                journal=options.journal,
                dry_run=options.dry_run,
                resend_unknown=options.resend_unknown,
                retry_failed=options.retry_failed,
                progress=progress,
                on_outcome=on_outcome,
            )

        with display:
            return await run_beside(display.run, send)


def _ignore(outcome: Outcome) -> None:
    pass


def _print_plan(rows: CsvRows, settings: Settings, options: _Options, balance: Decimal) -> None:
    """What is about to happen, and how long it will take at the key's rate limit."""
    limit = settings.rate_limit
    count = rows.estimated_rows
    requests = count if rows.personalised else math.ceil(count / options.chunk_size)
    seconds = limit.least_seconds_for(requests)
    pace = f"{limit.max_rate} requests per {limit.time_period:g} s"
    when = f"at least {format_seconds(seconds)} at {pace}" if seconds else f"within {pace}"
    stderr.print(
        f"{rows.path.name}: about {count} rows in up to {requests} requests, {when}. "
        f"Balance: {balance} credits.",
        highlight=False,
    )


def exit_code_of(report: BatchReport) -> int:
    """0 when every row was sent (a dry run: would be sent); else 6."""
    done = report.planned if report.dry_run else report.sent
    return EXIT_OK if done == report.total else EXIT_BATCH_INCOMPLETE


def print_report(report: BatchReport, *, title: str) -> None:
    """The batch's counts, requests, units, cost and time, as a table on stdout."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    label = "Planned" if report.dry_run else "Sent"
    rows: list[tuple[str, object]] = [
        ("Rows", report.total),
        (label, report.planned if report.dry_run else report.sent),
        ("Invalid", report.invalid),
        ("Failed", report.failed),
        ("Unknown", report.unknown),
        ("From the journal", report.resumed),
        ("Requests", report.requests),
        ("Units", report.units),
        ("Cost", f"KES {report.cost:.2f}"),
        ("Elapsed", f"{report.elapsed:.1f} s"),
    ]
    for name, value in rows:
        if name != "From the journal" or value:
            table.add_row(name, str(value))
    stdout.print(table)


def _print_hints(report: BatchReport, options: _Options) -> None:
    if options.report is not None:
        stdout.print(f"Report: {options.report} (one row per input row, with its status)")
    if report.unknown:
        stdout.print(
            f"{report.unknown} rows may or may not have been sent: check them with "
            "`texin status` before sending again (--resend-unknown resends them)."
        )
    if report.failed:
        stdout.print(
            f"{report.failed} rows failed and were not sent; see the report's error column"
            + (" and re-run with --retry-failed." if options.journal else ".")
        )


def _interrupted(settings: Settings, progress: BatchProgress, options: _Options) -> None:
    """Say what was done and how to go on, after Ctrl-C."""
    done = f"interrupted after {progress.done} rows ({progress.sent} sent)"
    if options.journal is None:
        advice = "no --journal was kept, so re-running would send those rows again"
    else:
        advice = (
            f"re-run the same command (same --journal {options.journal}) to resume; "
            "rows that were in flight are reported unknown, never sent twice"
        )
    stderr.print(f"texin: {done}; {advice}", highlight=False, soft_wrap=True)
    if settings.debug:
        stderr.print(repr(progress))
