"""CSV in and out for ``texin batch``: the source file, its rows as Messages, the report.

A batch of a million rows takes about seven days at the provider's 100 requests a minute, so
a malformed file must fail in the first seconds, not on day three. :func:`open_source` reads
the bytes once (UTF-8 throughout, no NUL) and checks the header and the message options;
``_preflight`` then parses every row before anything is sent, and the batch reads the rows
again, one at a time, as it sends. Nothing holds the whole file in memory.
"""

from __future__ import annotations

import codecs
import csv
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .._batch import Message, Outcome
from ._errors import BadInput

__all__ = ["REPORT_COLUMNS", "CsvSource", "ReportWriter", "Row", "open_source"]

#: What the report adds to each input row, after the input's own columns.
REPORT_COLUMNS = ("row", "status", "normalized", "message_id", "units", "error")
_CHUNK = 1 << 20
_FORMATTER = string.Formatter()
#: Delimiters a header is tried with when the recipients' column is not found.
_OTHER_DELIMITERS = (",", ";", "\t", "|")
#: ``--delimiter`` spellings for characters a shell makes awkward.
_NAMED_DELIMITERS = {"tab": "\t", "\\t": "\t"}


class Row(NamedTuple):
    """One data row: its number (from 1, after the header), its first line, its fields."""

    number: int
    line: int
    values: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvSource:
    """A CSV checked as a batch input: where the numbers are and how each text is made.

    Rows are numbered from 1 (the first row after the header); that number is each
    Message's ``ref``, the report's ``row`` column and what every message names.
    """

    path: Path
    delimiter: str
    columns: tuple[str, ...]
    #: Position of the recipients' column in each row.
    recipient: int
    text: str | None
    template: str | None
    #: The columns the template names, by position.
    fields: tuple[int, ...]
    sender_id: str | None

    @property
    def personalised(self) -> bool:
        """Whether each row gets its own text (a template): one request per row, at worst."""
        return self.template is not None

    def render(self, values: Sequence[str]) -> str:
        """The message for a row's fields."""
        if self.template is None:
            return self.text or ""
        return self.template.format_map(dict(zip(self.columns, values, strict=False)))

    def rows(self) -> Iterator[Row]:
        """Every data row, read as asked for; blank lines are skipped.

        Raises:
            BadInput: A row the csv module cannot read, with its line number.
        """
        width = len(self.columns)
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            number, line = 0, 1
            try:
                next(reader)  # the header
                line = reader.line_num + 1
                for values in reader:
                    if values:
                        number += 1
                        if len(values) < width:
                            values += [""] * (width - len(values))
                        yield Row(number, line, values)
                    line = reader.line_num + 1
            except (csv.Error, UnicodeDecodeError) as exc:
                raise BadInput(f"{self.path}, line {line}: {_reason(exc)}") from None

    def messages(self, keep: dict[int, list[str]] | None = None) -> Iterator[Message]:
        """Each row as a Message; rows are kept in ``keep`` by number, for a report."""
        column, sender_id = self.recipient, self.sender_id
        for number, _, values in self.rows():
            if keep is not None:
                keep[number] = values
            yield Message(values[column], self.render(values), sender_id, number)


def _reason(error: Exception) -> str:
    """Why the csv module could not read a row, in words that point at the likely cause."""
    text = str(error)
    if "field larger than field limit" in text:
        return (
            f"a field longer than {csv.field_size_limit():,} characters (the csv module's "
            'limit): is a quote (") left open?'
        )
    return text


def open_source(
    path: Path,
    *,
    column: str,
    text: str | None,
    template: str | None,
    sender_id: str | None = None,
    delimiter: str = ",",
) -> CsvSource:
    """Check ``path``'s bytes and header and the message options; fail before any request.

    Raises:
        BadInput: Unreadable, not UTF-8, empty, no such column, a template naming a column
            the file lacks; the message says what to fix.
    """
    delimiter = _checked_options(text, template, sender_id, delimiter)
    _scan_bytes(path)
    columns = _header(path, delimiter, column)
    fields = _template_fields(template, columns) if template is not None else ()
    return CsvSource(
        path=path,
        delimiter=delimiter,
        columns=columns,
        recipient=columns.index(column),
        text=text,
        template=template,
        fields=fields,
        sender_id=sender_id,
    )


