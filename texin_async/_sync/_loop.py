"""The one background event loop per process that every SyncTexinClient runs on.

anyio's :func:`~anyio.from_thread.start_blocking_portal` owns the loop and its daemon thread:
started on first use, shared by every sync client, so all of a key's clients draw on one
rate-limit budget and each keeps one connection pool. A blocking call hands the async
client's coroutine to that loop and waits for its result:

- in one round trip (``asyncio.run_coroutine_threadsafe`` on the portal's loop), not the
  two of ``portal.call`` (which waits for its task to be spawned, then for its result): on
  the project's machine the second costs ~0.15 ms more CPU per call, ``send_sms`` through
  the sync client at 1.25-1.4x the async client's CPU on httpx and ~2x on aiohttp, against
  1.16x and 1.5x in one (benchmarks/bench_sync.py);
- if the waiting thread is interrupted (Ctrl-C), the coroutine is cancelled and waited for,
  so its rate-limit slot and connection are given back before ``KeyboardInterrupt`` goes on;
- never from inside a running event loop, where blocking would stall every task of it.

After ``fork`` the child has no loop thread: an at-fork hook drops the parent's loop and
the clients built on it (kept referenced, never run or finalised), and the child starts its
own on first use. At interpreter exit the open clients are closed and the loop stopped, each
step bounded in time.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .._eventloop import running_event_loop
from .._exceptions import InvalidRequestError
from ._caller import CallerThread

__all__ = [
    "Closable",
    "adopt",
    "call",
    "close_later",
    "close_soon",
    "generation",
    "refuse_inside_event_loop",
    "run_sync",
    "serve",
]

_T = TypeVar("_T")
#: Seconds to wait for a cancelled call to let go of its slot and connection.
_SETTLE = 5.0
#: Seconds each step of the shutdown at interpreter exit may take.
_EXIT_STEP = 5.0


class Closable(Protocol):
    """An async client the loop closes at interpreter exit."""

    def aclose(self) -> Coroutine[Any, Any, None]: ...


class _Runtime:
    """One started portal, held open by a thread of its own until :meth:`stop`.

    The portal's context manager is entered and exited on that thread, so a loop that
    will not stop can delay interpreter exit by ``_EXIT_STEP`` at most (no thread can be
    started at exit to do it then).
    """

    __slots__ = ("_error", "_owner", "_portal", "_ready", "_stop", "loop")

    def __init__(self) -> None:
        self._ready, self._stop = threading.Event(), threading.Event()
        self._error: BaseException | None = None
        self._portal: BlockingPortal | None = None
        self._owner = threading.Thread(target=self._hold, name="texin-sync-portal", daemon=True)
        self._owner.start()
        self._ready.wait()
        self.loop: asyncio.AbstractEventLoop = self.portal.call(asyncio.get_running_loop)

    @property
    def portal(self) -> BlockingPortal:
        """The portal to the loop.

        Raises:
            RuntimeError: The loop did not start.
        """
        if self._portal is None:
            raise RuntimeError("texin_async's background event loop did not start") from (
                self._error
            )
        return self._portal

    def _hold(self) -> None:
        """The owner thread: open the portal, and close it when told to stop."""
        try:
            with start_blocking_portal(name="texin-sync-loop") as portal:
                self._portal = portal
                self._ready.set()
                self._stop.wait()
        except BaseException as exc:  # handed to the thread that started the loop
            self._error = exc
        finally:
            self._ready.set()

    def stop(self) -> None:
        """Stop the loop, cancelling what still runs on it; wait ``_EXIT_STEP`` at most."""
        self._stop.set()
        self._owner.join(_EXIT_STEP)


_lock = threading.Lock()
_runtime: _Runtime | None = None
_generation = 0
_hooks_installed = False
# Async clients of this process's loop, closed at interpreter exit.
_closables: weakref.WeakSet[Closable] = weakref.WeakSet()
# What a fork left behind: the parent's loop and clients, kept alive and never touched.
_orphans: list[object] = []


def generation() -> int:
    """Which loop this process is on; it changes in a forked child."""
    return _generation


def _current() -> _Runtime:
    """The running loop, started on first use."""
    global _runtime, _hooks_installed
    runtime = _runtime
    if runtime is not None:
        return runtime
    with _lock:
        if _runtime is None:
            if not _hooks_installed:
                os.register_at_fork(after_in_child=_after_fork_in_child)
                atexit.register(_shutdown)
                _hooks_installed = True
            _runtime = _Runtime()
        return _runtime


def adopt(client: Closable) -> None:
    """Close ``client`` at interpreter exit if it is still open then."""
    _closables.add(client)


def close_later(client: Closable, generation: int) -> None:
    """Close ``client`` on the loop without waiting: its owner was dropped unclosed."""
    runtime = _runtime
    if runtime is None or generation != _generation:
        return  # the loop is gone, or it is the parent's (after a fork)
    closing = client.aclose()
    try:
        asyncio.run_coroutine_threadsafe(closing, runtime.loop)
    except RuntimeError:  # the loop closed meanwhile
        closing.close()


@overload
def run_sync(fn: Callable[..., Awaitable[_T]], *args: Any) -> _T: ...
@overload
def run_sync(fn: Callable[..., _T], *args: Any) -> _T: ...
def run_sync(fn: Callable[..., Any], *args: Any) -> Any:
    """Run something short on the loop's thread, from any other (made there, anyio objects
    belong to the loop): a function, or a coroutine function awaited to its end."""
    return _current().portal.call(fn, *args)


def call(fn: Callable[..., Coroutine[Any, Any, _T]], *args: Any, **kwargs: Any) -> _T:
    """Run ``fn(*args, **kwargs)`` on the loop and block until it ends.

    Raises:
        InvalidRequestError: Called from inside a running event loop.
        KeyboardInterrupt: Interrupted; the call was cancelled and has let go of its slot.
    """
    return serve(None, fn, *args, **kwargs)


def serve(
    caller: CallerThread | None,
    fn: Callable[..., Coroutine[Any, Any, _T]],
    *args: Any,
    **kwargs: Any,
) -> _T:
    """Like :func:`call`, meanwhile running ``caller``'s work (a batch's input and callback)."""
    refuse_inside_event_loop()
    runtime = _current()
    finished = threading.Event()
    future = asyncio.run_coroutine_threadsafe(_tracked(fn(*args, **kwargs), finished), runtime.loop)
    try:
        return future.result() if caller is None else caller.serve_until(future)
    except BaseException:
        # Interrupted (KeyboardInterrupt, or SystemExit from a signal handler) while the
        # call runs: cancel it and let its cleanup run before the interrupt goes on.
        if future.cancel():
            finished.wait(_SETTLE)
        raise


def close_soon(caller: CallerThread, close: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``close()`` on the loop and wait for it; inside an event loop, in the background
    (a thread that runs a loop must not block on ours)."""
    try:
        refuse_inside_event_loop()
    except InvalidRequestError:
        asyncio.run_coroutine_threadsafe(close(), _current().loop)
        return
    serve(caller, close)


