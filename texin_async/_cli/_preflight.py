"""The check of a whole batch before its first send: one streaming pass over every row.

What a person would want to know before paying for a million SMS, found in seconds:

- rows the csv module cannot read, a field with a line break or longer than any message
  (the mark of an unbalanced quote, which swallows the rows after it into one message),
  and a journal that is not this batch's: refused at once, with a line number;
- numbers that are not valid, numbers that repeat, rows that leave a template field blank,
  and the SMS units the rows still to send need: gathered into a :class:`Plan`, which says
  what a real run refuses (:meth:`Plan.refusal`) and whether the balance covers it.

Memory stays small for millions of rows: each valid number is kept as one 64-bit int in an
``array('q')``, its row number in the low bits, and repeats are found by sorting runs of it
and merging them, never with a set of strings.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .._batch._journal import ItemState, Journal, JournalReader, JournalRow, fingerprint
from .._exceptions import InsufficientBalanceError, JournalError, JournalMismatchError
from .._phone import try_normalize_recipient
from .._units import COST_PER_UNIT, count_units
from ._common import SHOWN_ROWS, agree, money, plural, some_rows
from ._csv import CsvSource, Row
from ._errors import BadInput

__all__ = ["MAX_FIELD", "Plan", "Repeat", "Rules", "Sample", "open_journal", "preflight"]

#: The longest field a row may hold: ten SMS units. Longer is a quote left open, or no SMS.
MAX_FIELD = 1600
_ROW_BITS = 33  # row numbers below 2**33; a number's 9 digits (< 2**30) sit above them
_ROW_MASK = (1 << _ROW_BITS) - 1
_RUN = 1 << 16  # keys sorted at a time: the only list of Python ints the scan makes


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    """The options that decide what the check refuses and which rows a run sends."""

    journal: Path | None = None
    allow_multiline: bool = False
    allow_empty_fields: bool = False
    allow_repeats: bool = False
    resend_unknown: bool = False
    retry_failed: bool = False

    def sends_again(self, state: int) -> bool:
        """Whether a row the journal records in ``state`` goes out again (as the batch does)."""
        if state in (ItemState.IN_FLIGHT, ItemState.UNKNOWN):
            return self.resend_unknown
        return state == ItemState.FAILED and self.retry_failed


@dataclass(slots=True)
class Sample:
    """How many rows have a trait, and the first few of their numbers."""

    count: int = 0
    first: list[int] = field(default_factory=list)

    def add(self, number: int) -> None:
        """Count one more row with the trait."""
        self.count += 1
        if len(self.first) < SHOWN_ROWS:
            self.first.append(number)

    def __str__(self) -> str:
        return some_rows(self.first, self.count)


@dataclass(frozen=True, slots=True)
class Repeat:
    """A number that appears on more than one row."""

    number: str
    times: int
    rows: tuple[int, ...]

    def __str__(self) -> str:
        rows = some_rows(self.rows, self.times)
        times = f"{self.times:,} times"
        return f"{self.number} appears {times} ({rows}), so it would be sent {times}"


@dataclass(slots=True, kw_only=True)
class Plan:
    """What the check found, and what this run would send."""

    path: Path
    rows: int = 0
    invalid: Sample = field(default_factory=Sample)
    #: Rows that leave a template field blank, and the first one's message.
    blank: Sample = field(default_factory=Sample)
    blank_example: str = ""
    #: The first few repeated numbers, by first row; how many repeat, and the extra sends.
    repeats: list[Repeat] = field(default_factory=list)
    repeated_numbers: int = 0
    most_repeats: int = 1
    #: Rows the journal has settled that this run does not send again.
    finished: int = 0
    #: Rows this run sends, and the SMS units they need.
    to_send: int = 0
    units: int = 0
    #: Whether the journal already existed: this run resumes a batch.
    resuming: bool = False

    def requests_at_most(self, *, chunk_size: int, personalised: bool) -> int:
        """An upper bound on this run's requests: one per row, or full bulks plus repeats."""
        if personalised:
            return self.to_send
        bulk = max(math.ceil(self.to_send / chunk_size), self.most_repeats)
        return min(self.to_send, bulk + self.most_repeats - 1)

    def cost(self, per_unit: Decimal = COST_PER_UNIT) -> Decimal:
        """What this run's units cost."""
        return self.units * per_unit

    def refusal(self, rules: Rules) -> BadInput | None:
        """Why a real run would refuse to start, given the options; None if it would not."""
        if self.blank.count and not rules.allow_empty_fields:
            return BadInput(
                f"{self.path}: {plural(self.blank.count, 'row')} "
                f"{agree(self.blank.count, 'leaves', 'leave')} a --template field blank "
                f"({self.blank}), so the first would read {self.blank_example!r}",
                hint="fill them in, or pass --allow-empty-fields to send them as they are",
            )
        if self.repeats and not rules.allow_repeats:
            others = self.repeated_numbers - 1
            more = f"; {plural(others, 'other number')} repeat too" if others else ""
            return BadInput(
                f"{self.path}: {self.repeats[0]}{more}",
                hint="remove the repeats, or pass --allow-repeats to send each one anyway",
            )
        return None

    def shortfall(self, balance: Decimal | None) -> InsufficientBalanceError | None:
        """The error a real run raises when ``balance`` cannot cover this run's units (or
        the API gave no usable balance to check)."""
        if balance is None:
            return InsufficientBalanceError(
                f"the batch needs {plural(self.units, 'SMS unit')} but the API's answer held "
                "no usable balance, so it cannot be checked; nothing was sent",
                needed_units=self.units,
                balance=None,
            )
        if self.units <= balance:
            return None
        return InsufficientBalanceError(
            f"the batch needs {plural(self.units, 'SMS unit')} ({money(self.cost())}) but "
            f"the balance is {balance} credits; nothing was sent",
            needed_units=self.units,
            balance=balance,
        )


