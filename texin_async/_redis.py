"""A rate limiter shared through Redis: one API key's budget across processes and hosts.

Four workers with in-process limiters send four times the key's budget; the provider rejects
the excess. :class:`RedisRateLimiter` applies the same rules as the in-process limiter
(:mod:`texin_async._lane`: the sliding window, the interactive reserve, class order, pacing,
the starvation guard, late counts) in Lua scripts that check and record atomically on
Redis's own clock (``TIME``), so concurrent workers never overshoot and skewed host clocks
do not matter.

The window is a sorted set whose scores say when each slot frees: a slot in flight at the
end of a lease (so a crashed process cannot hold the budget for ever), an answered one a
slot lifetime after its answer, an unanswered one two. A hash per key holds the pacing state
and, per class, until when some process has a request of that class waiting: a lower class
yields while a higher one waits elsewhere (unless it has itself waited a whole window).
Within a process, waiters of one key queue by class and arrival, and only the first of them
asks Redis. When the window is full the script returns how long until a slot can free; a
waiter sleeps that long plus a little jitter, but never longer than ``poll_max`` (default
1 s) before asking again, so while a window stays full each process asks Redis about once a
second per key. A 429's pause lives in a third key holding the Redis time until which the
key is held; a pause only ever extends.

Every script call has a deadline of a few seconds, whatever the client's socket timeout: a
Redis that accepts connections but never answers counts as unavailable, as a refused
connection does, rather than hanging the request.

Why scripts of our own rather than ``limits`` or ``pyrate-limiter``: both time-stamp
entries with the caller's clock, so hosts with skewed clocks disagree about the window;
neither returns the wait, holds a slot until the answer, shares a pause, or knows traffic
classes; and ``limits``'s sliding window is an approximation, not a strict log. The scripts
need Redis >= 5 (effects replication, for ``TIME`` before writes).

Redis keys are ``{prefix}{<hash>}:window``, ``:state`` and ``:pause``, where ``<hash>`` is a
SHA-256 of the client's ``key_id`` (itself a hash of the API key): neither the key nor its
id appears in Redis. The braces are a cluster hash tag, so the keys share a slot. Each write
sets a TTL just past the last slot or pause it holds, so idle keys vanish.

redis-py is imported when a limiter is made, not with this module, so ``import texin_async``
works without the ``redis`` extra.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ._config import DEFAULT_RATE_LIMIT, RateLimit
from ._eventloop import require_asyncio
from ._exceptions import LimiterUnavailableError
from ._lane import Ending, Lane, Priority, sustained_seconds
from ._logs import logger
from ._ratelimit import LimiterPlan, LocalRateLimiter, _Wake, ending_of, note_wait

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimiter"]


# KEYS: window (member -> µs when its slot frees), pause (µs until which to wait), state (hash).
# ARGV: max_rate, slot lifetime µs, lease µs, TTL ms, a member unique to this slot, the
# request's class (0 interactive, 1 bulk, 2 background), the class it is served as (0 once
# it has waited a window), reserved slots, pacing interval µs, waiting-flag life µs.
# Returns 0 when the member now holds a slot, else the µs until it may ask again. Times stay
# integers below 2^53 (exact in Lua's doubles) and reach strings only through redis.call.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or 0)
if paused > now then
  return paused - now
end
local max_rate, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2])
local class, served = tonumber(ARGV[6]), tonumber(ARGV[7])
local function waiting()
  redis.call('HSET', KEYS[3], 'wait' .. served, now + tonumber(ARGV[10]))
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local used = redis.call('ZCARD', KEYS[1])
local cap = max_rate
if served > 0 then
  cap = max_rate - tonumber(ARGV[8])
end
if used >= cap then
  local slot = redis.call('ZRANGE', KEYS[1], used - cap, used - cap, 'WITHSCORES')
  local wait = math.max(1, math.min(tonumber(slot[2]) - now, lifetime))
  if served > 0 then
    local paced_until = tonumber(redis.call('HGET', KEYS[3], 'paced_until') or 0)
    redis.call('HSET', KEYS[3], 'paced_until', math.max(paced_until, now + wait + lifetime))
  end
  waiting()
  return wait
end
local paced_until = tonumber(redis.call('HGET', KEYS[3], 'paced_until') or 0)
if served > 0 then
  for higher = 0, served - 1 do
    if tonumber(redis.call('HGET', KEYS[3], 'wait' .. higher) or 0) > now then
      waiting()
      return tonumber(ARGV[9])
    end
  end
  local pace_next = tonumber(redis.call('HGET', KEYS[3], 'pace_next') or 0)
  if now < paced_until and now < pace_next then
    waiting()
    return pace_next - now
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if class > 0 then
  redis.call('HSET', KEYS[3], 'pace_next', now + tonumber(ARGV[9]))
end
if class == 0 or now < paced_until then
  redis.call('HSET', KEYS[3], 'paced_until', math.max(paced_until, now + lifetime))
end
redis.call('HDEL', KEYS[3], 'wait' .. served)
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 0
"""

