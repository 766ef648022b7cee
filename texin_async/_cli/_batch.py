"""``texin batch``: send a CSV's rows with a progress bar, a report file and a journal.

Order of events, so that a bad input never costs an SMS: the options, the file's bytes and
header; then every row and the journal (``_preflight``); then the key and the balance, with
one read; only then are rows streamed into :meth:`TexinClient.send_batch`. A dry run goes as
far as a real run's last check and tells everything it found. Ctrl-C stops at once; the
journal keeps every answer received, and re-running the same command resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from .._batch import BatchProgress, BatchReport
from .._client import TexinClient
from .._exceptions import JournalMismatchError, TexinError
from .._lane import Priority
from ._common import (
    DebugOption,
    JsonOption,
    Settings,
    balance_text,
    fail,
    money,
    plural,
    print_json,
    run_loop,
    settings_of,
    stderr,
    stdout,
)
from ._csv import CsvSource, ReportWriter, open_source
from ._errors import BadInput, BatchStopped, Interrupted
from ._preflight import Plan, Rules, preflight
from ._progress import ProgressDisplay, format_seconds, run_beside
from ._summary import check_document, exit_code_of, findings, hints, print_report

__all__ = ["batch"]

_File = Annotated[Path, typer.Argument(metavar="FILE.csv", help="UTF-8 CSV with a header.")]
_Text = Annotated[str | None, typer.Option(metavar="TEXT", help="The same message for every row.")]
_Template = Annotated[
    str | None,
    typer.Option(metavar="TEMPLATE", help="A message per row from its columns: 'Hi {name}'."),
]
_Column = Annotated[str, typer.Option(metavar="NAME", help="The recipients' column.")]
_SenderId = Annotated[
    str | None, typer.Option(metavar="ID", help="Sender id; the account default if not given.")
]
_Journal = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        help="SQLite journal: re-running with the same one resumes and never sends a row twice.",
    ),
]
_Report = Annotated[
    Path | None,
    typer.Option(
        metavar="OUT.csv",
        help="Write each input row with its status, normalized number, message_id, units "
        "and error, in input order.",
    ),
]
_DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Check everything a real run would (key and balance too); send nothing."
    ),
]
_ChunkSize = Annotated[int, typer.Option(min=1, max=1000, help="Recipients per bulk request.")]
_MaxInFlight = Annotated[int, typer.Option(min=1, help="Requests at once.")]
_Delimiter = Annotated[str, typer.Option(metavar="CHAR", help="The CSV's delimiter ('tab' too).")]


def _flag(name: str, help: str) -> Any:
    """A boolean option that is off unless given."""
    return typer.Option(name, help=help)


_AllowEmpty = Annotated[
    bool, _flag("--allow-empty-fields", "Send rows that leave a --template field blank.")
]
_AllowRepeats = Annotated[
    bool, _flag("--allow-repeats", "Send a number that appears on several rows once per row.")
]
_AllowMultiline = Annotated[
    bool, _flag("--allow-multiline", "Accept fields that hold line breaks (quoted).")
]
_ResendUnknown = Annotated[
    bool,
    _flag(
        "--resend-unknown",
        "On resume, send again rows whose outcome is unknown (they may arrive twice).",
    ),
]
_RetryFailed = Annotated[bool, _flag("--retry-failed", "On resume, send again rows that failed.")]


def batch(
    ctx: typer.Context,
    file: _File,
    text: _Text = None,
    template: _Template = None,
    column: _Column = "phone",
    sender_id: _SenderId = None,
    journal: _Journal = None,
    report: _Report = None,
    dry_run: _DryRun = False,
    chunk_size: _ChunkSize = 100,
    max_in_flight: _MaxInFlight = 8,
    delimiter: _Delimiter = ",",
    allow_empty_fields: _AllowEmpty = False,
    allow_repeats: _AllowRepeats = False,
    allow_multiline: _AllowMultiline = False,
    resend_unknown: _ResendUnknown = False,
    retry_failed: _RetryFailed = False,
    json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Send one SMS per CSV row, resumably, with live progress and a per-row report."""
    settings = settings_of(ctx, json, debug)
    rules = Rules(
        journal=journal,
        allow_multiline=allow_multiline,
        allow_empty_fields=allow_empty_fields,
        allow_repeats=allow_repeats,
        resend_unknown=resend_unknown,
        retry_failed=retry_failed,
    )
    options = _Options(
        chunk_size=chunk_size,
        max_in_flight=max_in_flight,
        report=report,
        dry_run=dry_run,
        rules=rules,
    )
    try:
        source = open_source(
            file,
            column=column,
            text=text,
            template=template,
            sender_id=sender_id,
            delimiter=delimiter,
        )
    except BadInput as exc:
        fail(settings, exc)
    raise typer.Exit(_run(settings, source, options))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Options:
    """The batch options as given on the command line."""

    chunk_size: int
    max_in_flight: int
    report: Path | None
    dry_run: bool
    rules: Rules

    @property
    def journal(self) -> Path | None:
        """The --journal file, if any."""
        return self.rules.journal


