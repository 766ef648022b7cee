"""A standalone, resumable batch job: send one SMS per CSV row, safe to kill and re-run.

Rows are streamed from the CSV (memory stays flat for millions of rows). The journal, a
SQLite file next to the CSV by default, records every request before it leaves and every
answer when it arrives: run the same command again after a crash or Ctrl-C and finished rows
are skipped, rows whose answer was lost are reported "unknown" instead of being sent twice.

    TEXIN_API_KEY=... python examples/batch_job.py contacts.csv --text "Our shop opens at 9"
    python examples/batch_job.py contacts.csv --template "Hi {name}, your code is {code}"

Results (one line per row: row, status, number, message id, error) go to ``--results``, in
the order rows settle. The exit status is 0 when every row was sent, 1 otherwise, 130 when
interrupted. For a progress bar and checked input, the ``texin batch`` command does the same.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio

from texin_async import BatchReport, Message, Outcome, TexinClient, TexinError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Send one SMS per CSV row, resumably.")
    parser.add_argument("csv", type=Path, help="UTF-8 CSV with a header row")
    message = parser.add_mutually_exclusive_group(required=True)
    message.add_argument("--text", help="the same text for every row")
    message.add_argument("--template", help="a text per row from its columns: 'Hi {name}'")
    parser.add_argument("--column", default="phone", help="the recipients' column")
    parser.add_argument("--journal", type=Path, help="default: CSV path + .journal.sqlite")
    parser.add_argument("--results", type=Path, help="default: CSV path + .results.csv")
    return parser.parse_args(argv)


def messages(path: Path, column: str, text: str | None, template: str | None) -> Iterator[Message]:
    """One Message per row, read lazily; ``ref`` is the row number (1 = first data row)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=1):
            body = text if text is not None else str(template).format_map(row)
            yield Message(row.get(column) or "", body, ref=number)


async def run(args: argparse.Namespace) -> BatchReport:
    journal = args.journal or args.csv.with_name(args.csv.name + ".journal.sqlite")
    results = args.results or args.csv.with_name(args.csv.name + ".results.csv")
    with results.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "status", "normalized", "message_id", "error"])

        def record(outcome: Outcome) -> None:
            writer.writerow(
                [
                    outcome.ref,
                    outcome.status.value,
                    outcome.normalized or "",
                    outcome.message_id or "",
                    outcome.error or "",
                ]
            )

        async with TexinClient() as client:  # TEXIN_API_KEY, TEXIN_BASE_URL
            return await client.send_batch(
                messages(args.csv, args.column, args.text, args.template),
                journal=journal,
                on_outcome=record,
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = anyio.run(run, args)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except (TexinError, OSError, UnicodeDecodeError, KeyError) as exc:
        print(f"batch_job: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{report.total} rows: {report.sent} sent, {report.invalid} invalid, "
        f"{report.failed} failed, {report.unknown} unknown ({report.resumed} from the "
        f"journal); {report.requests} requests, {report.units} units, KES {report.cost}, "
        f"{report.elapsed:.1f} s"
    )
    return 0 if report.sent == report.total else 1


if __name__ == "__main__":
    sys.exit(main())
