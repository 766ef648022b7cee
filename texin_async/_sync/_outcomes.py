"""A sync ``iter_batch``: the async batch's outcomes, handed over a few per trip to the loop.

One trip per outcome would cost a thread hop each (~0.1 ms of CPU): a journal replay or a dry
run of a million items would spend minutes on hops alone. So each trip takes the first
outcome it has to wait for, plus those the batch already holds ready, up to ``_MOST``.
"Ready" is found without ever cancelling a read: the next read runs as a task of its own,
and if it has not finished after a few loop turns it is left running for the next trip. The
batch thus runs ahead of your loop by its own buffer of ``chunk_size`` outcomes (as async),
plus those one trip handed over: at most as many again, and at most ``_MOST``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator

from .._batch import Outcome
from . import _loop
from ._caller import CallerThread

__all__ = ["OutcomeFeed", "iterate"]

#: Most outcomes one trip hands over (and never more than the batch's buffer, chunk_size).
_MOST = 64
#: Loop turns a read of an outcome the batch holds ready takes to finish (two, with slack).
_TURNS = 3


class OutcomeFeed:
    """The loop's side of a sync iter_batch: reads outcomes, hands them over in groups."""

    __slots__ = ("_batch", "_most", "_next")

    def __init__(self, batch: AsyncGenerator[Outcome, None], *, buffer: int) -> None:
        self._batch = batch
        self._most = min(buffer, _MOST)  # never hand over more than the batch's own buffer
        self._next: asyncio.Task[Outcome | None] | None = None

    async def take(self) -> list[Outcome]:
        """The next outcome and any ready after it; empty when the batch is over.

        Raises:
            Exception: The batch's error, once the outcomes before it are handed over.
        """
        taken: list[Outcome] = []
        while len(taken) < self._most:
            if self._next is None:
                self._next = asyncio.create_task(_read(self._batch))
            if taken:
                for _ in range(_TURNS):
                    if self._next.done():
                        break
                    await asyncio.sleep(0)
                if not self._next.done() or self._next.exception() is not None:
                    return taken  # nothing more ready; an error waits for the next trip
            outcome = await self._next  # cancelling this trip cancels the read, and the batch
            self._next = None
            if outcome is None:
                break
            taken.append(outcome)
        return taken

    async def aclose(self) -> None:
        """Stop the batch: cancel a read in progress, then close the generator."""
        if self._next is not None and not self._next.done():
            self._next.cancel()
            await asyncio.wait({self._next})
        await self._batch.aclose()


async def _read(batch: AsyncGenerator[Outcome, None]) -> Outcome | None:
    return await anext(batch, None)


def iterate(feed: OutcomeFeed, caller: CallerThread) -> Generator[Outcome, None, None]:
    """The outcomes of ``feed``, for a ``for`` loop; closing this closes the batch."""
    generation = _loop.generation()
    try:
        while True:
            if generation != _loop.generation():
                raise RuntimeError("this batch was started before a fork, in the parent process")
            taken = _loop.serve(caller, feed.take)
            if not taken:
                return
            yield from taken
    finally:
        if generation == _loop.generation():  # a parent's batch is never touched
            _loop.close_soon(caller, feed.aclose)
