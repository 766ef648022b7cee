"""High-volume batches: coalesce, fan out under the key's budget, one Outcome per item.

The pipeline, one task each step::

    input (sync or async, read lazily) ─► triage ─► planner ─► workers ─► outcomes
            journal rows, in order ──────┘  (look-ahead)  (max_in_flight, via the
                                                            client's send methods)

Triage settles what needs no request (bad rows, items the journal already finished) and
passes the rest to the planner, which groups items by (text, sender id) within a bounded
look-ahead window and cuts each group into bulk requests of distinct numbers. Workers send
through :meth:`TexinClient.send_sms`/:meth:`~TexinClient.send_bulk_sms`, so every request
passes the key's limiter and retry rules, and turn every answer or error into outcomes: one
request's failure never cancels another's. Memory is bounded by the window and the number of
requests in flight, whatever the size of the input. An async input that falls idle for
``LINGER`` has what the window holds sent at once, so a slow source is not held back.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections import Counter
from collections.abc import Collection
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from .._endpoints import SEND_BULK_SMS, SEND_SMS
from .._exceptions import InsufficientBalanceError, TexinError
from .._lane import Ending, Priority
from .._phone import try_normalize_recipient
from .._ratelimit import ending_of
from .._units import count_units
from ._input import (
    LINGER,
    BatchItems,
    Message,
    NextPair,
    Signal,
    as_message,
    enumerate_items,
    pairs_of,
)
from ._journal import (
    ItemState,
    Journal,
    JournalReader,
    JournalRow,
    fingerprint,
    mismatch,
    replayed,
    row_of,
)
from ._options import BatchOptions
from ._outcome import (
    NOT_AN_ITEM,
    Outcome,
    OutcomeStatus,
    bulk_outcomes,
    local_error,
    outcome_of,
    sent_outcome,
    short,
    status_for,
)
from ._plan import Chunk, Item, Planner
from ._progress import BatchProgress

if TYPE_CHECKING:
    from .._client import TexinClient

__all__ = ["Engine"]

logger = logging.getLogger("texin_async")

_RECORD_BATCH = 1000  # journal rows of locally settled items gathered into one transaction
_PLAN_EVERY = 0.5  # seconds between two asks of the limiter (a 1 s pause always shows)


class Settled(NamedTuple):
    """An outcome that needed no request, and the journal row to write for it, if news."""

    outcome: Outcome
    resumed: bool
    record: JournalRow | None


class Engine:
    """One batch run: triage, planning and workers around one client."""

    def __init__(
        self,
        client: TexinClient,
        items: BatchItems,
        options: BatchOptions,
        sink: ObjectSendStream[Outcome] | None = None,
    ) -> None:
        self.client, self.items, self.options, self.sink = client, items, options, sink
        self.progress = options.progress if options.progress is not None else BatchProgress()
        self.journal: Journal | None = None
        self.error: Exception | None = None
        self._planner = Planner(options.chunk_size, options.window)
        # The keys the batch sends for (items' own clients, by key_id), for its ETA.
        self._clients: dict[str, TexinClient] = {client.key_id: client}
        self._records: list[JournalRow] = []
        self._balance_checked = not options.check_balance
        self._cancel = anyio.CancelScope()  # everything, sends in flight included
        self._stop_feeding = anyio.CancelScope()  # no new requests; those in flight end

    async def run(self) -> None:
        """Run the batch to its end; keeps the first error in ``self.error``, never raises it."""
        options = self.options
        total = len(self.items) if isinstance(self.items, Collection) else None
        self.progress.start(
            total=total, dry_run=options.dry_run, cost_per_unit=options.cost_per_unit
        )
        try:
            if options.journal is not None:
                self.journal = await Journal.open(options.journal, writable=not options.dry_run)
                await self._remember_departures()
            if isinstance(self.items, Collection) and (
                not self._balance_checked or (self.journal and self.journal.last_index >= 0)
            ):
                await self._preflight()  # a re-iterable input: check it all before sending
            await self._fan_out()
        except Exception as exc:
            self.error = self.error or exc
        finally:
            self.progress.finish()
            if self.journal is not None:
                await self.journal.aclose()

    async def _remember_departures(self) -> None:
        """Count the requests an earlier run of this journal sent in the last minutes: the
        server still does, and a run restarted at once must not burst into 429s."""
        if self.journal is None or self.options.dry_run:
            return
        limiter = self.client._limiter
        for key_id, sent_at in self.journal.departures.items():
            await limiter.remember(key_id, sent_at)

    async def _fan_out(self) -> None:
        """The feeder and ``max_in_flight`` workers, joined by an unbuffered channel, with
        the ETA refreshed from the key's limiter beside them."""
        send, receive = anyio.create_memory_object_stream[Chunk](0)
        with self._cancel:
            async with anyio.create_task_group() as planning:
                planning.start_soon(self._keep_planning)
                async with anyio.create_task_group() as tg:
                    for _ in range(self.options.max_in_flight):
                        tg.start_soon(self._work, receive.clone())
                    receive.close()
                    tg.start_soon(self._feed, send)
                planning.cancel_scope.cancel()

    async def _keep_planning(self) -> None:
        """Ask the keys' limiters twice a second how long the requests left will take (spread
        evenly over the batch's keys, each with its own budget: the slowest decides)."""
        progress, priority = self.progress, self.options.priority
        while True:
            left = progress.requests_left()
            if left is not None:
                share = math.ceil(left / len(self._clients))
                plans = [
                    await client._limiter.plan(client.key_id, share, priority)
                    for client in list(self._clients.values())
                ]
                slowest = max(plans)
                progress.plan(slowest.seconds, max(plan.paused_for for plan in plans))
            await anyio.sleep(_PLAN_EVERY)

    # -- triage ----------------------------------------------------------------------------

    def _triage(self, index: int, raw: object, row: JournalRow | None) -> Item | Settled:
        """An item to send, or the outcome of one that needs no request."""
        message = as_message(raw)
        fp = self._fingerprint(index, raw, message)
        ref = index if message is None or message.ref is None else message.ref
        recipient = raw if message is None else message.recipient
        if row is not None:
            if row.fp != fp:
                raise mismatch(self.options.journal, index)
            if not self._resend(row.state):
                outcome = replayed(row, ref, recipient)
                news = row_of(outcome, fp) if row.state == ItemState.IN_FLIGHT else None
                return Settled(outcome, True, news)
        if message is None:
            return _invalid(index, ref, raw, None, NOT_AN_ITEM, fp)
        client = self._client_of(message)
        normalized = try_normalize_recipient(recipient)
        error = "not a valid mobile number" if normalized is None else local_error(message)
        if client is None:
            error = "client must be a TexinClient (a view from client.for_key(key))"
        if normalized is None or error is not None or client is None:
            return _invalid(index, ref, recipient, normalized, error, fp)
        sender_id = message.sender_id if message.sender_id is not None else client.sender_id
        return Item(index, ref, recipient, normalized, message.text, sender_id, fp, client)

    def _client_of(self, message: Message) -> TexinClient | None:
        """The client an item goes out with: its own (another key's), else the batch's."""
        given = message.client
        if given is None:
            return self.client
        given = getattr(given, "_texin_async", given)  # a SyncTexinClient's async core
        if not isinstance(given, type(self.client)):
            return None
        self._clients.setdefault(given.key_id, given)
        return given

    def _fingerprint(self, index: int, raw: object, message: Message | None) -> bytes:
        """The item's journal fingerprint; empty without a journal. An item for another
        key includes its key_id: a run that sends it for a different account differs."""
        if self.journal is None:
            return b""
        if message is None:
            return fingerprint(index, raw, None, None)
        sender: object = message.sender_id
        if message.client is not None:
            sender = (sender, getattr(message.client, "key_id", None))
        return fingerprint(index, message.recipient, message.text, sender)

    def _resend(self, state: int) -> bool:
        """Whether an item the journal records in ``state`` goes out again this run."""
        if state in (ItemState.IN_FLIGHT, ItemState.UNKNOWN):
            return self.options.resend_unknown
        if state == ItemState.FAILED:
            return self.options.retry_failed
        return state == ItemState.NOT_SENT  # never left: as if never tried

    async def _preflight(self) -> None:
        """Walk a re-iterable input once before sending: journal match and units needed."""
        reader = JournalReader(self.journal) if self.journal else None
        units: Counter[TexinClient] = Counter()
        count = 0
        async with aclosing(enumerate_items(self.items)) as numbered:
            async for index, raw in numbered:
                row = await reader.row(index) if reader else None
                decided = self._triage(index, raw, row)
                if isinstance(decided, Item):
                    units[decided.client] += count_units(decided.text)
                count = index + 1
        if reader:
            reader.check_end(count)
        if not self._balance_checked:
            await self._check_balances(units)

    async def _check_balances(self, units: Counter[TexinClient]) -> None:
        """Refuse to start if any key's balance cannot cover its units."""
        self._balance_checked = True
        for client, needed in units.items():
            await self._check_balance(client, needed)

    async def _check_balance(self, client: TexinClient, units: int) -> None:
        # One interactive request, from the reserve: it never pushes the campaign's sends
        # into another window.
        balance = (await client.get_balance(priority=Priority.INTERACTIVE)).sms_balance
        cost = units * self.options.cost_per_unit
        if balance is None:
            raise InsufficientBalanceError(
                f"the batch needs {units} SMS units (KES {cost:.2f}) but the API's answer held "
                "no usable balance, so it cannot be checked; nothing was sent",
                needed_units=units,
                balance=None,
            )
        if units > balance:
            raise InsufficientBalanceError(
                f"the batch needs {units} SMS units (KES {cost:.2f}) but the balance is "
                f"{balance} credits; nothing was sent",
                needed_units=units,
                balance=balance,
            )

    # -- feeding ---------------------------------------------------------------------------

    async def _feed(self, chunks: ObjectSendStream[Chunk]) -> None:
        """Read, triage and plan every item; on error stop feeding, let sends in flight end."""
        async with chunks:
            try:
                with self._stop_feeding:
                    async with pairs_of(self.items) as next_pair:
                        await self._read_all(chunks, next_pair)
            except anyio.BrokenResourceError:
                self._cancel.cancel()  # the consumer of iter_batch went away
            except Exception as exc:
                self.error = self.error or exc

    async def _read_all(self, chunks: ObjectSendStream[Chunk], next_pair: NextPair) -> None:
        """Triage each item in input order, keep the window full, then drain it.

        When the input is idle for ``LINGER`` (a slow async source), what the window holds
        goes out at once rather than wait for items that may be long in coming; an input
        that is never idle that long is coalesced in full.
        """
        planner = self._planner
        reader = JournalReader(self.journal) if self.journal else None
        count = 0
        while (pair := await next_pair(LINGER if planner.size else None)) is not Signal.END:
            if pair is Signal.IDLE:
                await self._drain(chunks)
                continue
            index, raw = pair
            count = index + 1
            row = await reader.row(index) if reader else None
            decided = self._triage(index, raw, row)
            if isinstance(decided, Settled):
                await self._settle_local(decided)
                continue
            planner.add(decided)
            while planner.size >= planner.window:
                await self._dispatch(planner.pop(), chunks)
        if reader:
            reader.check_end(count)
        await self._drain(chunks)
        if self._records and self.journal and self.journal.writable:
            await self.journal.record(self._records)
            self._records = []

    async def _settle_local(self, settled: Settled) -> None:
        """Report an outcome settled without a request; journal it if it is news."""
        journal = self.journal
        if journal is not None and journal.writable and settled.record is not None:
            self._records.append(settled.record)
            if len(self._records) >= _RECORD_BATCH:
                records, self._records = self._records, []
                await journal.record(records)
        await self._emit(settled.outcome, resumed=settled.resumed, local=True)

    async def _drain(self, chunks: ObjectSendStream[Chunk]) -> None:
        """Send everything the planner holds."""
        while self._planner.size:
            await self._dispatch(self._planner.pop(), chunks)

    async def _dispatch(self, chunk: Chunk, chunks: ObjectSendStream[Chunk]) -> None:
        """Hand ``chunk`` to a free worker (waiting for one), local journal rows with it."""
        if not self._balance_checked:  # a one-shot input: check what the window holds
            units = self._planner.pending_units()
            units[chunk.client] += count_units(chunk.text) * len(chunk.items)
            await self._check_balances(units)
        chunk.records, self._records = self._records, []
        await chunks.send(chunk)

    # -- sending ---------------------------------------------------------------------------

    async def _work(self, chunks: ObjectReceiveStream[Chunk]) -> None:
        """Send chunks until the feeder is done; an error here stops the batch.

        It stops the feeder only: other workers finish and journal the requests they have
        sent, so an answered item is never left in flight (a rerun would call it UNKNOWN).
        """
        try:
            async with chunks:
                async for chunk in chunks:
                    for outcome in await self._run_chunk(chunk):
                        await self._emit(outcome)
        except anyio.BrokenResourceError:
            self._cancel.cancel()  # the consumer of iter_batch went away
        except Exception as exc:
            self.error = self.error or exc
            self._stop_feeding.cancel()

    async def _run_chunk(self, chunk: Chunk) -> list[Outcome]:
        """Send the chunk, journaled in flight as it departs; record the answer."""
        progress = self.progress
        progress.dispatch(len(chunk.items))
        if self.options.dry_run:
            progress.settle(departed=False)
            units = count_units(chunk.text)
            return [outcome_of(item, OutcomeStatus.PLANNED, units=units) for item in chunk.items]
        departure = _Departure(chunk, self.journal, progress)
        try:
            outcomes, ending = await self._send(chunk, departure)
        finally:
            progress.settle(departed=departure.left)
        if self.journal is not None:
            not_sent = ending is Ending.NOT_SENT
            with anyio.CancelScope(shield=True):  # an answer in hand is always recorded
                fps = [item.fp for item in chunk.items]
                pairs = zip(outcomes, fps, strict=True)
                rows = [row_of(outcome, fp, not_sent=not_sent) for outcome, fp in pairs]
                # chunk.records again (an upsert): the departure may never have come.
                await self.journal.record([*chunk.records, *rows])
        return outcomes

    async def _send(self, chunk: Chunk, departure: _Departure) -> tuple[list[Outcome], Ending]:
        """One request for the chunk; every error becomes the items' outcomes.

        Also says how the request ended: a NOT_SENT one never left or never reached the
        API, so the journal lets a re-run send its items again.
        """
        items, client, estimate = chunk.items, chunk.client, count_units(chunk.text)
        priority = self.options.priority
        try:
            if len(items) == 1:
                payload = client._sms_payload(items[0].normalized, chunk.text, chunk.sender_id)
                result = await client._request(
                    SEND_SMS, payload, priority=priority, departure=departure
                )
                return [sent_outcome(items[0], result, estimate)], Ending.ANSWERED
            numbers = [item.normalized for item in items]
            payload = client._bulk_payload(numbers, chunk.text, chunk.sender_id)
            bulk = await client._request(
                SEND_BULK_SMS, payload, priority=priority, departure=departure
            )
        except Exception as exc:
            if not isinstance(exc, TexinError):
                logger.exception("texin batch: unexpected error from a send")
            status = status_for(exc)
            return [outcome_of(item, status, error=short(exc)) for item in items], ending_of(exc)
        return bulk_outcomes(items, bulk, estimate), Ending.ANSWERED

    async def _emit(self, outcome: Outcome, *, resumed: bool = False, local: bool = False) -> None:
        """Count one settled outcome, then tell the callback and the iter_batch consumer."""
        self.progress.add(outcome, resumed=resumed, local=local)
        if self.options.on_outcome is not None:
            result = self.options.on_outcome(outcome)
            if inspect.isawaitable(result):
                await result
        if self.sink is not None:
            await self.sink.send(outcome)


