"""What ``texin batch`` tells when it ends: the report table, the exit code, a dry run's
findings, and hints that suggest only what can succeed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.table import Table

from .._batch import BatchReport
from ._common import agree, balance_text, money, plural, stdout
from ._errors import EXIT_BATCH_INCOMPLETE, EXIT_OK
from ._preflight import Plan

__all__ = ["check_document", "exit_code_of", "findings", "hints", "print_report"]


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
        ("Cost", money(report.cost)),
        ("Elapsed", f"{report.elapsed:.1f} s"),
    ]
    for name, value in rows:
        if name != "From the journal" or value:
            table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    stdout.print(table)


def findings(plan: Plan, balance: Decimal | None) -> list[str]:
    """What a dry run found that a real run would act on."""
    covered = balance is not None and plan.units <= balance
    enough = "enough" if covered else "NOT enough: a real run would refuse"
    lines = [
        f"Balance: {balance_text(balance)}; this run needs {plural(plan.units, 'unit')} "
        f"({money(plan.cost())}): {enough}."
    ]
    if plan.finished:
        lines.append(f"Journal: {plural(plan.finished, 'row')} done before; not sent again.")
    if plan.invalid.count:
        lines.append(
            f"Invalid: {plural(plan.invalid.count, 'row')} ({plan.invalid}) without a valid "
            f"mobile number or message; {agree(plan.invalid.count, 'it', 'they')} would not "
            "be sent."
        )
    if plan.repeats:
        others = plan.repeated_numbers - 1
        more = f"; {plural(others, 'other number')} repeat too" if others else ""
        lines.append(
            f"Repeats: {plan.repeats[0]}{more}. A real run refuses repeats unless --allow-repeats."
        )
    if plan.blank.count:
        lines.append(
            f"Blank fields: {plural(plan.blank.count, 'row')} ({plan.blank}) "
            f"{agree(plan.blank.count, 'leaves', 'leave')} a template field blank, e.g. "
            f"{plan.blank_example!r}. A real run refuses them unless --allow-empty-fields."
        )
    return lines


def hints(report: BatchReport, journal: Path | None) -> list[str]:
    """What to do about rows that were not sent: only advice that can succeed."""
    lines = []
    if report.invalid:
        lines.append(
            f"{plural(report.invalid, 'row')} had no valid number (or message) and "
            f"{agree(report.invalid, 'was', 'were')} not sent: fix "
            f"{agree(report.invalid, 'it', 'them')} in the file; retrying cannot help."
        )
    if report.failed:
        again = (
            "; re-run the same command with --retry-failed to send them again"
            if journal is not None
            else ""
        )
        lines.append(
            f"{plural(report.failed, 'row')} failed and {agree(report.failed, 'was', 'were')} "
            f"not sent (see the report's error column){again}."
        )
    if report.unknown:
        resend = (
            "re-running the same command with --resend-unknown sends them again (they may "
            "arrive twice)"
            if journal is not None
            else "without a --journal, re-running would send every row again"
        )
        lines.append(
            f"{plural(report.unknown, 'row')} may have been sent: no answer came back, so "
            f"there is no message id to look up. Check your provider's dashboard; {resend}."
        )
    return lines


def check_document(plan: Plan, balance: Decimal | None) -> dict[str, Any]:
    """What the check found, for ``--json``."""
    return {
        "rows": plan.rows,
        "to_send": plan.to_send,
        "done_in_journal": plan.finished,
        "units": plan.units,
        "cost": plan.cost(),
        "balance": balance,
        "balance_enough": balance is not None and plan.units <= balance,
        "invalid": {"count": plan.invalid.count, "rows": plan.invalid.first},
        "blank_fields": {"count": plan.blank.count, "rows": plan.blank.first},
        "repeats": {
            "numbers": plan.repeated_numbers,
            "first": [
                {"number": r.number, "times": r.times, "rows": list(r.rows)} for r in plan.repeats
            ],
        },
    }