# KEYS: window. ARGV: µs the slot still counts from now (0: not at all), TTL ms, the member.
# Re-added if its lease ran out: the request did happen.
_RELEASE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if tonumber(ARGV[1]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[3])
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
"""

# KEYS: pause. ARGV: pause length in µs. Extends, never shortens; returns the µs left.
_PAUSE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wanted = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if wanted > current then
  redis.call('SET', KEYS[1], wanted, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
  return wanted - now
end
return current - now
"""

# KEYS: window, pause, state. Returns {µs paused, slots counted, 1 if paced}.
_STATUS_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or 0)
local counted = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
local paced_until = tonumber(redis.call('HGET', KEYS[3], 'paced_until') or 0)
return {math.max(0, paused - now), counted, now < paced_until and 1 or 0}
"""

# KEYS: window. ARGV: TTL ms, then pairs of (member, wall-clock µs until which it counts).
_REMEMBER_LUA = """
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'NX', ARGV[i + 1], ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
"""

_MICRO = 1_000_000
# Waiters of different processes told the same wait wake spread over this many seconds.
_JITTER = 0.005
# Seconds a held slot stays taken if its release never comes (the process died mid-request):
# longer than any request the client lets run, short enough to recover the budget soon.
_LEASE = 120.0
# After Redis failed (fail_open), seconds of the local fallback before trying Redis again.
_RECHECK_AFTER = 30.0
# For a limiter made from a URL: a limiter must not hang on a dead Redis (the URL's
# ``?socket_timeout=`` wins).
_SOCKET_TIMEOUT = 5.0
# Seconds one script call may take, connecting included, before Redis counts as unavailable.
# Applies to clients passed in too (redis-py's default socket timeout is None: wait for ever),
# and bounds the shielded calls that an outer timeout cannot cut short.
_CALL_DEADLINE = 5.0

_T = TypeVar("_T")


class RedisRateLimiter:
    """A :class:`RateLimiter` whose budget, classes, pacing and 429 pauses are shared
    through Redis.

    Give every process and host that uses one API key a limiter on the same Redis (and
    prefix): together they keep at most ``rate_limit.max_rate`` requests in any window,
    serve interactive requests first, and pace campaigns. A slot a process took and never
    released (it crashed) frees after a two-minute lease. It runs on asyncio only, as
    redis-py's async client does: on trio every method raises InvalidRequestError.

    Args:
        redis: A ``redis.asyncio.Redis`` you own, or a URL (``"redis://host:6379/0"``) for
            a client this limiter owns and closes in :meth:`aclose`.
        rate_limit: The budget per key, as for the in-process limiter.
        prefix: Start of every Redis key; change it to separate deployments.
        fail_open: When Redis fails, limit each process on its own (logging a warning)
            instead of raising :class:`LimiterUnavailableError`; Redis is tried again
            after 30 s. A slot is always given back to the limiter that granted it.
        poll_max: Longest single sleep before asking Redis again, in seconds: while a
            key's window is full, each process asks Redis about this often.

    Raises:
        ImportError: redis-py is not installed (``pip install 'texin-async[redis]'``).

    Example::

        limiter = RedisRateLimiter("redis://localhost:6379/0")
        async with limiter, TexinClient(limiter=limiter) as client:
            await client.send_sms("0712345678", "Your code is 4821")
    """

    __slots__ = (
        "_counter",
        "_degraded",
        "_local",
        "_local_until",
        "_lock",
        "_owns_redis",
        "_queues",
        "_redis",
        "_redis_error",
        "_scripts",
        "_token",
        "fail_open",
        "poll_max",
        "prefix",
        "rate_limit",
    )

    def __init__(
        self,
        redis: Redis | str,
        *,
        rate_limit: RateLimit = DEFAULT_RATE_LIMIT,
        prefix: str = "texin:rl:",
        fail_open: bool = False,
        poll_max: float = 1.0,
    ) -> None:
        try:
            import redis.asyncio as aioredis
            from redis.exceptions import RedisError
        except ImportError as exc:
            raise ImportError(
                "RedisRateLimiter needs redis-py: pip install 'texin-async[redis]'"
            ) from exc
        if not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit, got {rate_limit!r}")
        if not (math.isfinite(poll_max) and poll_max > 0):
            raise ValueError(f"poll_max must be a positive number of seconds, got {poll_max}")
        self._owns_redis = isinstance(redis, str)
        self._redis: Redis = (
            aioredis.Redis.from_url(
                redis, socket_timeout=_SOCKET_TIMEOUT, socket_connect_timeout=_SOCKET_TIMEOUT
            )
            if isinstance(redis, str)
            else redis
        )
        self._redis_error: type[Exception] = RedisError
        self._scripts = {
            name: self._redis.register_script(source)
            for name, source in (
                ("acquire", _ACQUIRE_LUA),
                ("release", _RELEASE_LUA),
                ("pause", _PAUSE_LUA),
                ("status", _STATUS_LUA),
                ("remember", _REMEMBER_LUA),
            )
        }
        self.rate_limit = rate_limit
        self.prefix = prefix
        self.fail_open = fail_open
        self.poll_max = poll_max
        # Per key, this process's waiters in order (the lane's queue only; Redis counts).
        self._queues: dict[str, Lane[_Wake]] = {}
        self._lock = threading.Lock()  # the queues, used from any thread or event loop
        self._token = secrets.token_hex(6)
        self._counter = itertools.count()
        self._local = LocalRateLimiter(rate_limit)
        self._local_until = float("-inf")
        self._degraded = False

    # -- RateLimiter ---------------------------------------------------------------------

    def slot(
        self, key_id: str, priority: Priority = Priority.INTERACTIVE
    ) -> AbstractAsyncContextManager[None]:
        """Hold a slot of ``key_id`` in Redis (or, failing open, in process) for the block.

        Raises:
            LimiterUnavailableError: Redis failed and ``fail_open`` is off.
            InvalidRequestError: Called on trio (redis-py's async client needs asyncio).
        """
        _require_asyncio()
        return _RedisSlot(self, key_id, Priority(priority))

    async def pause(self, key_id: str, seconds: float) -> None:
        """Hold ``key_id`` in every process for ``seconds`` from now (never shortens a pause).

        Raises:
            LimiterUnavailableError: Redis failed and ``fail_open`` is off.
        """
        _require_asyncio()
        if not seconds > 0:
            return
        await self._shared_or_local(
            lambda: self._pause_shared(key_id, seconds), lambda: self._local.pause(key_id, seconds)
        )

    async def plan(
        self, key_id: str, requests: int, priority: Priority = Priority.BULK
    ) -> LimiterPlan:
        """How long ``requests`` more of ``priority`` would take, from Redis's view of the key."""
        _require_asyncio()
        try:
            paused_us, counted, paced = await self._run(
                self._scripts["status"](keys=self._keys_for(key_id))
            )
        except LimiterUnavailableError:
            return await self._local.plan(key_id, requests, priority)
        with self._lock:
            queue = self._queues.get(key_id)
            ahead = queue.ahead_of(priority, time.monotonic()) if queue else 0
        needed = requests + ahead
        seconds = sustained_seconds(self.rate_limit, priority, int(counted), needed, bool(paced))
        paused_for = int(paused_us) / _MICRO
        return LimiterPlan(paused_for + seconds, paused_for, ahead)

    async def remember(self, key_id: str, sent_at: Sequence[float]) -> None:
        """Count a previous run's requests, sent at those wall-clock times, in Redis (as
        unanswered ones: two slot lifetimes), unless they are there already."""
        _require_asyncio()
        pairs = []
        for index, sent in enumerate(sent_at):
            until = math.ceil(sent * _MICRO) + 2 * self._lifetime_us
            pairs += [f"r.{sent:.6f}.{index}", str(until)]
        if pairs:
            window = self._keys_for(key_id)[0]
            await self._run(self._scripts["remember"](keys=[window], args=[self._ttl_ms, *pairs]))

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the Redis client if this limiter made it from a URL. Safe to call twice."""
        _require_asyncio()
        if self._owns_redis:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisRateLimiter:
        _require_asyncio()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = ", degraded to local" if self._degraded else ""
        return (
            f"RedisRateLimiter({_where(self._redis)!r}, rate_limit={self.rate_limit!r}, "
            f"prefix={self.prefix!r}, fail_open={self.fail_open}{state})"
        )

    # -- internals -----------------------------------------------------------------------

    @property
    def _lifetime_us(self) -> int:
        return math.ceil(self.rate_limit.slot_lifetime * _MICRO)

    @property
    def _ttl_ms(self) -> int:
        """Longer than any slot in the window lives: idle windows vanish, live ones never."""
        longest = max(_LEASE, 2 * self.rate_limit.slot_lifetime)
        return math.ceil(longest * 1000) + 1000

    def _keys_for(self, key_id: str) -> list[str]:
        """The window, pause and state keys of ``key_id``: a hash of it, never the id."""
        return list(_redis_keys(self.prefix, key_id))

    async def _acquire_shared(self, key_id: str, priority: Priority) -> str:
        """Wait, first in this process's queue for the key, then for Redis; return the member."""
        with self._lock:
            queue = self._queues.get(key_id)
            if queue is None:
                queue = self._queues[key_id] = Lane(self.rate_limit)
            waiter = queue.enqueue(priority, time.monotonic(), _Wake())
        try:
            while True:
                with self._lock:
                    now = time.monotonic()
                    first = queue.head(now) is waiter
                    served = queue.class_of(priority, waiter.arrived, now)
                    if not first:
                        waiter.token.arm()
                if not first:
                    await waiter.token.sleep(None, None)
                    continue
                member = f"{os.getpid():x}.{self._token}.{next(self._counter)}"
                wait = await self._ask(key_id, member, priority, served)
                if wait <= 0:
                    return member
                with self._lock:
                    note_wait(
                        key_id, queue, time.monotonic(), priority, wait / _MICRO, self.rate_limit
                    )
                await anyio.sleep(min(wait / _MICRO, self.poll_max) + random.uniform(0, _JITTER))
        finally:
            with self._lock:
                queue.waiters.remove(waiter)
                if (after := queue.head(time.monotonic())) is not None:
                    after.token.set()
                elif self._queues.get(key_id) is queue:
                    del self._queues[key_id]

    async def _ask(self, key_id: str, member: str, priority: Priority, served: Priority) -> int:
        """One acquire script call: 0 if ``member`` now holds a slot, else µs to wait."""
        limit = self.rate_limit
        args = (
            limit.max_rate,
            self._lifetime_us,
            math.ceil(_LEASE * _MICRO),
            self._ttl_ms,
            member,
            int(priority),
            int(served),
            limit.reserved,
            math.ceil(limit.interval * _MICRO),
            math.ceil(2 * self.poll_max * _MICRO),  # a waiter re-flags each time it asks
        )
        # Shielded: a slot Redis granted must reach the caller, who releases it. If the
        # deadline cuts the call short, a slot it took frees when its lease ends.
        script = self._scripts["acquire"]
        return int(await self._run(script(keys=self._keys_for(key_id), args=args), shield=True))

    async def _release_shared(self, key_id: str, member: str, ending: Ending) -> None:
        """Give ``member``'s slot back; never raises (a failure leaves it to its lease)."""
        counts = {Ending.ANSWERED: 1, Ending.UNANSWERED: 2, Ending.NOT_SENT: 0}[ending]
        args = (counts * self._lifetime_us, self._ttl_ms, member)
        window = self._keys_for(key_id)[0]
        try:
            await self._run(self._scripts["release"](keys=[window], args=args), shield=True)
        except LimiterUnavailableError as exc:
            logger.warning("texin shared rate limiter: %s; a slot stays taken", exc.message)

    async def _pause_shared(self, key_id: str, seconds: float) -> None:
        pause_key = self._keys_for(key_id)[1]
        script = self._scripts["pause"]
        await self._run(script(keys=[pause_key], args=[math.ceil(seconds * _MICRO)]))

    async def _run(self, call: Awaitable[Any], *, shield: bool = False) -> Any:
        """Await one script call for at most ``_CALL_DEADLINE`` seconds.

        A Redis error, or no answer by the deadline, becomes LimiterUnavailableError.
        ``shield`` protects the call from outer cancellation; the deadline still applies.
        """
        deadline = anyio.current_time() + _CALL_DEADLINE
        with anyio.CancelScope(shield=shield, deadline=deadline):
            try:
                return await call
            except self._redis_error as exc:
                raise _unavailable(f"{type(exc).__name__}: {exc}") from exc
        # Only our own deadline ends the scope without a return or an exception.
        raise _unavailable(f"no answer within {_CALL_DEADLINE:g}s")

    def _use_redis(self) -> bool:
        """Whether to try Redis now (not failing open, or the recheck time has come)."""
        return time.monotonic() >= self._local_until

    def _fall_back(self, exc: LimiterUnavailableError) -> None:
        """Fail open: note it, warn once, and use the in-process limiter for a while."""
        if not self.fail_open:
            raise exc
        self._local_until = time.monotonic() + _RECHECK_AFTER
        if not self._degraded:
            self._degraded = True
            logger.warning(
                "texin shared rate limiter: %s; limiting each process on its own (%s) "
                "and trying Redis again in %gs",
                exc.message,
                self.rate_limit,
                _RECHECK_AFTER,
            )

    def _recovered(self) -> None:
        if self._degraded:
            self._degraded = False
            logger.info("texin shared rate limiter: Redis is back, limits are shared again")

    async def _shared_or_local(
        self, shared: Callable[[], Awaitable[_T]], local: Callable[[], Awaitable[_T]]
    ) -> _T:
        """Run ``shared``; with ``fail_open``, run ``local`` instead while Redis is failing."""
        if self._use_redis():
            try:
                result = await shared()
            except LimiterUnavailableError as exc:
                self._fall_back(exc)
            else:
                self._recovered()
                return result
        return await local()


class _RedisSlot:
    """One request's slot: held in Redis, or (failing open) in process, and given back to
    the limiter that granted it."""

    __slots__ = ("_key_id", "_limiter", "_local", "_member", "_priority")

    def __init__(self, limiter: RedisRateLimiter, key_id: str, priority: Priority) -> None:
        self._limiter, self._key_id, self._priority = limiter, key_id, priority
        self._member: str | None = None
        self._local: AbstractAsyncContextManager[None] | None = None

    async def __aenter__(self) -> None:
        limiter = self._limiter
        if limiter._use_redis():
            try:
                self._member = await limiter._acquire_shared(self._key_id, self._priority)
            except LimiterUnavailableError as exc:
                limiter._fall_back(exc)
            else:
                limiter._recovered()
                return
        self._local = limiter._local.slot(self._key_id, self._priority)
        await self._local.__aenter__()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._member is not None:
            await self._limiter._release_shared(self._key_id, self._member, ending_of(exc))
        elif self._local is not None:
            await self._local.__aexit__(type(exc) if exc else None, exc, None)


@functools.lru_cache(maxsize=4096)  # the busy keys; a platform's thousands come and go
def _redis_keys(prefix: str, key_id: str) -> tuple[str, str, str]:
    digest = hashlib.sha256(b"texin_async.ratelimit\0" + key_id.encode()).hexdigest()
    base = f"{prefix}{{{digest[:32]}}}"
    return f"{base}:window", f"{base}:pause", f"{base}:state"


def _require_asyncio() -> None:
    require_asyncio(
        "RedisRateLimiter",
        "its Redis client (redis.asyncio) needs asyncio; under trio, limit in process "
        "(TexinClient's rate_limit=)",
    )


def _unavailable(why: str) -> LimiterUnavailableError:
    return LimiterUnavailableError(
        f"the shared rate limiter is unavailable ({why}); nothing was sent"
    )


def _where(client: Redis) -> str:
    """Where ``client`` connects, without credentials: ``host:port/db`` or a socket path."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