async def _tracked(work: Coroutine[Any, Any, _T], finished: threading.Event) -> _T:
    try:
        return await work
    finally:
        finished.set()


def refuse_inside_event_loop() -> None:
    """Refuse a blocking call from a thread that runs an event loop.

    Raises:
        InvalidRequestError: This thread runs an event loop, asyncio's or trio's (the call
            is inside an async def).
    """
    if running_event_loop() is None:
        return
    raise InvalidRequestError(
        "SyncTexinClient blocks until the API answers, so it cannot be called from a running "
        "event loop (inside an async def it would stall every other task): use TexinClient "
        "and await its methods there, or run this call in a worker thread "
        "(anyio.to_thread.run_sync, loop.run_in_executor)"
    )


def _after_fork_in_child() -> None:
    """In a forked child: forget the parent's loop, which no thread runs here any more."""
    global _runtime, _lock, _generation, _closables
    _orphans.append((_runtime, list(_closables)))  # never stopped, closed or finalised
    _runtime = None
    _lock = threading.Lock()
    _closables = weakref.WeakSet()
    _generation += 1


def _shutdown() -> None:
    """At interpreter exit: close the clients left open, then stop the loop; bounded."""
    global _runtime
    runtime, _runtime = _runtime, None
    if runtime is None:
        return
    clients = list(_closables)
    if clients:
        closing = asyncio.run_coroutine_threadsafe(_close_all(clients), runtime.loop)
        concurrent.futures.wait([closing], _EXIT_STEP)
    runtime.stop()


async def _close_all(clients: list[Closable]) -> None:
    for client in clients:
        try:
            await client.aclose()
        except Exception:  # noqa: S112  (exiting: one failed close must not stop the rest)
            continue