async def open_journal(path: Path | None) -> Journal | None:
    """The batch journal at ``path``, opened read-only; None when it is new (or not asked for).

    Raises:
        BadInput: Its folder does not exist, it is a folder, or it is not a batch journal.
    """
    if path is None or not _journal_exists(path):
        return None
    try:
        return await Journal.open(path, writable=False)
    except JournalError as exc:
        raise BadInput(
            f"--journal {path} cannot be used as a batch journal ({exc})",
            hint="name a new --journal file for a new batch",
        ) from None


def _journal_exists(path: Path) -> bool:
    """Whether ``path`` holds a journal to resume; refuse a path no journal can be at."""
    if not path.parent.is_dir():
        raise BadInput(f"--journal {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise BadInput(f"--journal {path} is a folder: name a file, like {path / 'batch.journal'}")
    return path.exists() and path.stat().st_size > 0


async def preflight(source: CsvSource, rules: Rules) -> Plan:
    """Check every row of ``source`` before anything is sent; what a run would do.

    Raises:
        BadInput: A row that cannot be read, or a field that is multi-line or too long.
        JournalMismatchError: The journal records a different batch.
    """
    journal = await open_journal(rules.journal)
    tally = _Tally(source, rules, resuming=journal is not None)
    try:
        reader = JournalReader(journal) if journal is not None else None
        for row in source.rows():
            _check_fields(source, row, rules.allow_multiline)
            recorded = await reader.row(row.number - 1) if reader is not None else None
            tally.add(row, recorded)
        if not tally.plan.rows:
            raise BadInput(f"{source.path} has a header but no rows")
        if journal is not None and journal.last_index >= tally.plan.rows:
            raise JournalMismatchError(
                f"journal {rules.journal} records row {journal.last_index + 1:,} but "
                f"{source.path} has only {plural(tally.plan.rows, 'row')}: the file changed",
                index=tally.plan.rows,
            )
    finally:
        if journal is not None:
            await journal.aclose()
    return tally.finish()


def _check_fields(source: CsvSource, row: Row, allow_multiline: bool) -> None:
    """Refuse a field with a line break (unless allowed) or longer than any message."""
    for position, value in enumerate(row.values):
        if len(value) > MAX_FIELD:
            raise BadInput(
                f"{source.path}, line {row.line:,} (row {row.number:,}): {_name(source, position)} "
                f"holds {len(value):,} characters, more than a message can sensibly be "
                f"({MAX_FIELD:,}, ten SMS units)",
                hint='is a quote (") left open? It swallows the rows after it',
            )
        if not allow_multiline and ("\n" in value or "\r" in value):
            raise BadInput(
                f"{source.path}, line {row.line:,} (row {row.number:,}): {_name(source, position)} "
                'holds a line break, which an unbalanced quote (") makes of the rows after it',
                hint="close the quote; if the line breaks are meant, pass --allow-multiline",
            )


def _name(source: CsvSource, position: int) -> str:
    """How a message names the field at ``position``."""
    columns = source.columns
    return f"column {columns[position]!r}" if position < len(columns) else "an extra field"


class _Tally:
    """What the pass over the rows has found so far."""

    def __init__(self, source: CsvSource, rules: Rules, *, resuming: bool) -> None:
        self.source, self.rules = source, rules
        self.plan = Plan(path=source.path, resuming=resuming)
        self.keys = array("q")
        self._fixed_units = 0 if source.personalised else count_units(source.text or "")

    def add(self, row: Row, recorded: JournalRow | None) -> None:
        """Count one row: valid or not, blank fields, settled by the journal, its units."""
        source, plan, values = self.source, self.plan, row.values
        plan.rows += 1
        raw = values[source.recipient]
        text = source.render(values)
        if source.fields and not all(values[i].strip() for i in source.fields):
            if not plan.blank.count:
                plan.blank_example = text
            plan.blank.add(row.number)
        if recorded is not None and recorded.fp != fingerprint(
            row.number - 1, raw, text, source.sender_id
        ):
            raise _mismatch(self.rules.journal, source.path, row)
        normalized = try_normalize_recipient(raw)
        if normalized is not None and text.strip():
            self.keys.append(int(normalized[3:]) << _ROW_BITS | row.number)
        else:
            plan.invalid.add(row.number)
        if recorded is not None and not self.rules.sends_again(recorded.state):
            plan.finished += 1
        elif normalized is not None and text.strip():
            plan.to_send += 1
            plan.units += self._fixed_units or count_units(text)

    def finish(self) -> Plan:
        """The plan, once every row is in: the repeats found among the numbers kept."""
        plan = self.plan
        first: list[tuple[int, Repeat]] = []
        for repeat in _repeats(self.keys):
            plan.repeated_numbers += 1
            plan.most_repeats = max(plan.most_repeats, repeat.times)
            entry = (-repeat.rows[0], repeat)  # a max-heap on the first row
            if len(first) < SHOWN_ROWS:
                heapq.heappush(first, entry)
            elif entry > first[0]:
                heapq.heapreplace(first, entry)
        plan.repeats = [repeat for _, repeat in sorted(first, reverse=True)]
        return plan


def _mismatch(journal: Path | None, path: Path, row: Row) -> JournalMismatchError:
    """The error for a row that differs from what the journal recorded, named by row."""
    return JournalMismatchError(
        f"journal {journal} does not match {path} at row {row.number:,} (line {row.line:,}): "
        "its number, text or sender id changed since the journal was written. Resume with "
        "the same file and options, or name a new --journal for a new batch",
        index=row.number - 1,
    )


def _repeats(keys: array[int]) -> Iterator[Repeat]:
    """Each number that appears more than once, from keys of ``number << 33 | row``."""
    for start in range(0, len(keys), _RUN):  # sort runs in place, then merge them lazily
        keys[start : start + _RUN] = array("q", sorted(keys[start : start + _RUN]))
    view = memoryview(keys)
    runs = [view[start : start + _RUN] for start in range(0, len(keys), _RUN)]
    current, times = -1, 0
    rows: list[int] = []
    for key in heapq.merge(*runs):
        number = key >> _ROW_BITS
        if number != current:
            if times > 1:
                yield Repeat(f"254{current:09d}", times, tuple(rows))
            current, rows, times = number, [], 0
        times += 1
        if len(rows) < SHOWN_ROWS:
            rows.append(key & _ROW_MASK)
    if times > 1:
        yield Repeat(f"254{current:09d}", times, tuple(rows))
    for run in runs:
        run.release()
    view.release()