@dataclass(frozen=True, slots=True)
class _Finished:
    """A batch run to its end: what the check found, the balance, the report."""

    plan: Plan
    balance: Decimal | None
    report: BatchReport
    #: What a real run would have refused to start for (a dry run goes on regardless).
    problem: TexinError | None


def _run(settings: Settings, source: CsvSource, options: _Options) -> int:
    """Check, send and report the batch; the exit code."""
    progress = BatchProgress()
    try:
        writer = ReportWriter(options.report, source) if options.report is not None else None
    except BadInput as exc:
        fail(settings, exc)
    try:
        done = run_loop(_check_and_send, settings, source, options, progress, writer)
    except KeyboardInterrupt:
        fail(settings, _interrupted(progress, options))
    except TexinError as exc:
        fail(settings, exc)
    finally:
        if writer is not None:
            writer.close()
    _show(settings, source, options, done)
    if done.problem is not None:
        fail(settings, done.problem)
    return exit_code_of(done.report)


async def _check_and_send(
    settings: Settings,
    source: CsvSource,
    options: _Options,
    progress: BatchProgress,
    writer: ReportWriter | None,
) -> _Finished:
    """Every check a real run makes before its first send, then the batch itself."""
    plan = await preflight(source, options.rules)
    problem: TexinError | None = plan.refusal(options.rules)
    if problem is not None and not options.dry_run:
        raise problem
    async with settings.client() as client:
        balance = (await client.get_balance()).sms_balance  # the key, and what it can pay
        problem = problem or plan.shortfall(balance)
        if not options.dry_run:
            if problem is not None:
                raise problem
            if not settings.json:
                requests = plan.requests_at_most(
                    chunk_size=options.chunk_size, personalised=source.personalised
                )
                # The key's own plan: its window (the balance check included), the
                # reserve for interactive sends, the pace.
                when = await client._limiter.plan(client.key_id, requests, Priority.BULK)
                _announce(settings, source, plan, requests, when.seconds, balance)
        report = await _send(client, source, options, plan, progress, writer, settings.json)
    return _Finished(plan, balance, report, problem)


async def _send(
    client: TexinClient,
    source: CsvSource,
    options: _Options,
    plan: Plan,
    progress: BatchProgress,
    writer: ReportWriter | None,
    quiet: bool,
) -> BatchReport:
    """Stream the rows into the batch beside the progress display."""
    progress.expected_items = plan.rows
    progress.expected_requests = plan.requests_at_most(
        chunk_size=options.chunk_size, personalised=source.personalised
    )
    display = ProgressDisplay(progress, stderr, total=plan.rows, enabled=not quiet)
    rules = options.rules
    # A dry run reads the journal only if there is one: it never creates it.
    journal = options.journal if plan.resuming or not options.dry_run else None

    async def send() -> BatchReport:
        return await client.send_batch(
            source.messages(writer.pending if writer is not None else None),
            chunk_size=options.chunk_size,
            max_in_flight=options.max_in_flight,
            journal=journal,
            dry_run=options.dry_run,
            resend_unknown=rules.resend_unknown,
            retry_failed=rules.retry_failed,
            progress=progress,
            on_outcome=writer.add if writer is not None else None,
        )

    try:
        with display:
            return await run_beside(display.run, send)
    except Exception as exc:
        stopped = _stopped(exc, source, options, progress)
        if stopped is exc:
            raise
        raise stopped from exc