class _Departure:
    """The step run as a chunk's request leaves (on each attempt): its items are journaled
    in flight, and progress counts the request in flight rather than waiting.

    Only then: items still waiting for the key's budget at a crash have no row, so the next
    run simply sends them. A failed write stops the request: nothing was sent.
    """

    __slots__ = ("_key_id", "_progress", "_rows", "journal", "left")

    def __init__(self, chunk: Chunk, journal: Journal | None, progress: BatchProgress) -> None:
        self.journal, self._progress, self.left = journal, progress, False
        self._key_id = chunk.client.key_id
        in_flight = [
            JournalRow(item.index, item.fp, ItemState.IN_FLIGHT, item.normalized)
            for item in chunk.items
        ]
        self._rows = [*chunk.records, *in_flight] if journal is not None else []

    async def __call__(self) -> None:
        if self.journal is not None:
            await self.journal.depart(self._rows, self._key_id)
        if not self.left:
            self.left = True
            self._progress.depart()


def _invalid(
    index: int, ref: Any, recipient: Any, normalized: str | None, error: str | None, fp: bytes
) -> Settled:
    outcome = Outcome(
        index=index,
        ref=ref,
        recipient=recipient,
        normalized=normalized,
        status=OutcomeStatus.INVALID,
        error=error,
    )
    return Settled(outcome, False, row_of(outcome, fp))
