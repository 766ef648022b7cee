"""A raw HTTP server on 127.0.0.1 that answers as badly as a test asks: the hostile tests' fixture.

Each connection gets one request read in full, then the server's current ``script`` writes
whatever bytes it likes, as slowly as it likes. The server notices when the client hangs up
before the script is done (``hangups``): the proof that a client gave up on an answer and
dropped its connection rather than holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import socket
import struct
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import anyio

#: Writes an answer (or anything else) on the connection, after the request was read.
Script = Callable[[asyncio.StreamWriter], Awaitable[None]]

JSON = "Content-Type: application/json"


def head(status: str = "200 OK", *headers: str) -> bytes:
    """A status line and headers, ending the head: ``head("200 OK", "Content-Length: 2")``."""
    return "\r\n".join([f"HTTP/1.1 {status}", *headers, "", ""]).encode()


def answer(status: str, body: bytes, *headers: str) -> bytes:
    """A whole answer with a true Content-Length."""
    return head(status, f"Content-Length: {len(body)}", *headers) + body


def whole(data: bytes, *, then: str = "close") -> Script:
    """Write ``data`` at once; then ``close``, ``hold`` the connection open, or ``reset`` it."""

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if then == "hold":
            await anyio.sleep_forever()
        elif then == "reset":
            reset(writer)

    return script


def dribble(data: bytes, interval: float) -> Script:
    """Write ``data`` one byte every ``interval`` seconds: each byte well inside a read timeout."""

    async def script(writer: asyncio.StreamWriter) -> None:
        for index in range(len(data)):
            writer.write(data[index : index + 1])
            await writer.drain()
            await anyio.sleep(interval)

    return script


def forever(start: bytes, chunk: bytes, *, interval: float = 0.0) -> Script:
    """Write ``start``, then ``chunk`` over and over until the client hangs up."""

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(start)
        for _ in itertools.count():
            writer.write(chunk)
            await writer.drain()
            await anyio.sleep(interval)

    return script


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP RST rather than a clean close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class HostileServer:
    """The server: its ``script``, the requests it read, and how often a client hung up."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.hangups = 0
        #: Set once a client hung up before a script was done.
        self.hung_up = anyio.Event()
        self.open = 0
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The base URL to give a TexinClient."""
        return f"http://127.0.0.1:{self.port}/api/"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read one request, run the script; notice a client hanging up before it ends."""
        self.open += 1
        self.writers.add(writer)
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                self.requests.append(await _read_request(reader))
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._watch, reader, tg.cancel_scope)
                    await self._answer(writer)
                    tg.cancel_scope.cancel()
        finally:
            self.open -= 1
            self.writers.discard(writer)
            writer.close()  # what was written is sent, then FIN (a script resets on purpose)

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        try:
            await self.script(writer)
        except OSError:  # the client hung up while the script was writing
            self._hangup()

    async def _watch(self, reader: asyncio.StreamReader, scope: anyio.CancelScope) -> None:
        """Wait for the client to hang up, then stop the script."""
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass
        self._hangup()
        scope.cancel()

    def _hangup(self) -> None:
        self.hangups += 1
        self.hung_up.set()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    return head + await reader.readexactly(int(length[1]) if length else 0)


@contextlib.asynccontextmanager
async def hostile_server(script: Script) -> AsyncIterator[HostileServer]:
    """Serve ``script`` on 127.0.0.1 for the length of the block."""
    server = HostileServer(script)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        try:
            yield server
        finally:
            for writer in server.writers:  # nothing outlives the test, whatever a script does
                writer.transport.abort()


@contextlib.contextmanager
def hostile_server_in_thread(script: Script) -> Iterator[HostileServer]:
    """:func:`hostile_server` on an event loop of its own, for code that runs its own loop."""
    started = threading.Event()
    holder: list[tuple[HostileServer, asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def serve() -> None:
        stop = asyncio.Event()
        async with hostile_server(script) as server:
            holder.append((server, asyncio.get_running_loop(), stop))
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    started.wait(5)
    server, loop, stop = holder[0]
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
