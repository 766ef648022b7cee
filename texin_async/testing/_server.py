"""Serve an emulator over real HTTP with uvicorn: in the running loop, or on its own thread.

uvicorn (the ``testing`` extra) is imported only here and only when serving, so the
emulator itself and the pytest plugin import without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import anyio

from .._eventloop import running_event_loop

if TYPE_CHECKING:
    import uvicorn

    from ._emulator import TexinEmulator

__all__ = ["serve", "serve_in_thread"]

_Path = str | os.PathLike[str]
# Seconds uvicorn waits for in-flight requests (a SLOW_AFTER answer) when stopping.
_GRACEFUL_SHUTDOWN = 1


@contextlib.asynccontextmanager
async def serve(
    emulator: TexinEmulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_cert: _Path | None = None,
    tls_key: _Path | None = None,
) -> AsyncIterator[str]:
    """Serve ``emulator`` with uvicorn in the running asyncio loop; yield its base URL.

    uvicorn runs on asyncio only: under trio the server runs on a thread of its own, as
    :func:`serve_in_thread`'s does. Port 0 picks a free port. With ``tls_cert`` (and
    ``tls_key``, unless the cert file holds the key too) it serves HTTPS. Leaving the block
    stops the server and waits for it.

    Example::

        async with serve(TexinEmulator()) as base_url:  # "http://127.0.0.1:PORT/api/"
            response = await client.post(base_url + "get_balance", json={"api_key": key})
    """
    if running_event_loop() == "trio":
        served = serve_in_thread(emulator, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key)
        url = await anyio.to_thread.run_sync(served.__enter__)
        try:
            yield url
        finally:
            await anyio.to_thread.run_sync(served.__exit__, None, None, None)
        return
    sock = _bind(host, port)
    try:
        server = _uvicorn_server(emulator, tls_cert, tls_key)
    except BaseException:
        sock.close()
        raise
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _started(server, task)
        yield _base_url(sock, tls=tls_cert is not None)
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True):
            await task
        sock.close()


@contextlib.contextmanager
def serve_in_thread(
    emulator: TexinEmulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_cert: _Path | None = None,
    tls_key: _Path | None = None,
) -> Iterator[str]:
    """Like :func:`serve`, on a thread with its own event loop: for sync code and fixtures.

    Example::

        with serve_in_thread(TexinEmulator()) as base_url:
            httpx.post(base_url + "get_balance", json={"api_key": DEFAULT_API_KEY})
    """
    serving = functools.partial(
        serve, emulator, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key
    )
    thread = _ServerThread(serving)
    url = thread.start_serving()
    try:
        yield url
    finally:
        thread.stop()


class _ServerThread(threading.Thread):
    """Runs ``serve`` in a new event loop until told to stop; errors reach the caller."""

    def __init__(self, serving: Callable[[], AbstractAsyncContextManager[str]]) -> None:
        super().__init__(name="texin-emulator", daemon=True)
        self._serving = serving
        self._ready = threading.Event()
        self._url = ""
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None

    def start_serving(self) -> str:
        """Start the thread, wait until the server listens, and return its base URL."""
        self.start()
        self._ready.wait()
        if self._error is not None:
            self.join()
            raise self._error
        return self._url

    def stop(self) -> None:
        """Stop the server, wait for the thread, and raise any error it ended with."""
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self.join()
        if self._error is not None:
            raise self._error

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # Handed to the caller's thread.
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        async with self._serving() as url:
            self._url = url
            self._ready.set()
            await self._stop_event.wait()


def _uvicorn_server(
    emulator: TexinEmulator, tls_cert: _Path | None, tls_key: _Path | None
) -> uvicorn.Server:
    import uvicorn

    class QuietServer(uvicorn.Server):
        # The caller owns the process's signals; uvicorn would take SIGINT for itself.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        emulator,
        interface="asgi3",
        http="h11",  # Its cycle's transport is how DROP faults abort a connection.
        ws="none",
        lifespan="off",
        log_config=None,
        access_log=False,  # Never a log line per request, let alone one with a key.
        server_header=False,
        proxy_headers=False,  # scope["client"] must be the real peer: it counts connections.
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
    )
    config.load()  # Here, so a bad certificate raises in the caller, not in the task.
    return QuietServer(config)


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Wait until ``server`` listens; raise if it stopped instead."""
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the emulator's server stopped before it started")
        await asyncio.sleep(0.005)


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _base_url(sock: socket.socket, *, tls: bool) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # Listening everywhere: loopback reaches it.  # noqa: S104
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}/api/"