def _stopped(
    error: Exception, source: CsvSource, options: _Options, progress: BatchProgress
) -> Exception:
    """The error to report for a batch that stopped: it says whether rows were sent."""
    if options.dry_run or not progress.requests:  # nothing was sent
        if isinstance(error, JournalMismatchError):  # the SDK counts items from 0
            return JournalMismatchError(
                f"journal {options.journal} does not match {source.path} at row "
                f"{error.index + 1:,}: the file changed since the journal was written",
                index=error.index,
            )
        if isinstance(error, OSError):
            return BadInput(f"the batch stopped before sending: {error}")
        return error
    reason = str(error) if isinstance(error, TexinError) else f"{type(error).__name__}: {error}"
    p = progress
    counts = (
        f"{p.sent:,} sent, {p.failed:,} failed, {p.unknown:,} unknown, {p.invalid:,} invalid; "
        f"{plural(p.done, 'row')} done"
    )
    if options.journal is not None:
        hint = "the journal has every answer: fix the cause and re-run the same command to go on"
    else:
        hint = "no --journal was kept: re-running would send the rows already sent again"
    return BatchStopped(f"the batch stopped after sending began ({counts}): {reason}", hint=hint)


def _announce(
    settings: Settings,
    source: CsvSource,
    plan: Plan,
    requests: int,
    seconds: float,
    balance: Decimal | None,
) -> None:
    """What is about to happen, and how long it will take at the key's rate limit."""
    limit = settings.rate_limit
    pace = f"{plural(limit.max_rate, 'request')} per {limit.time_period:g} s"
    when = f"at least {format_seconds(seconds)} at {pace}" if seconds else f"within {pace}"
    done = f" ({plan.finished:,} done before, in the journal)" if plan.finished else ""
    stderr.print(
        f"{source.path.name}: {plural(plan.rows, 'row')}{done}; sending {plan.to_send:,} in up "
        f"to {plural(requests, 'request')}, {when}. They need {plural(plan.units, 'unit')} "
        f"({money(plan.cost())}); the balance is {balance_text(balance)}.",
        highlight=False,
    )


def _show(settings: Settings, source: CsvSource, options: _Options, done: _Finished) -> None:
    """The report, then what the check found (dry run) or what to do next (real run)."""
    if settings.json:
        print_json(
            {
                **msgspec.to_builtins(done.report),
                "report_file": None if options.report is None else str(options.report),
                "journal": None if options.journal is None else str(options.journal),
                "check": check_document(done.plan, done.balance),
            }
        )
        return
    title = f"Batch {source.path.name}" + (" (dry run: nothing sent)" if options.dry_run else "")
    print_report(done.report, title=title)
    if options.report is not None:
        stdout.print(f"Report: {options.report} (one row per input row, with its status)")
    lines = (
        findings(done.plan, done.balance)
        if options.dry_run
        else hints(done.report, options.journal)
    )
    for line in lines:
        stdout.print(line, soft_wrap=True)


def _interrupted(progress: BatchProgress, options: _Options) -> Interrupted:
    """What was done and how to go on, after Ctrl-C."""
    if options.dry_run:
        return Interrupted("interrupted (a dry run: nothing was sent)")
    done = f"interrupted after {plural(progress.done, 'row')} ({progress.sent:,} sent)"
    if options.journal is None:
        hint = "no --journal was kept, so re-running would send those rows again"
    else:
        hint = (
            f"re-run the same command (same --journal {options.journal}) to resume; rows "
            "that were in flight are reported unknown, never sent twice"
        )
    return Interrupted(done, hint=hint)
