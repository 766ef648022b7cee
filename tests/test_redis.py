"""RedisRateLimiter against a real redis-server on loopback, in real but scaled time.

A session fixture (conftest.py) starts ``redis-server`` on a free port. Without the binary
these tests skip, unless ``CI`` is set: then the run fails, so CI never passes by skipping
them.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio as aioredis
from redis_server import redis_server
from support import free_port
from test_ratelimit import max_in_any_window

from texin_async import (
    APIConnectionError,
    LimiterUnavailableError,
    Priority,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
    RetryPolicy,
    TexinClient,
    _redis,
)
from texin_async.testing import DEFAULT_API_KEY, TexinEmulator, serve_in_thread

pytestmark = pytest.mark.anyio

KEY_ID = hashlib.sha256(b"an api key").hexdigest()[:16]
WORKER = Path(__file__).with_name("redis_worker.py")


# -- what the limiters wrote ------------------------------------------------------------------


@pytest.fixture
async def inspect(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client to look at what the limiters wrote."""
    async with aioredis.Redis.from_url(redis_url, decode_responses=True) as client:
        yield client


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., RedisRateLimiter]]:
    """Make limiters (stand-ins for processes) that are closed after the test."""
    made: list[RedisRateLimiter] = []

    def factory(url: str, **kwargs: Any) -> RedisRateLimiter:
        made.append(RedisRateLimiter(url, **kwargs))
        return made[-1]

    yield factory
    for limiter in made:
        await limiter.aclose()


def closed_url() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


@contextlib.asynccontextmanager
async def silent_redis() -> AsyncIterator[aioredis.Redis]:
    """A client as a caller might pass (no socket timeout) to a port that never answers.

    The kernel completes each connection on the listening socket, and nobody ever reads it.
    """
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        async with aioredis.Redis(host="127.0.0.1", port=server.getsockname()[1]) as client:
            yield client


async def script_calls(client: aioredis.Redis) -> int:
    """How many EVALSHA/EVAL calls Redis has served since its stats were reset."""
    stats = await client.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


_HELD: dict[int, list[AbstractAsyncContextManager[object]]] = {}


async def acquire(
    limiter: RateLimiter, key_id: str, priority: Priority = Priority.INTERACTIVE
) -> None:
    """Take a slot outside an ``async with``, as a request would hold one."""
    slot = limiter.slot(key_id, priority)
    await slot.__aenter__()
    _HELD.setdefault(id(limiter), []).append(slot)


async def release(limiter: RateLimiter, key_id: str) -> None:
    """Answer the oldest slot taken with :func:`acquire`."""
    slot = _HELD[id(limiter)].pop(0)
    await slot.__aexit__(None, None, None)


async def acquire_all(limiters: list[RedisRateLimiter], n: int) -> list[float]:
    """n requests of KEY_ID, answered at once, from n tasks over ``limiters``: when each left."""
    times: list[float] = []

    async def one(limiter: RedisRateLimiter) -> None:
        await acquire(limiter, KEY_ID)
        times.append(time.monotonic())
        await release(limiter, KEY_ID)

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, limiters[i % len(limiters)])
    return times


# -- the shared window ------------------------------------------------------------------------