def _checked_options(
    text: str | None, template: str | None, sender_id: str | None, delimiter: str
) -> str:
    """The delimiter as one character, once the message options make sense together."""
    if text is None and template is None:
        raise BadInput("give one of --text TEXT or --template 'Hi {name}'")
    if text is not None and template is not None:
        raise BadInput("give --text or --template, not both")
    if not (text if text is not None else template or "").strip():
        raise BadInput("the message is empty: give the text to send")
    if sender_id is not None and not sender_id.strip():
        raise BadInput("--sender-id is empty: give one, or leave it out for the account's")
    delimiter = _NAMED_DELIMITERS.get(delimiter, delimiter)
    if len(delimiter) != 1:
        raise BadInput("--delimiter must be one character (or 'tab')")
    return delimiter


def _scan_bytes(path: Path) -> None:
    """Read the bytes once: the file is not empty, UTF-8 and NUL-free throughout."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = offset = 0
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
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 (it ends mid-character); save it as UTF-8 CSV") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if offset == 0:
        raise BadInput(f"{path} is empty: expected a header row naming the columns, like phone")


def _header(path: Path, delimiter: str, column: str) -> tuple[str, ...]:
    """The header's column names, stripped; the recipients' column must be among them."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            names = next(csv.reader(handle, delimiter=delimiter), [])
        except csv.Error as exc:
            raise BadInput(f"{path}, line 1: {_reason(exc)}") from None
    columns = tuple(name.strip() for name in names)
    if not any(columns):
        raise BadInput(f"{path} has no header row: the first line must name the columns")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise BadInput(f"{path}: duplicate column name(s): {', '.join(duplicates)}")
    if column not in columns:
        raise BadInput(
            f"{path} has no column {column!r} (columns: {', '.join(columns)})",
            hint=_delimiter_hint(names, delimiter, column)
            or "name the recipients' column with --column",
        )
    return columns


def _delimiter_hint(names: list[str], delimiter: str, column: str) -> str | None:
    """``--delimiter`` advice when the header, split on another delimiter, has ``column``."""
    line = delimiter.join(names)
    for other in _OTHER_DELIMITERS:
        if other != delimiter and column in (name.strip() for name in line.split(other)):
            shown = "tab" if other == "\t" else repr(other)
            option = "tab" if other == "\t" else f"'{other}'"
            return f"looks like a {shown}-separated file: pass --delimiter {option}"
    return None


def _template_fields(template: str, columns: Sequence[str]) -> tuple[int, ...]:
    """The positions of the columns ``template`` names; each must be one of ``columns``."""
    try:
        names = [name for _, name, _, _ in _FORMATTER.parse(template) if name is not None]
    except ValueError as exc:
        raise BadInput(f"bad --template: {exc}; write {{{{ and }}}} for literal braces") from None
    for name in names:
        if name not in columns:
            shown = name or "{}"
            raise BadInput(
                f"--template names column {shown!r}, which the file does not have "
                f"(columns: {', '.join(columns)})"
            )
    try:
        template.format_map(dict.fromkeys(columns, ""))
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise BadInput(f"bad --template: {exc}") from None
    return tuple(dict.fromkeys(columns.index(name) for name in names))


class ReportWriter:
    """Writes one report row per input row, in input order, as outcomes arrive.

    Outcomes settle out of order (requests run concurrently); each waits in a small buffer
    until the rows before it are written, so the file is always in row order and never
    holds more than the batch has in flight.
    """

    def __init__(self, path: Path, source: CsvSource) -> None:
        if path.exists() and path.samefile(source.path):
            raise BadInput(f"--report {path} is the input file: name another file")
        try:
            self._file = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise BadInput(f"cannot write the report {path}: {exc.strerror or exc}") from None
        self._writer = csv.writer(self._file)
        self._width = len(source.columns)
        taken = set(source.columns)
        extra = [f"texin_{name}" if name in taken else name for name in REPORT_COLUMNS]
        self._writer.writerow([*source.columns, *extra])
        #: Input rows given out as Messages whose outcome has not come yet, by number.
        self.pending: dict[int, list[str]] = {}
        self._next = 1
        self._waiting: dict[int, list[object]] = {}
        #: Report rows written so far.
        self.written = 0

    def add(self, outcome: Outcome) -> None:
        """Take one outcome; write it and any rows it was holding back."""
        number = int(outcome.ref)
        values = self.pending.pop(number, [])[: self._width]
        self._waiting[number] = [
            *values,
            *[""] * (self._width - len(values)),
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
