"""CSV in and out for ``texin batch``: checked before the first send, streamed after.

A batch of a million rows takes about seven days at the provider's 100 requests a minute, so
a malformed file must fail in the first second, not on day three: :func:`open_rows` scans the
whole file once (bytes only, for UTF-8 validity, NUL bytes and a row count), then checks the
header, the template and the first row. Rows are then read one at a time with
``csv.DictReader`` over the open file; nothing holds the whole file in memory.
"""

from __future__ import annotations

import codecs
import csv
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .._batch import Message, Outcome
from ._errors import BadInput

__all__ = ["REPORT_COLUMNS", "CsvRows", "ReportWriter", "open_rows"]

#: What the report adds to each input row, after the input's own columns.
REPORT_COLUMNS = ("row", "status", "normalized", "message_id", "units", "error")
_CHUNK = 1 << 20
#: Makes a row's message text from its columns.
Render = Callable[[dict[str, str]], str]
_FORMATTER = string.Formatter()


@dataclass
class CsvRows:
    """An open, checked CSV: its columns, an estimate of its rows, and its rows as Messages.

    Rows are numbered from 1 (the first row after the header); that number is each
    Message's ``ref`` and the report's ``row`` column.
    """

    path: Path
    columns: list[str]
    #: Data rows counted from line ends: exact unless fields hold newlines or lines are blank.
    estimated_rows: int
    _file: IO[str]
    _reader: csv.DictReader[str]
    _first: dict[str, str]
    _render: Render
    _column: str
    _sender_id: str | None
    #: Whether each row gets its own text (a template): one request per row, at worst.
    personalised: bool
    #: Whether to keep each row given out in :attr:`pending`, for a report.
    keep: bool
    #: Input rows given out as Messages whose outcome has not been taken yet, by row number.
    pending: dict[int, dict[str, str]] = field(default_factory=dict)

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def messages(self) -> Iterator[Message]:
        """Each row as a Message, read as the batch asks for it."""
        render, column, sender_id, keep = self._render, self._column, self._sender_id, self.keep
        for number, row in enumerate(self._rows(), start=1):
            if keep:
                self.pending[number] = row
            yield Message(row[column], render(row), sender_id, number)

    def _rows(self) -> Iterator[dict[str, str]]:
        yield self._first
        try:
            for row in self._reader:
                if row:
                    yield row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BadInput(f"{self.path}, line {self._reader.line_num}: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def open_rows(
    path: Path,
    *,
    column: str,
    text: str | None,
    template: str | None,
    sender_id: str | None = None,
    delimiter: str = ",",
    keep: bool = False,
) -> CsvRows:
    """Check ``path`` as a batch input and open it; fail before anything is sent.

    Raises:
        BadInput: Unreadable, not UTF-8, empty, no such column, a template naming a column
            the file lacks, or no rows; the message says what to fix.
    """
    if (text is None) == (template is None):
        raise BadInput("give the message as --text TEXT or --template 'Hi {name}', not both")
    estimated = _scan(path)
    handle = path.open(encoding="utf-8-sig", newline="")
    try:
        reader = csv.DictReader(handle, delimiter=delimiter, restval="")
        columns = _header(path, reader, column)
        render = _renderer(template, columns) if template is not None else _fixed(text or "")
        first = next((row for row in reader if row), None)
        if first is None:
            raise BadInput(f"{path} has a header but no rows")
        _check_renders(render, first)
    except (csv.Error, UnicodeDecodeError) as exc:
        handle.close()
        raise BadInput(f"{path}: {exc}") from exc
    except BaseException:
        handle.close()
        raise
    return CsvRows(
        path,
        columns,
        estimated,
        handle,
        reader,
        first,
        render,
        column,
        sender_id,
        personalised=template is not None,
        keep=keep,
    )


