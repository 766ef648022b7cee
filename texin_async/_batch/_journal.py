"""The SQLite journal that makes a batch resumable: one row per item, written around each request.

An item's row is committed as IN_FLIGHT before its request leaves and replaced by its final
state once the answer is in, one transaction per request. After a crash, a row still
IN_FLIGHT is an item that may have gone out: the next run reports it UNKNOWN rather than
sending it twice. The IN_FLIGHT row is written by the client's ``before_send`` hook, once the
key's rate limit lets the request go and just before it is sent (again on each retry): items
still waiting for the budget at a crash have no row, so the next run simply sends them. Each
row carries a fingerprint of its item (index, recipient, text, sender id) so that a journal
is never replayed against a different input.

The journal is stdlib ``sqlite3`` in WAL mode with ``synchronous=FULL`` (a commit survives
power loss, not only a crash of the process), and ``locking_mode=EXCLUSIVE``, so a second
batch cannot open the same journal while one runs. Calls run in a worker thread, one at a
time, to keep fsyncs off the event loop.

Opening and closing fold the write-ahead log back into the file (a TRUNCATE checkpoint), so
whenever no batch holds it the journal is that one file, safe to move or copy. Only after a
crash may committed rows still sit in ``<file>-wal`` beside it, until the journal is next
opened where it lies. An empty file is refused rather than taken for a new journal: SQLite
would delete the ``-wal`` file beside it, and the run would send everything again.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import anyio
import anyio.to_thread

from .._exceptions import JournalError, JournalMismatchError
from ._outcome import Outcome, OutcomeStatus

__all__ = [
    "ItemState",
    "Journal",
    "JournalReader",
    "JournalRow",
    "fingerprint",
    "mismatch",
    "replayed",
    "row_of",
]

_T = TypeVar("_T")
_SCHEMA_VERSION = "1"
_IN_FLIGHT_AT_CRASH = "in flight when an earlier run stopped: it may have been sent"
_PAGE = 2048
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    idx INTEGER PRIMARY KEY,
    fp BLOB NOT NULL,
    state INTEGER NOT NULL,
    normalized TEXT,
    message_id TEXT,
    units INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE TABLE IF NOT EXISTS departures (sent_at REAL NOT NULL, key_id TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('schema', '1');
"""
#: How long a departure is remembered: far past any rate window's two slot lifetimes.
_DEPARTURES_KEPT = 600.0


class ItemState(enum.IntEnum):
    """An item's state in the journal: in flight, or one of the final outcome statuses.

    FAILED and NOT_SENT both report FAILED; they differ on a re-run. FAILED (the API
    refused) is sent again only with ``retry_failed``; NOT_SENT (the request never left,
    or never reached the API) is sent again by any re-run, as if never tried.
    """

    IN_FLIGHT = 0
    SENT = 1
    INVALID = 2
    FAILED = 3
    UNKNOWN = 4
    NOT_SENT = 5

    @property
    def status(self) -> OutcomeStatus:
        """The outcome status of a final state (IN_FLIGHT reads as UNKNOWN)."""
        return _STATUS_OF[self]

    @classmethod
    def of(cls, status: OutcomeStatus) -> ItemState:
        """The final state recording ``status``."""
        return _STATE_OF[status]


_STATUS_OF = {
    ItemState.IN_FLIGHT: OutcomeStatus.UNKNOWN,
    ItemState.SENT: OutcomeStatus.SENT,
    ItemState.INVALID: OutcomeStatus.INVALID,
    ItemState.FAILED: OutcomeStatus.FAILED,
    ItemState.UNKNOWN: OutcomeStatus.UNKNOWN,
    ItemState.NOT_SENT: OutcomeStatus.FAILED,
}
_STATE_OF = {
    OutcomeStatus.SENT: ItemState.SENT,
    OutcomeStatus.INVALID: ItemState.INVALID,
    OutcomeStatus.FAILED: ItemState.FAILED,
    OutcomeStatus.UNKNOWN: ItemState.UNKNOWN,
}


class JournalRow(NamedTuple):
    """One item's row, in column order."""

    idx: int
    fp: bytes
    state: int
    normalized: str | None = None
    message_id: str | None = None
    units: int = 0
    error: str | None = None


def row_of(outcome: Outcome, fp: bytes, *, not_sent: bool = False) -> JournalRow:
    """The journal row recording a final ``outcome``; a FAILED one that ``not_sent``
    (nothing left, or nothing reached the API) is NOT_SENT, to be sent by a re-run."""
    state = ItemState.of(outcome.status)
    return JournalRow(
        outcome.index,
        fp,
        ItemState.NOT_SENT if not_sent and state is ItemState.FAILED else state,
        outcome.normalized,
        outcome.message_id,
        outcome.units,
        outcome.error,
    )


