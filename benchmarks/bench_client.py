"""Client CPU per send_sms, against bare HTTP clients posting to the same local server.

The emulator runs in its own process, so ``time.process_time()`` here is the client's CPU
only. Each configuration sends N requests from C workers; the best of R rounds is kept,
rounds interleaved so that machine noise hits every configuration alike.

The plain SDK rows have no hook registered ("hooks off": the cost every user pays); the
"OpenTelemetry, no-op provider" rows pass ``OpenTelemetryHooks`` on the API's no-op
providers (instrumented, nothing exported), and "one no-op hook" a hook that does nothing,
which is the cost of building and telling the events alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from opentelemetry import metrics, trace

from benchmarks._common import emulator_process, table
from texin_async import RateLimit, TexinClient
from texin_async._transport import TransportChoice
from texin_async.instrumentation import Event, Hook
from texin_async.instrumentation.otel import OpenTelemetryHooks

KEY = "bench-key"
N, ROUNDS = 1000, 3
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
BODY = {"api_key": KEY, "recipient": "254712345678", "message": "Benchmark message"}
Run = Callable[[str, int], Awaitable[float]]


async def fan_out(concurrency: int, one: Callable[[], Awaitable[object]]) -> None:
    """``N`` calls of ``one`` from ``concurrency`` workers."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(*(worker(N // concurrency) for _ in range(concurrency)))


async def raw_httpx(url: str, c: int) -> float:
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(limits=limits) as http:
        body = json.dumps(BODY).encode()

        async def one() -> object:
            response = await http.post(url + "send_sms", content=body, headers=HEADERS)
            return json.loads(response.content)

        return await timed(c, one)


async def raw_httpx2(url: str, c: int) -> float:
    import httpx2

    limits = httpx2.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx2.AsyncClient(limits=limits) as http:
        body = json.dumps(BODY).encode()

        async def one() -> object:
            response = await http.post(url + "send_sms", content=body, headers=HEADERS)
            return json.loads(response.content)

        return await timed(c, one)


async def raw_aiohttp(url: str, c: int) -> float:
    connector = aiohttp.TCPConnector(limit=c)
    async with aiohttp.ClientSession(connector=connector) as session:
        body = json.dumps(BODY).encode()

        async def one() -> object:
            async with session.post(url + "send_sms", data=body, headers=HEADERS) as response:
                return json.loads(await response.read())

        return await timed(c, one)


async def sdk(
    url: str, c: int, transport: TransportChoice = None, hooks: list[Hook] | None = None
) -> float:
    # The default per-key limiter stays on (100/min would throttle, so a huge budget).
    budget = RateLimit(max_rate=10**9, time_period=60.0)
    async with TexinClient(
        KEY, base_url=url, max_connections=c, transport=transport, rate_limit=budget, hooks=hooks
    ) as client:
        return await timed(c, lambda: client.send_sms("0712345678", "Benchmark message"))


def otel_noop() -> list[Hook]:
    """OpenTelemetryHooks on the API's no-op providers: instrumented, nothing recorded."""
    hooks = OpenTelemetryHooks(
        tracer_provider=trace.NoOpTracerProvider(), meter_provider=metrics.NoOpMeterProvider()
    )
    return [hooks]


def nothing(event: Event) -> None:
    """A hook that ignores every event."""


async def sdk_otel_noop(url: str, c: int) -> float:
    return await sdk(url, c, hooks=otel_noop())


async def sdk_httpx_aiohttp(url: str, c: int) -> float:
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    return await sdk(url, c, AiohttpTransport(limits=limits))


async def sdk_native_aiohttp(url: str, c: int) -> float:
    return await sdk(url, c, "aiohttp")


async def sdk_native_aiohttp_hook(url: str, c: int) -> float:
    return await sdk(url, c, "aiohttp", hooks=[nothing])


async def sdk_native_aiohttp_otel_noop(url: str, c: int) -> float:
    return await sdk(url, c, "aiohttp", hooks=otel_noop())


async def timed(c: int, one: Callable[[], Awaitable[object]]) -> float:
    """Warm the pool, then measure CPU seconds per request."""
    await asyncio.gather(*(one() for _ in range(c)))
    start = time.process_time()
    await fan_out(c, one)
    return (time.process_time() - start) / N


RUNS: dict[str, Run] = {
    "bare httpx post + json.loads": raw_httpx,
    "texin_async (httpx), hooks off": sdk,
    "texin_async (httpx), OpenTelemetry, no-op provider": sdk_otel_noop,
    "bare aiohttp post + json.loads": raw_aiohttp,
    "texin_async (httpx_aiohttp transport)": sdk_httpx_aiohttp,
    "texin_async (native aiohttp), hooks off": sdk_native_aiohttp,
    "texin_async (native aiohttp), one no-op hook": sdk_native_aiohttp_hook,
    "texin_async (native aiohttp), OpenTelemetry, no-op provider": sdk_native_aiohttp_otel_noop,
    "bare httpx2 post + json.loads": raw_httpx2,
}


async def measure(url: str) -> dict[tuple[str, int], float]:
    """CPU per request for each (client, concurrency): the best of the rounds."""
    cpu: dict[tuple[str, int], float] = {}
    for _ in range(ROUNDS):
        for c in (1, 32):
            for name, run in RUNS.items():
                seconds = await run(url, c)
                cpu[name, c] = min(cpu.get((name, c), float("inf")), seconds)
    return cpu


def hooks_off(name: str) -> str | None:
    """The hooks-off row of the same backend as an instrumented row, if ``name`` is one."""
    if ", " not in name or name.endswith("hooks off"):
        return None
    return name.split(", ", 1)[0] + ", hooks off"


def main() -> None:
    with emulator_process("--rate-limit", "none", "--account", f"{KEY}:1000000000") as url:
        cpu = asyncio.run(measure(url))
    for c in (1, 32):
        httpx_base = cpu["bare httpx post + json.loads", c]
        aiohttp_base = cpu["bare aiohttp post + json.loads", c]
        rows = []
        for name in RUNS:
            off = hooks_off(name)
            rows.append(
                (
                    name,
                    f"{cpu[name, c] * 1e6:.0f}",
                    f"{cpu[name, c] / httpx_base:.2f}x",
                    f"{cpu[name, c] / aiohttp_base:.2f}x",
                    "" if off is None else f"{cpu[name, c] / cpu[off, c]:.2f}x",
                )
            )
        table(
            f"Client CPU per send_sms, concurrency {c} ({N} requests, best of {ROUNDS})",
            ["client", "µs CPU / request", "vs bare httpx", "vs bare aiohttp", "vs hooks off"],
            rows,
        )


if __name__ == "__main__":
    main()