@pytest.mark.slow
async def test_burst_of_max_rate_goes_at_once(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """The first max_rate requests leave without waiting."""
    limiter = make(redis_url, rate_limit=RateLimit(max_rate=20, time_period=60.0))
    started = time.monotonic()
    times = await acquire_all([limiter], 20)
    assert max(times) - started < 0.5
    (window,) = [k async for k in inspect.scan_iter("*:window")]
    assert await inspect.zcard(window) == 20


async def test_concurrent_acquirers_never_take_more_than_max_rate(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """200 tasks in 4 limiters racing for 25 slots get exactly 25: check and record are atomic."""
    limit = RateLimit(max_rate=25, time_period=60.0)
    limiters = [make(redis_url, rate_limit=limit) for _ in range(4)]
    with anyio.move_on_after(0.5):
        await acquire_all(limiters, 200)
    (window,) = [k async for k in inspect.scan_iter("*:window")]
    assert await inspect.zcard(window) == 25


@pytest.mark.slow
async def test_queued_work_keeps_the_window_and_uses_95_percent(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """Over five windows from three limiters, no window (on Redis's clock) holds > max_rate.

    Each slot's score is when it frees: its release (on Redis's clock) plus the lifetime.
    """
    limit = RateLimit(max_rate=10, time_period=0.25)
    limiters = [make(redis_url, rate_limit=limit) for _ in range(3)]
    grants: dict[str, float] = {}

    async def record_grants() -> None:
        # Slots live a full window, so reading the set every 50 ms sees every grant.
        while True:
            async for member, score in inspect.zscan_iter(limiters[0]._keys_for(KEY_ID)[0]):
                grants[member] = score / 1e6 - limit.slot_lifetime
            await anyio.sleep(0.05)

    async with anyio.create_task_group() as tg:
        tg.start_soon(record_grants)
        await acquire_all(limiters, 60)
        await anyio.sleep(0.06)
        tg.cancel_scope.cancel()
    times = sorted(grants.values())
    assert len(times) == 60
    assert max_in_any_window(times, limit.time_period) == 10
    windows = (times[-1] - times[0]) / limit.time_period
    assert (60 - 10) / (10 * windows) >= 0.95


@pytest.mark.slow
async def test_request_past_the_budget_waits_for_the_oldest_slot(
    redis_url: str, make: Callable[..., RedisRateLimiter]
) -> None:
    """Request max_rate + 1 leaves once the first slot is a full window old, not before."""
    limiter = make(redis_url, rate_limit=RateLimit(max_rate=3, time_period=0.3, margin=0.0))
    started = time.monotonic()
    times = await acquire_all([limiter], 4)
    assert 0.3 <= max(times) - started < 0.4


async def test_waiter_sleeps_until_the_slot_frees_instead_of_polling(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """A full window tells the waiter how long to sleep: two script calls, not a busy loop."""
    limiter = make(redis_url, rate_limit=RateLimit(max_rate=1, time_period=0.3))
    await acquire(limiter, KEY_ID)
    await release(limiter, KEY_ID)
    await inspect.config_resetstat()
    await acquire(limiter, KEY_ID)
    assert await script_calls(inspect) == 2


async def test_cancelled_waiter_takes_no_slot(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """A request cancelled while waiting for a slot leaves the window as it was."""
    limiter = make(redis_url, rate_limit=RateLimit(max_rate=1, time_period=10.0))
    await acquire(limiter, KEY_ID)
    with anyio.move_on_after(0.05):
        await acquire(limiter, KEY_ID)
    assert await inspect.zcard(limiter._keys_for(KEY_ID)[0]) == 1


@pytest.mark.slow
async def test_held_slot_ages_from_its_release_not_its_start(
    redis_url: str, make: Callable[..., RedisRateLimiter]
) -> None:
    """A slot frees a full window after its request answered, however long it ran."""
    limiter = make(redis_url, rate_limit=RateLimit(max_rate=1, time_period=0.3, margin=0.0))
    started = time.monotonic()
    await acquire(limiter, KEY_ID)
    await anyio.sleep(0.2)
    await release(limiter, KEY_ID)
    await acquire(limiter, KEY_ID)
    assert 0.5 <= time.monotonic() - started < 0.6


async def test_slots_held_in_flight_count_against_every_limiter(
    redis_url: str, make: Callable[..., RedisRateLimiter]
) -> None:
    """Requests in flight in one process hold the budget for the others until answered."""
    limit = RateLimit(max_rate=2, time_period=60.0)
    first, second = make(redis_url, rate_limit=limit), make(redis_url, rate_limit=limit)
    await acquire(first, KEY_ID)
    await acquire(first, KEY_ID)
    with anyio.move_on_after(0.2) as waited:
        await acquire(second, KEY_ID)
    assert waited.cancelled_caught


async def test_slot_of_a_crashed_holder_frees_when_its_lease_ends(
    redis_url: str, make: Callable[..., RedisRateLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot never released (its process died) frees after the lease, not never."""
    monkeypatch.setattr(_redis, "_LEASE", 0.2)
    limit = RateLimit(max_rate=1, time_period=60.0)
    crashed, survivor = make(redis_url, rate_limit=limit), make(redis_url, rate_limit=limit)
    await acquire(crashed, KEY_ID)
    started = time.monotonic()
    await acquire(survivor, KEY_ID)
    assert 0.2 <= time.monotonic() - started < 0.3


async def test_release_never_raises_when_redis_fails(
    make: Callable[..., RedisRateLimiter], caplog: pytest.LogCaptureFixture
) -> None:
    """A failed release only logs: it runs after the request, whose result must stand."""
    with redis_server(free_port()) as url:
        limiter = make(url)
        await acquire(limiter, KEY_ID)
    await release(limiter, KEY_ID)
    assert "a slot stays taken" in caplog.text


async def test_keys_have_separate_budgets(
    redis_url: str, make: Callable[..., RedisRateLimiter]
) -> None:
    """One key's exhausted budget does not hold back another key."""
    limiter = make(redis_url, rate_limit=RateLimit(max_rate=1, time_period=60.0))
    await acquire(limiter, "a")
    with anyio.fail_after(0.5):
        await acquire(limiter, "b")


# -- the shared pause -------------------------------------------------------------------------


async def test_pause_is_shared_between_limiters(
    redis_url: str, make: Callable[..., RedisRateLimiter]
) -> None:
    """A 429 pause recorded by one process holds the key in another, free slots or not."""
    first, second = make(redis_url), make(redis_url)
    await first.pause(KEY_ID, 0.3)
    started = time.monotonic()
    await acquire(second, KEY_ID)
    assert 0.28 <= time.monotonic() - started < 0.4


async def test_pause_never_shortens_an_earlier_pause(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """A shorter pause from another process leaves the longer one in force."""
    first, second = make(redis_url), make(redis_url)
    await first.pause(KEY_ID, 5.0)
    await second.pause(KEY_ID, 0.1)
    seconds, micros = await inspect.time()
    stored = await inspect.get(first._keys_for(KEY_ID)[1])
    assert stored is not None
    until = int(stored)
    assert until - (seconds * 1_000_000 + micros) > 4_900_000


# -- what lands in Redis ---------------------------------------------------------------------


async def test_redis_keys_hold_a_hash_never_the_key_or_its_id(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """Key names and members are built from a hash: neither API key nor key_id appears."""
    api_key = "sk-live-do-not-leak"
    async with TexinClient(api_key) as client:
        key_id = client.key_id
    limiter = make(redis_url, prefix="app:")
    await acquire(limiter, key_id)
    await limiter.pause(key_id, 1.0)
    keys = sorted([k async for k in inspect.scan_iter("*")])
    assert [k.rsplit(":", 1)[1] for k in keys] == ["pause", "state", "window"]
    assert all(k.startswith("app:{") for k in keys)
    state = await inspect.hgetall(keys[1])
    window = await inspect.zrange(keys[2], 0, -1)
    pause = await inspect.get(keys[0])
    stored = " ".join(map(str, [*keys, pause, *state, *state.values(), *window]))
    assert key_id not in stored
    assert api_key not in stored


async def test_idle_keys_expire(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """Both keys carry a TTL just past the last slot's lease or the pause: idle keys vanish."""
    limiter = make(redis_url, rate_limit=RateLimit(max_rate=5, time_period=2.0))
    await acquire(limiter, KEY_ID)
    await release(limiter, KEY_ID)
    await limiter.pause(KEY_ID, 3.0)
    window, pause, _ = limiter._keys_for(KEY_ID)
    # The window outlives the longest lease a slot may hold (a crashed holder's).
    assert 120_000 < await inspect.pttl(window) <= 121_000
    assert 3000 < await inspect.pttl(pause) <= 4000


# -- Redis down -------------------------------------------------------------------------------


async def test_unreachable_redis_raises_limiter_unavailable(
    make: Callable[..., RedisRateLimiter],
) -> None:
    """Fail closed by default: a clear error, which is an APIConnectionError (nothing sent)."""
    limiter = make(closed_url())
    with pytest.raises(LimiterUnavailableError, match="nothing was sent") as info:
        await acquire(limiter, KEY_ID)
    assert isinstance(info.value, APIConnectionError)


async def test_client_sends_nothing_when_redis_is_down(
    make: Callable[..., RedisRateLimiter],
    texin_emulator: TexinEmulator,
    texin_emulator_url: str,
    texin_api_key: str,
) -> None:
    """With the shared limiter unreachable, the client raises before any request goes out."""
    client = TexinClient(
        texin_api_key,
        base_url=texin_emulator_url,
        limiter=make(closed_url()),
        retry=RetryPolicy(attempts=1),
    )
    async with client:
        with pytest.raises(LimiterUnavailableError):
            await client.send_sms("0712345678", "never sent")
    assert texin_emulator.requests(texin_api_key) == {}


async def test_fail_open_falls_back_to_the_same_limit_in_process(
    make: Callable[..., RedisRateLimiter],
) -> None:
    """fail_open=True keeps sending when Redis is down, within the RateLimit per process."""
    limit = RateLimit(max_rate=2, time_period=0.3, margin=0.0)
    limiter = make(closed_url(), rate_limit=limit, fail_open=True)
    started = time.monotonic()
    times = await acquire_all([limiter], 3)
    assert max(times) - started >= 0.3


async def test_fail_open_warns_once(
    make: Callable[..., RedisRateLimiter], caplog: pytest.LogCaptureFixture
) -> None:
    """Falling back logs one warning, not one per request."""
    limiter = make(closed_url(), fail_open=True)
    with caplog.at_level(logging.WARNING, logger="texin_async"):
        for _ in range(5):
            await acquire(limiter, KEY_ID)
            await limiter.pause(KEY_ID, 0.001)
    records = [r for r in caplog.records if r.name == "texin_async"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "limiting each process on its own" in records[0].getMessage()


async def test_fail_open_returns_to_redis_when_it_is_back(
    make: Callable[..., RedisRateLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the recheck interval, a fallen-back limiter shares its budget through Redis again."""
    monkeypatch.setattr(_redis, "_RECHECK_AFTER", 0.0)
    port = free_port()
    limiter = make(f"redis://127.0.0.1:{port}/0", fail_open=True)
    await acquire(limiter, KEY_ID)
    assert "degraded" in repr(limiter)
    with redis_server(port) as url, redis.Redis.from_url(url) as client:
        await acquire(limiter, KEY_ID)
        assert client.zcard(limiter._keys_for(KEY_ID)[0]) == 1
    assert "degraded" not in repr(limiter)


async def test_stalled_redis_raises_limiter_unavailable_by_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Redis that connects but never answers fails acquire by the deadline, not never."""
    monkeypatch.setattr(_redis, "_CALL_DEADLINE", 0.2)
    async with silent_redis() as client:
        limiter = RedisRateLimiter(client)
        started = time.monotonic()
        with anyio.fail_after(5), pytest.raises(LimiterUnavailableError, match="no answer"):
            await acquire(limiter, KEY_ID)
        assert 0.2 <= time.monotonic() - started < 0.4


async def test_stalled_redis_fails_a_pause_by_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 429's pause on a Redis that never answers raises too, rather than hanging."""
    monkeypatch.setattr(_redis, "_CALL_DEADLINE", 0.2)
    async with silent_redis() as client:
        with anyio.fail_after(5), pytest.raises(LimiterUnavailableError, match="no answer"):
            await RedisRateLimiter(client).pause(KEY_ID, 1.0)


async def test_fail_open_falls_back_when_redis_stalls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With fail_open, a Redis past the deadline means the local limit, not an error."""
    monkeypatch.setattr(_redis, "_CALL_DEADLINE", 0.2)
    async with silent_redis() as client:
        limiter = RedisRateLimiter(client, fail_open=True)
        with anyio.fail_after(5):
            await acquire(limiter, KEY_ID)
        assert "degraded" in repr(limiter)


async def test_release_on_a_stalled_redis_logs_and_returns_by_the_deadline(
    redis_url: str,
    inspect: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Release, shielded as the client calls it, gives up at the deadline; the lease remains."""
    monkeypatch.setattr(_redis, "_CALL_DEADLINE", 0.2)
    async with aioredis.Redis.from_url(redis_url) as client:
        limiter = RedisRateLimiter(client)
        await acquire(limiter, KEY_ID)
        # Redis holds every client's scripts (they may write) until unpaused.
        await inspect.client_pause(5000, all=False)
        try:
            started = time.monotonic()
            with anyio.CancelScope(shield=True):
                await release(limiter, KEY_ID)
            assert 0.2 <= time.monotonic() - started < 0.4
        finally:
            await inspect.client_unpause()
    assert "no answer within 0.2s" in caplog.text
    assert "a slot stays taken" in caplog.text


# -- surface ------------------------------------------------------------------------------------


def test_repr_shows_where_and_what_but_no_secret() -> None:
    """The repr names host, port, db and the limit; never the Redis password."""
    limiter = RedisRateLimiter("redis://:hunter2@127.0.0.1:6390/3")
    assert repr(limiter) == (
        "RedisRateLimiter('127.0.0.1:6390/3', rate_limit=RateLimit(max_rate=100, "
        "time_period=60.0, margin=0.003, reserve=0.02), prefix='texin:rl:', fail_open=False)"
    )


def test_redis_limiter_satisfies_the_protocol() -> None:
    """RedisRateLimiter is a RateLimiter, so TexinClient(limiter=...) accepts it."""
    assert isinstance(RedisRateLimiter("redis://127.0.0.1:6390/0"), RateLimiter)


def test_poll_max_must_be_positive() -> None:
    """A zero poll_max would spin; it is refused at construction."""
    with pytest.raises(ValueError, match="poll_max"):
        RedisRateLimiter("redis://127.0.0.1:6390/0", poll_max=0)


def test_texin_async_imports_without_redis_py() -> None:
    """The package imports without the redis extra; making a limiter names the extra."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import texin_async\n"
        "try:\n"
        "    texin_async.RedisRateLimiter('redis://localhost')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'texin-async[redis]'" in out.stdout


# -- four processes, one key, the emulator's strict window -----------------------------------


@pytest.mark.slow
def test_four_processes_share_one_key_without_a_429(redis_url: str) -> None:
    """4 processes x 25 requests on one key against a strict 20/2s window: no 429, >= 95% used."""
    emulator = TexinEmulator(rate_limit="20/2")
    with serve_in_thread(emulator) as base_url:
        args = [sys.executable, str(WORKER), base_url, redis_url, DEFAULT_API_KEY, "25"]
        workers = [
            subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    times = sorted(t for out in outputs for t in json.loads(out))
    assert emulator.rate_limited(DEFAULT_API_KEY) == 0
    assert emulator.max_in_window(DEFAULT_API_KEY) == 20
    windows = (times[-1] - times[0]) / 2.0
    assert len(times) == 100
    assert windows >= 3
    assert (100 - 20) / (20 * windows) >= 0.95


# -- classes, reserve and pacing across processes -----------------------------------------------


async def test_bulk_leaves_the_reserve_in_every_process(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """Campaigns in two processes stop short of the reserve; a code then takes it at once."""
    limit = RateLimit(max_rate=5, time_period=60.0, reserve=0.2)
    first, second = make(redis_url, rate_limit=limit), make(redis_url, rate_limit=limit)
    with anyio.move_on_after(0.3):
        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(acquire, (first, second)[i % 2], KEY_ID, Priority.BULK)
    window = first._keys_for(KEY_ID)[0]
    assert await inspect.zcard(window) == 4
    with anyio.fail_after(0.5):
        await acquire(second, KEY_ID, Priority.INTERACTIVE)
    assert await inspect.zcard(window) == 5


async def test_a_waiting_code_goes_before_a_campaign_of_another_process(
    redis_url: str, make: Callable[..., RedisRateLimiter]
) -> None:
    """With the window full, an interactive waiter in one process gets the next slot before
    the bulk waiters of another: they yield while it waits."""
    # The window's two slots taken 0.4 s apart, so that it frees one slot at a time (two
    # freed at once would serve both waiters, in either order); long enough that both wait,
    # and neither is promoted by the starvation guard (two lifetimes).
    limit = RateLimit(max_rate=2, time_period=1.0, margin=0.0, reserve=0)
    campaign, web = make(redis_url, rate_limit=limit), make(redis_url, rate_limit=limit)
    for pause in (0.4, 0.0):
        await acquire(campaign, KEY_ID, Priority.BULK)
        await release(campaign, KEY_ID)
        await anyio.sleep(pause)
    order: list[str] = []

    async def one(limiter: RedisRateLimiter, name: str, priority: Priority) -> None:
        await acquire(limiter, KEY_ID, priority)
        order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, campaign, "bulk", Priority.BULK)
        await anyio.sleep(0.05)
        tg.start_soon(one, web, "code", Priority.INTERACTIVE)
    assert order == ["code", "bulk"]


@pytest.mark.slow
async def test_a_saturated_campaign_is_paced_on_redis_clock(
    redis_url: str, make: Callable[..., RedisRateLimiter], inspect: aioredis.Redis
) -> None:
    """Once a campaign fills the window, its next requests leave an interval apart."""
    limit = RateLimit(max_rate=4, time_period=0.4, margin=0.0, reserve=0)
    limiter = make(redis_url, rate_limit=limit)
    grants: list[float] = []

    async def one() -> None:
        await acquire(limiter, KEY_ID, Priority.BULK)
        seconds, micros = await inspect.time()
        grants.append(seconds + micros / 1e6)
        await release(limiter, KEY_ID)

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(one)
    later = sorted(grants)[4:]
    assert all(b - a >= limit.interval * 0.95 for a, b in itertools.pairwise(later))


async def test_fail_open_gives_each_slot_back_to_the_limiter_that_granted_it(
    make: Callable[..., RedisRateLimiter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot granted in process while Redis was down goes back in process after Redis
    returns, never to Redis (where it would free someone else's slot)."""
    monkeypatch.setattr(_redis, "_RECHECK_AFTER", 0.0)
    port = free_port()
    limit = RateLimit(max_rate=1, time_period=60.0, reserve=0)
    limiter = make(f"redis://127.0.0.1:{port}/0", rate_limit=limit, fail_open=True)
    await acquire(limiter, KEY_ID)  # granted in process
    with redis_server(port) as url, redis.Redis.from_url(url) as client:
        await acquire(limiter, KEY_ID)  # granted in Redis
        await release(limiter, KEY_ID)  # the in-process one
        window = limiter._keys_for(KEY_ID)[0]
        assert client.zcard(window) == 1
        assert (await limiter._local.plan(KEY_ID, 1, Priority.INTERACTIVE)).seconds > 0