def replayed(row: JournalRow, ref: Any, recipient: Any) -> Outcome:
    """The outcome a row records; an item in flight at a crash is now UNKNOWN, for good."""
    state = ItemState(row.state)
    return Outcome(
        index=row.idx,
        ref=ref,
        recipient=recipient,
        normalized=row.normalized,
        status=state.status,
        message_id=row.message_id,
        units=row.units,
        error=_IN_FLIGHT_AT_CRASH if state is ItemState.IN_FLIGHT else row.error,
    )


def fingerprint(index: int, recipient: object, text: object, sender_id: object) -> bytes:
    """Eight bytes that change when the item at ``index`` does."""
    data = repr((index, recipient, text, sender_id)).encode("utf-8", "backslashreplace")
    return hashlib.blake2b(data, digest_size=8).digest()


class Journal:
    """One batch's journal file; open it with :meth:`open`, close it with :meth:`aclose`."""

    __slots__ = ("_connection", "_limiter", "departures", "last_index", "path", "writable")

    def __init__(self, connection: sqlite3.Connection, path: str, *, writable: bool) -> None:
        self._connection = connection
        self._limiter = anyio.CapacityLimiter(1)  # one thread at a time on one connection
        self.path = path
        self.writable = writable
        #: The highest index recorded when the journal was opened; -1 when it was empty.
        self.last_index = -1
        #: When the requests of recent runs left (wall clock), by key_id: a run that starts
        #: right after another (Ctrl-C, then the same command) must count them.
        self.departures: dict[str, list[float]] = {}

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, writable: bool = True) -> Journal | None:
        """Open (or create) the journal at ``path``; None if read-only and it does not exist.

        Raises:
            JournalError: Another batch holds it, the file is not a batch journal, or the
                path cannot hold one (a folder, a folder that does not exist).
        """
        name = os.fspath(path)
        try:
            connection = await anyio.to_thread.run_sync(_connect, name, writable)
        except (sqlite3.Error, OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise JournalError(f"journal {name} cannot be opened ({exc})") from exc
        if connection is None:
            return None
        journal = cls(connection, name, writable=writable)
        journal.last_index = await journal._run(_last_index, connection)
        journal.departures = await journal._run(_departures, connection)
        return journal

    async def rows(self, start: int, limit: int = _PAGE) -> list[JournalRow]:
        """Up to ``limit`` rows from index ``start`` on, in index order."""
        return await self._run(_select, self._connection, start, limit)

    async def record(self, rows: Sequence[JournalRow]) -> None:
        """Write ``rows`` (replacing any with the same index) in one durable transaction."""
        if rows:
            await self._run(_write, self._connection, rows)

    async def depart(self, rows: Sequence[JournalRow], key_id: str) -> None:
        """Write ``rows`` (the request's items in flight) and note that a request of
        ``key_id`` leaves now, in one durable transaction."""
        await self._run(_write, self._connection, rows, (time.time(), key_id))

    async def aclose(self) -> None:
        """Close the file, releasing the lock; finishes even if the caller is cancelled."""
        with anyio.CancelScope(shield=True):
            await self._run(_close, self._connection)

    async def _run(self, func: Callable[..., _T], *args: Any) -> _T:
        try:
            return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)
        # A damaged file shows as any of these (a flipped bit in a text is a UnicodeError).
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise JournalError(f"journal {self.path} cannot be read ({exc})") from exc

    def __repr__(self) -> str:
        return f"<Journal {self.path!r} last_index={self.last_index}>"


class JournalReader:
    """Walks the journal's rows in index order alongside the input, a page at a time."""

    __slots__ = ("_end", "_journal", "_next", "_page", "_position")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._end = journal.last_index  # rows written by this run lie behind the reader
        self._page: list[JournalRow] = []
        self._position = 0
        self._next = 0

    async def row(self, index: int) -> JournalRow | None:
        """The row of item ``index``, if any; call with 0, 1, 2, ... in turn."""
        if index > self._end:
            return None
        if self._position == len(self._page):
            self._page = await self._journal.rows(index)
            self._position = 0
        row = self._page[self._position] if self._page else None
        if row is None or row.idx != index:
            return None
        self._position += 1
        return row

    def check_end(self, count: int) -> None:
        """Refuse an input of ``count`` items that stops short of rows in the journal.

        Raises:
            JournalMismatchError: The journal records an item at or beyond ``count``.
        """
        if self._end >= count:
            raise JournalMismatchError(
                f"journal {self._journal.path} records item {self._end} but the input has only "
                f"{count} items: the input changed. Use a new journal for a new batch.",
                index=count,
            )


