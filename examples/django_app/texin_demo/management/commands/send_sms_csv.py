"""``manage.py send_sms_csv contacts.csv --template "Hi {name}"``: one SMS per CSV row.

Resumable: the journal (next to the CSV by default) records every request before it leaves
and every answer when it arrives, so after a crash or Ctrl-C the same command skips what was
sent and reports rows whose answer was lost as unknown, never sending them twice. Rows are
streamed from the file; a progress bar shows the counts, the rate and the time left.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from texin_async import BatchProgress, Message, OutcomeStatus, TexinError

from ...sms import client

BAR_WIDTH = 30


def read_rows(path: Path, column: str, template: str) -> Iterator[Message]:
    """One Message per row, read lazily; ``ref`` is the row number (1 = first data row)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=1):
            yield Message(row.get(column) or "", template.format_map(row), ref=number)


def count_rows(path: Path) -> int:
    """Data rows in the CSV, for the bar's total (one quick pass, no row kept)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def bar(progress: BatchProgress, total: int) -> str:
    """``[####......] 40/100 sent 38 invalid 1 failed 0 unknown 1, 6 waiting ETA 30s``."""
    filled = BAR_WIDTH * progress.done // total if total else BAR_WIDTH
    eta = progress.eta  # from the key's limiter: requests left, budget, queue
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress.done}/{total} "
        f"sent {progress.sent} invalid {progress.invalid} failed {progress.failed} "
        f"unknown {progress.unknown}, {progress.waiting} waiting for budget "
        f"ETA {'?' if eta is None else f'{eta:.0f}s'}"
    )


class Command(BaseCommand):
    help = "Send one SMS per CSV row, resumably, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", type=Path, help="UTF-8 CSV with a header row")
        parser.add_argument("--template", required=True, help="text from columns: 'Hi {name}'")
        parser.add_argument("--column", default="phone", help="the recipients' column")
        parser.add_argument("--journal", type=Path, help="default: CSV path + .journal.sqlite")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["csv"]
        journal = options["journal"] or path.with_name(path.name + ".journal.sqlite")
        rows = read_rows(path, options["column"], options["template"])
        total = count_rows(path)
        progress = BatchProgress(expected_items=total)
        try:
            for outcome in client().iter_batch(rows, journal=journal, progress=progress):
                if outcome.status is not OutcomeStatus.SENT:
                    self.note(f"row {outcome.ref}: {outcome.status.value}, {outcome.error}")
                self.show(bar(progress, total))
        except KeyboardInterrupt:
            message = "interrupted: run the same command again to resume"
            raise CommandError(message, returncode=130) from None
        except KeyError as exc:
            raise CommandError(f"the template names a column the CSV lacks: {exc}") from exc
        except TexinError as exc:  # the journal belongs to another CSV, the API refused...
            raise CommandError(str(exc)) from exc
        self.show(bar(progress, total), final=True)
        self.stdout.write(
            f"{progress.sent} sent, {progress.invalid} invalid, {progress.failed} failed, "
            f"{progress.unknown} unknown ({progress.resumed} from the journal {journal})"
        )

    def show(self, line: str, *, final: bool = False) -> None:
        """Redraw the bar in place on a terminal; elsewhere, only the final one is shown."""
        if final or self.stdout.isatty():
            self.stdout.write("\r" + line, ending="\n" if final else "")
            self.stdout.flush()

    def note(self, line: str) -> None:
        """A line about one row, on stderr, above the bar."""
        self.stderr.write(("\r\033[K" if self.stdout.isatty() else "") + line)
