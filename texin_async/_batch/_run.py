"""The two ways to run a batch: to its end (``send_batch``), or outcome by outcome
(``iter_batch``, the engine running beside the consumer through a bounded buffer)."""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
)
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from .._exceptions import InvalidRequestError
from ..instrumentation._watch import run_batch
from ._engine import Engine
from ._input import BatchItems, Message
from ._options import BatchOptions
from ._outcome import Outcome
from ._progress import BatchReport

if TYPE_CHECKING:
    from .._client import TexinClient

__all__ = ["iter_batch", "send_batch"]


def _check_items(items: object) -> None:
    """Refuse a lone message where a batch of them belongs, or anything that is not an
    iterable at all, before anything runs."""
    lone = isinstance(items, str | bytes | Message) or (
        isinstance(items, tuple) and len(items) == 2 and all(isinstance(i, str) for i in items)
    )
    if lone:
        raise InvalidRequestError(
            "items must be an iterable of Message or (recipient, text) pairs, not a single "
            f"{type(items).__name__}; for one message use send_sms"
        )
    if not isinstance(items, Iterable | AsyncIterable):
        raise InvalidRequestError(
            "items must be an iterable (or async iterable) of Message or (recipient, text) "
            f"pairs, got {type(items).__name__}"
        )


async def send_batch(client: TexinClient, items: BatchItems, options: BatchOptions) -> BatchReport:
    """Run a batch to its end and return its report; see :meth:`TexinClient.send_batch`."""
    _check_items(items)
    client._check_usable()
    engine = Engine(client, items, options)
    await run_batch(engine)
    if engine.error is not None:
        raise engine.error
    return engine.progress.report()


def iter_batch(
    client: TexinClient, items: BatchItems, options: BatchOptions
) -> AsyncGenerator[Outcome, None]:
    """Yield outcomes as they settle; see :meth:`TexinClient.iter_batch`."""
    _check_items(items)
    client._check_usable()
    return _outcomes_of(Engine(client, items, options))


async def _outcomes_of(engine: Engine) -> AsyncGenerator[Outcome, None]:
    """The engine's outcomes through a bounded buffer, the engine running beside the consumer."""
    send, receive = anyio.create_memory_object_stream[Outcome](engine.options.chunk_size)
    engine.sink = send
    scope = anyio.CancelScope()

    async def drive() -> None:
        with scope:
            async with send:
                await run_batch(engine)

    async with _running(drive, scope), receive:
        async for outcome in receive:
            try:
                yield outcome
            except GeneratorExit:  # closed early: stop the batch, as aclose() expects
                scope.cancel()
                return
    if engine.error is not None:
        raise engine.error


@asynccontextmanager
async def _running(
    drive: Callable[[], Coroutine[Any, Any, None]], scope: anyio.CancelScope
) -> AsyncIterator[None]:
    """Run ``drive`` while the block runs; on leaving, cancel ``scope`` and wait for it.

    On asyncio, ``drive`` gets a task of its own, so no cancel scope spans the consumer's
    loop body: breaking out of ``async for`` without closing the generator cannot cancel
    the consumer, and the finaliser that closes it later may run in any task. Elsewhere a
    task group holds it, and the generator must be closed (``aclosing``) to stop early.
    """
    if not _on_asyncio():
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive)
            yield
        return
    task = asyncio.get_running_loop().create_task(drive())
    try:
        yield
    finally:
        scope.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait({task})
        error = None if task.cancelled() else task.exception()
        if error is not None:  # a BaseException: the engine keeps every Exception itself
            raise error


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