def mismatch(path: str | os.PathLike[str] | None, index: int) -> JournalMismatchError:
    """The error for an item whose fingerprint differs from its journal row."""
    return JournalMismatchError(
        f"journal {path} does not match the input at item {index} (its recipient, "
        "text or sender_id changed since the journal was written). Resume with the same "
        "input, or use a new journal for a new batch.",
        index=index,
    )


def _connect(path: str, writable: bool) -> sqlite3.Connection | None:
    """Open the file, take the exclusive lock (when writable), check that it is a journal,
    and fold into it any write-ahead log a crash left beside it."""
    if os.path.isdir(path):
        raise JournalError(f"journal {path} is a folder: give the path of a file in it")
    if not os.path.exists(path):
        if not writable:
            return None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise JournalError(f"journal {path}: its folder {folder} does not exist")
    elif os.path.isfile(path) and os.path.getsize(path) == 0:
        # SQLite would take it for a new database, and delete a -wal file beside it.
        raise JournalError(_EMPTY.format(path=path))
    connection = _open_file(path, writable)
    try:
        _prepare(connection, path, writable)
    except sqlite3.Error as exc:
        connection.close()
        locked = "locked" in str(exc)
        reason = "is in use by another batch" if locked else f"cannot be used ({exc})"
        raise JournalError(f"journal {path} {reason}") from exc
    except JournalError:
        connection.close()
        raise
    return connection


_EMPTY = (
    "journal {path} is an empty file, not a journal. If a batch was stopped before its "
    "journal was first written back, its rows may be in {path}-wal beside it: keep that "
    "file next to it (never delete or move only one of the two). Otherwise delete the empty file."
)


def _prepare(connection: sqlite3.Connection, path: str, writable: bool) -> None:
    """Lock (when writable), check the file is a journal, create its schema if new, and
    fold in any write-ahead log a crash left."""
    if writable:
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
    if not _is_journal_or_new(connection):
        raise JournalError(f"journal {path} is an SQLite database but not a batch journal")
    if writable:
        # The schema first, in rollback mode: a new journal's file is never left empty.
        connection.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
    schema = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if schema is None or schema[0] != _SCHEMA_VERSION:
        raise JournalError(f"journal {path} has schema {schema}, expected {_SCHEMA_VERSION}")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # self-contained from here


def _open_file(path: str, writable: bool) -> sqlite3.Connection:
    """A connection to ``path``; read-only opens never create the file."""
    if writable:
        return sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    uri = "file:" + path.replace("?", "%3f").replace("#", "%23") + "?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)


def _is_journal_or_new(connection: sqlite3.Connection) -> bool:
    """Whether the database has a journal's tables, or no tables at all (a new journal)."""
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    return not tables or {"meta", "items"} <= tables


def _close(connection: sqlite3.Connection) -> None:
    """Fold the write-ahead log into the file, then close: the file alone is the journal."""
    with contextlib.suppress(sqlite3.Error):  # committed rows are safe in the log regardless
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def _departures(connection: sqlite3.Connection) -> dict[str, list[float]]:
    """Recent departures by key_id (none in a journal from before they were kept)."""
    since = time.time() - _DEPARTURES_KEPT
    try:
        cursor = connection.execute(
            "SELECT key_id, sent_at FROM departures WHERE sent_at > ? ORDER BY sent_at", (since,)
        )
    except sqlite3.OperationalError:  # a read-only look at a journal of an older version
        return {}
    found: dict[str, list[float]] = {}
    for key_id, sent_at in cursor:
        found.setdefault(str(key_id), []).append(float(sent_at))
    return found


def _last_index(connection: sqlite3.Connection) -> int:
    (last,) = connection.execute("SELECT max(idx) FROM items").fetchone()
    return -1 if last is None else int(last)


def _select(connection: sqlite3.Connection, start: int, limit: int) -> list[JournalRow]:
    cursor = connection.execute(
        "SELECT idx, fp, state, normalized, message_id, units, error FROM items "
        "WHERE idx >= ? ORDER BY idx LIMIT ?",
        (start, limit),
    )
    rows = [JournalRow._make(row) for row in cursor]
    for row in rows:
        if row.state not in _STATES or not isinstance(row.fp, bytes):
            raise sqlite3.DatabaseError(
                f"item {row.idx} has an unknown state {row.state!r}: not a journal this "
                "version of texin_async wrote"
            )
    return rows


_STATES = frozenset(ItemState)


def _write(
    connection: sqlite3.Connection,
    rows: Sequence[JournalRow],
    departure: tuple[float, str] | None = None,
) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        if departure is not None:
            connection.execute("INSERT INTO departures VALUES (?, ?)", departure)
            stale = departure[0] - _DEPARTURES_KEPT
            connection.execute("DELETE FROM departures WHERE sent_at < ?", (stale,))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
