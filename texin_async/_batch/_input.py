"""A batch's input: Messages or (recipient, text) pairs from a sync or async iterable, read lazily.

An async input is read in a task of its own, a little ahead of the planner, so that an idle
source can be noticed (``IDLE``) and what the planner holds sent instead of waiting.
"""

from __future__ import annotations

import enum
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from functools import partial
from typing import Any, Union

import anyio
import msgspec
from anyio.lowlevel import checkpoint
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = [
    "BatchItems",
    "NextPair",
    "Pair",
    "Signal",
    "as_message",
    "LINGER",
    "Message",
    "enumerate_items",
    "pairs_of",
]


class Message(msgspec.Struct, frozen=True):
    """One SMS to send in a batch: a number, a text, and your own reference for it.

    ``ref`` comes back on the item's :class:`Outcome`; it defaults to the item's index.
    ``client`` sends it for another account: a view from ``client.for_key(key)`` (of the
    batch's client), so that one campaign for many accounts coalesces and paces per key,
    with one report; None sends it with the batch's own client.
    """

    recipient: str
    text: str
    sender_id: str | None = None
    ref: Any = None
    client: Any = None


def as_message(raw: object) -> Message | None:
    """The item as a Message, or None if it is neither a Message nor a 2-tuple."""
    if isinstance(raw, Message):
        return raw
    if isinstance(raw, tuple) and len(raw) == 2:
        return Message(raw[0], raw[1])
    return None


#: What a batch accepts: Messages or (recipient, text) pairs, from a sync or async iterable.
BatchItems = Union[  # noqa: UP007  (a runtime alias: "|" between generics needs 3.10+)
    Iterable["Message | tuple[str, str]"], AsyncIterable["Message | tuple[str, str]"]
]

_CHECKPOINT_EVERY = 512  # items read between yields to the event loop
#: Seconds an async input may be idle before the planner sends what it holds.
LINGER = 0.05
_READ_AHEAD = 64  # items of an async input read ahead of the planner


class Signal(enum.Enum):
    """What the input gives the feeder instead of an item."""

    IDLE = enum.auto()  # no item came within the linger
    END = enum.auto()  # no items left


Pair = tuple[int, object]
NextPair = Callable[[float | None], Awaitable[Pair | Signal]]


async def enumerate_items(
    items: Iterable[object] | AsyncIterable[object],
) -> AsyncGenerator[tuple[int, object], None]:
    """``(index, item)`` from a sync or async iterable, yielding to the loop now and then."""
    if isinstance(items, AsyncIterable):
        index = 0
        async for raw in items:
            if not index % _CHECKPOINT_EVERY:
                await checkpoint()
            yield index, raw
            index += 1
    else:
        for index, raw in enumerate(items):
            if not index % _CHECKPOINT_EVERY:
                await checkpoint()
            yield index, raw


async def _next_ready(numbered: AsyncIterator[Pair], linger: float | None) -> Pair | Signal:
    """A sync input's next pair: always ready, so never idle."""
    return await anext(numbered, Signal.END)


async def _next_arrival(
    pairs: MemoryObjectReceiveStream[Pair], failed: list[Exception], linger: float | None
) -> Pair | Signal:
    """An async input's next pair, IDLE if none comes within ``linger`` (None: wait)."""
    try:
        return pairs.receive_nowait()  # no cancel scope, no loop round while items flow
    except anyio.WouldBlock:
        pass
    except anyio.EndOfStream:
        return _end(failed)
    with anyio.move_on_after(linger):
        try:
            return await pairs.receive()
        except anyio.EndOfStream:
            return _end(failed)
    return Signal.IDLE


def _end(failed: list[Exception]) -> Signal:
    """END of an async input, or the error that ended it, raised in the feeder."""
    if failed:
        raise failed[0]
    return Signal.END


async def _read_into(
    items: AsyncIterable[object], pairs: MemoryObjectSendStream[Pair], failed: list[Exception]
) -> None:
    """Read an async input into ``pairs``; an error of the input is kept for the feeder."""
    async with pairs:
        try:
            async with aclosing(enumerate_items(items)) as numbered:
                async for pair in numbered:
                    try:
                        pairs.send_nowait(pair)  # no loop round per item while there is room
                    except anyio.WouldBlock:
                        await pairs.send(pair)
        except Exception as exc:
            failed.append(exc)


def pairs_of(items: BatchItems) -> AbstractAsyncContextManager[NextPair]:
    """``next_pair(linger)`` over ``items``, for the length of the block."""
    return _arrivals(items) if isinstance(items, AsyncIterable) else _ready(items)


@asynccontextmanager
async def _ready(items: Iterable[object]) -> AsyncIterator[NextPair]:
    async with aclosing(enumerate_items(items)) as numbered:
        yield partial(_next_ready, numbered)


@asynccontextmanager
async def _arrivals(items: AsyncIterable[object]) -> AsyncIterator[NextPair]:
    """Read an async input in a task of its own, so that an idle input can be noticed."""
    send, receive = anyio.create_memory_object_stream[Pair](_READ_AHEAD)
    failed: list[Exception] = []
    error = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_read_into, items, send, failed)
        try:
            with receive:
                yield partial(_next_arrival, receive, failed)
        except Exception as exc:  # raised below, outside the group: not wrapped in one
            error = exc
        tg.cancel_scope.cancel()
    if error is not None:
        raise error