def _scan(path: Path) -> int:
    """Read the bytes once: UTF-8 and NUL-free throughout; the number of data rows."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = offset = 0
    last = b""
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(_CHUNK):
                if b"\0" in chunk:
                    line = lines + chunk.count(b"\n", 0, chunk.index(b"\0")) + 1
                    raise BadInput(f"{path}, line {line}: a NUL byte; is this a CSV file?")
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = lines + chunk.count(b"\n", 0, exc.start) + 1
                    raise BadInput(
                        f"{path}, line {line}: not UTF-8 (byte 0x{chunk[exc.start]:02x} at "
                        f"byte {offset + exc.start}); save the file as UTF-8 CSV"
                    ) from None
                lines += chunk.count(b"\n")
                offset += len(chunk)
                last = chunk[-1:]
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 (it ends mid-character); save it as UTF-8 CSV") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if offset == 0:
        raise BadInput(f"{path} is empty: expected a header row naming the columns, like phone")
    return max(0, lines + (last != b"\n") - 1)


def _header(path: Path, reader: csv.DictReader[str], column: str) -> list[str]:
    """The header's column names, stripped; the recipient column must be among them."""
    names = reader.fieldnames
    if not names or not any(name.strip() for name in names):
        raise BadInput(f"{path} has no header row: the first line must name the columns")
    columns = [name.strip() for name in names]
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise BadInput(f"{path}: duplicate column name(s): {', '.join(duplicates)}")
    reader.fieldnames = columns
    if column not in columns:
        raise BadInput(
            f"{path} has no column {column!r} (columns: {', '.join(columns)}); "
            "name the recipients' column with --column"
        )
    return columns


def _fixed(text: str) -> Render:
    return lambda row: text


def _renderer(template: str, columns: Sequence[str]) -> Render:
    """``template.format_map``, once every field it names is one of ``columns``."""
    try:
        fields = [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]
    except ValueError as exc:
        raise BadInput(f"bad --template: {exc}; write {{{{ and }}}} for literal braces") from None
    for name in fields:
        if name not in columns:
            shown = name or "{}"
            raise BadInput(
                f"--template names column {shown!r}, which the file does not have "
                f"(columns: {', '.join(columns)})"
            )
    return template.format_map


def _check_renders(render: Render, row: dict[str, str]) -> None:
    try:
        render(row)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise BadInput(f"--template does not render the first row: {exc}") from None


class ReportWriter:
    """Writes one report row per input row, in input order, as outcomes arrive.

    Outcomes settle out of order (requests run concurrently); each waits in a small buffer
    until the rows before it are written, so the file is always in row order and never
    holds more than the batch has in flight.
    """

    def __init__(self, path: Path, rows: CsvRows) -> None:
        if path.exists() and path.samefile(rows.path):
            raise BadInput(f"--report {path} is the input file: name another file")
        try:
            self._file = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise BadInput(f"cannot write the report {path}: {exc.strerror or exc}") from None
        self._writer = csv.writer(self._file)
        self._rows = rows
        self._columns = list(rows.columns)
        taken = set(self._columns)
        extra = [f"texin_{name}" if name in taken else name for name in REPORT_COLUMNS]
        self._writer.writerow([*self._columns, *extra])
        self._next = 1
        self._waiting: dict[int, list[object]] = {}
        #: Report rows written so far.
        self.written = 0

    def add(self, outcome: Outcome) -> None:
        """Take one outcome; write it and any rows it was holding back."""
        number = int(outcome.ref)
        row = self._rows.pending.pop(number, {})
        self._waiting[number] = [
            *(row.get(name, "") for name in self._columns),
            number,
            outcome.status.value,
            outcome.normalized or "",
            outcome.message_id or "",
            outcome.units,
            outcome.error or "",
        ]
        while self._next in self._waiting:
            self._writer.writerow(self._waiting.pop(self._next))
            self._next += 1
            self.written += 1

    def close(self) -> None:
        """Write whatever is still held back (after an interruption: rows with gaps)."""
        for number in sorted(self._waiting):
            self._writer.writerow(self._waiting.pop(number))
            self.written += 1
        self._file.close()
