"""Your code runs in your thread: a batch's input and callback, called back from the loop.

A sync batch runs on the background loop, but the items it reads and the ``on_outcome`` it
calls are the caller's code, and belong in the caller's thread: a Django queryset or a
``sqlite3`` cursor refuses any other thread (Django refuses one that runs an event loop), and
a slow generator would stall every client on the shared loop. So while the caller's thread
waits for a batch, it runs the work the loop posts to it, as asgiref's
``CurrentThreadExecutor`` does for ``async_to_sync``.

Lists and tuples are read on the loop: they hold the items already, run none of your code,
and keep what a batch does with a whole input (its size for the ETA, the balance check of
every item). Any other iterable is read in the caller's thread, ``_CHUNK`` items per trip.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import queue
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeVar

from .._batch import BatchItems, Outcome

__all__ = ["CallerThread"]

_T = TypeVar("_T")
_Job = tuple["concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...]]
#: Items read per trip to the caller's thread: the batch reads this far ahead of its input
#: buffer (64), far less than what it holds back to coalesce (1,000 by default).
_CHUNK = 64
#: Inputs the loop reads: in memory, async, or refused by the batch (a lone string).
_READ_ON_LOOP = (list, tuple, str, bytes, AsyncIterable)


class CallerThread:
    """Work posted from the loop, run by the thread blocked in one sync call."""

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()

    # -- the caller's side ---------------------------------------------------------------

    def serve_until(self, done: concurrent.futures.Future[_T]) -> _T:
        """Run posted work until ``done`` has a result, then return it (or raise its error)."""
        done.add_done_callback(lambda _: self._jobs.put(None))
        while not done.done():
            job = self._jobs.get()
            if job is not None:
                _run(*job)
        return done.result()

    # -- the loop's side -----------------------------------------------------------------

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` in the caller's thread, and wait for its result."""
        job: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._jobs.put((job, fn, args))
        return await asyncio.wrap_future(job)

    def items(self, items: BatchItems) -> BatchItems:
        """``items`` as the batch should read them: read in the caller's thread, unless in
        memory (a list or tuple), async, or no iterable (which the batch refuses itself)."""
        if isinstance(items, Iterable) and not isinstance(items, _READ_ON_LOOP):
            return self._read(items)
        return items

    async def _read(self, items: Iterable[_T]) -> AsyncIterator[_T]:
        iterator = await self.run(iter, items)
        while True:
            chunk, error = await self.run(_take, iterator)
            for item in chunk:
                yield item
            if error is not None:
                raise error  # after the items read before it, as when read on the loop
            if len(chunk) < _CHUNK:
                return

    def callback(
        self, on_outcome: Callable[[Outcome], object] | None
    ) -> Callable[[Outcome], object] | None:
        """``on_outcome`` called in the caller's thread (an awaitable it returns is awaited)."""
        if on_outcome is None:
            return None

        async def relay(outcome: Outcome) -> None:
            result = await self.run(on_outcome, outcome)
            if inspect.isawaitable(result):
                await result

        return relay


def _take(iterator: Iterator[_T]) -> tuple[list[_T], Exception | None]:
    """The next ``_CHUNK`` items; if the input fails, those before, and its error."""
    chunk: list[_T] = []
    try:
        for item in itertools.islice(iterator, _CHUNK):
            chunk.append(item)
    except Exception as exc:
        return chunk, exc
    return chunk, None


def _run(
    job: concurrent.futures.Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    """Run one posted job; its error goes to the loop, an interrupt also to the caller."""
    if not job.set_running_or_notify_cancel():
        return  # the loop stopped waiting for it
    try:
        job.set_result(fn(*args))
    except Exception as exc:
        job.set_exception(exc)
    except BaseException:
        # A KeyboardInterrupt must not reach the loop's thread: the loop gets a plain
        # error, the caller the interrupt (which cancels the whole call).
        job.set_exception(RuntimeError("interrupted in the calling thread"))
        raise
