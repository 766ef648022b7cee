"""A rate limiter shared through Redis: one API key's budget across processes and hosts.

Four workers with in-process limiters send four times the key's budget; the provider rejects
the excess. :class:`RedisRateLimiter` keeps the same sliding-window log as
:class:`~texin_async.LocalRateLimiter` (a burst of ``max_rate``, then never more than
``max_rate`` requests in flight or answered within ``time_period * (1 + margin)``), in a
Redis sorted set whose scores say when each slot frees: a held slot frees at the end of a
lease (so a crashed process cannot hold the budget for ever), a released one a slot lifetime
after its answer. Lua scripts check and record atomically on Redis's own clock (``TIME``),
so concurrent workers never overshoot and skewed host clocks do not matter. When the window
is full the script returns how long until a slot can free: exact for an answered slot, and
one lifetime for a slot still in flight (it cannot free sooner). A waiter sleeps that long
plus a little jitter, but never longer than ``poll_max`` (default 1 s) before asking again,
so while a window stays full each process asks Redis about once a second per key (only the
first of its waiters asks). The cap is there because the wait is a lower bound only if every
process uses the same :class:`RateLimit` and nothing else edits the keys: a process with a
shorter window, or a deleted key, frees slots sooner, and the cap bounds the oversleep. Raise
``poll_max`` to ask less often. A 429's pause lives in a second key holding the Redis time
until which the key is held; a pause only ever extends.

Every script call has a deadline of a few seconds, whatever the client's socket timeout: a
Redis that accepts connections but never answers counts as unavailable, as a refused
connection does, rather than hanging the request (acquire's call is shielded from
cancellation, so an outer timeout alone could not stop it).

Why scripts of our own rather than ``limits`` or ``pyrate-limiter``: both time-stamp
entries with the caller's clock (``limits``'s moving window passes ``time.time()`` in;
pyrate-limiter's RedisBucket deliberately avoids ``TIME``), so hosts with skewed clocks
disagree about the window; neither returns the wait (``limits`` answers yes/no, so waiting
means polling), holds a slot until the answer, or shares a pause; and ``limits``'s own
sliding window is an approximation, not a strict log. The scripts are short and need
Redis >= 5 (effects replication, for ``TIME`` before writes).

Redis keys are ``{prefix}{<hash>}:window`` and ``{prefix}{<hash>}:pause``, where ``<hash>``
is a SHA-256 of the client's ``key_id`` (itself a hash of the API key): neither the key nor
its id appears in Redis. The braces are a cluster hash tag, so both keys share a slot. Each
write sets a TTL just past the last slot or pause it holds, so idle keys vanish.

redis-py is imported when a limiter is made, not with this module, so ``import texin_async``
works without the ``redis`` extra.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import logging
import math
import os
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.lowlevel import RunVar

from ._config import DEFAULT_RATE_LIMIT, RateLimit
from ._exceptions import LimiterUnavailableError
from ._ratelimit import LocalRateLimiter

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimiter"]

logger = logging.getLogger("texin_async")

# KEYS: window (sorted set: member -> µs when its slot frees), pause (µs until which to wait).
# ARGV: max_rate, slot lifetime µs, lease µs, TTL ms, a member unique to this slot.
# Returns 0 when the member now holds a slot, else the µs until one may free. Times stay
# integers below 2^53 (exact in Lua's doubles) and reach strings only through redis.call
# (17 digits), never tostring (14).
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or 0)
if paused > now then
  return paused - now
end
local max_rate = tonumber(ARGV[1])
local lifetime = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
if count >= max_rate then
  local slot = redis.call('ZRANGE', KEYS[1], count - max_rate, count - max_rate, 'WITHSCORES')
  return math.min(tonumber(slot[2]) - now, lifetime)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0
"""

# KEYS: window. ARGV: slot lifetime µs, TTL ms, the member. Its slot frees a lifetime from
# now (re-added if its lease ran out: the request did happen).
_RELEASE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
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
    """A :class:`RateLimiter` whose budget and 429 pauses are shared through Redis.

    Give every process and host that uses one API key a limiter on the same Redis (and
    prefix): together they keep at most ``rate_limit.max_rate`` requests in any window.
    Within a process, waiters of one key queue first come, first served, and one of them at
    a time asks Redis. A slot a process took and never released (it crashed) frees after a
    two-minute lease.

    Args:
        redis: A ``redis.asyncio.Redis`` you own, or a URL (``"redis://host:6379/0"``) for
            a client this limiter owns and closes in :meth:`aclose`.
        rate_limit: The budget per key, as for the in-process limiter.
        prefix: Start of every Redis key; change it to separate deployments.
        fail_open: When Redis fails, limit each process on its own (logging a warning)
            instead of raising :class:`LimiterUnavailableError`; Redis is tried again
            after 30 s.
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
        "_acquire_script",
        "_counter",
        "_degraded",
        "_held",
        "_keys",
        "_local",
        "_local_until",
        "_locks",
        "_owns_redis",
        "_pause_script",
        "_redis",
        "_redis_error",
        "_release_script",
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
        self._acquire_script = self._redis.register_script(_ACQUIRE_LUA)
        self._release_script = self._redis.register_script(_RELEASE_LUA)
        self._pause_script = self._redis.register_script(_PAUSE_LUA)
        self.rate_limit = rate_limit
        self.prefix = prefix
        self.fail_open = fail_open
        self.poll_max = poll_max
        self._keys: dict[str, list[str]] = {}
        # Per key, the slots this limiter holds: a Redis member, or None for a local slot.
        self._held: dict[str, collections.deque[str | None]] = {}
        self._locks: RunVar[dict[str, anyio.Lock]] = RunVar("texin_async.redis_locks")
        self._token = secrets.token_hex(6)
        self._counter = itertools.count()
        self._local = LocalRateLimiter(rate_limit)
        self._local_until = float("-inf")
        self._degraded = False

    # -- RateLimiter ---------------------------------------------------------------------

    async def acquire(self, key_id: str) -> None:
        """Wait until ``key_id`` may send one request, and hold a slot for it in Redis.

        Raises:
            LimiterUnavailableError: Redis failed and ``fail_open`` is off.
        """
        slot = await self._shared_or_local(
            lambda: self._acquire_shared(key_id), lambda: self._acquire_local(key_id)
        )
        self._held.setdefault(key_id, collections.deque()).append(slot)

    async def release(self, key_id: str) -> None:
        """The request holding a slot of ``key_id`` is over: the slot ages from now.

        Never raises: if Redis fails here, the slot stays taken until its lease ends.
        """
        held = self._held.get(key_id)
        if not held:
            return
        member = held.popleft()
        if member is None:
            await self._local.release(key_id)
            return
        window = self._keys_for(key_id)[0]
        args = (self._lifetime_us, self._ttl_ms, member)
        try:
            await self._run(self._release_script(keys=[window], args=args), shield=True)
        except LimiterUnavailableError as exc:
            logger.warning("texin shared rate limiter: %s; a slot stays taken", exc.message)

    async def pause(self, key_id: str, seconds: float) -> None:
        """Hold ``key_id`` in every process for ``seconds`` from now (never shortens a pause).

        Raises:
            LimiterUnavailableError: Redis failed and ``fail_open`` is off.
        """
        if not seconds > 0:
            return
        await self._shared_or_local(
            lambda: self._pause_shared(key_id, seconds), lambda: self._local.pause(key_id, seconds)
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the Redis client if this limiter made it from a URL. Safe to call twice."""
        if self._owns_redis:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisRateLimiter:
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
        return math.ceil(max(_LEASE, self.rate_limit.slot_lifetime) * 1000) + 1000

    def _keys_for(self, key_id: str) -> list[str]:
        """The window and pause keys of ``key_id``: a hash of it, never the id itself."""
        try:
            return self._keys[key_id]
        except KeyError:
            digest = hashlib.sha256(b"texin_async.ratelimit\0" + key_id.encode()).hexdigest()
            base = f"{self.prefix}{{{digest[:32]}}}"
            keys = self._keys[key_id] = [f"{base}:window", f"{base}:pause"]
            return keys

    async def _acquire_shared(self, key_id: str) -> str:
        """Wait for a slot in Redis; return the member that holds it."""
        keys = self._keys_for(key_id)
        lease = math.ceil(_LEASE * _MICRO)
        # Holding the lock while sleeping queues this process's waiters in order, so one
        # of them at a time asks Redis: no herd of tasks polling for the same slot.
        async with self._lock(key_id):
            while True:
                member = f"{os.getpid():x}.{self._token}.{next(self._counter)}"
                args = (self.rate_limit.max_rate, self._lifetime_us, lease, self._ttl_ms, member)
                # Shielded: a slot Redis granted must reach the caller, who releases it. If
                # the deadline cuts the call short, a slot it took frees when its lease ends.
                wait = await self._run(self._acquire_script(keys=keys, args=args), shield=True)
                if wait <= 0:
                    return member
                await anyio.sleep(min(wait / _MICRO, self.poll_max) + random.uniform(0, _JITTER))

    async def _acquire_local(self, key_id: str) -> None:
        await self._local.acquire(key_id)

    async def _pause_shared(self, key_id: str, seconds: float) -> None:
        pause_key = self._keys_for(key_id)[1]
        await self._run(self._pause_script(keys=[pause_key], args=[math.ceil(seconds * _MICRO)]))

    async def _run(self, call: Awaitable[Any], *, shield: bool = False) -> int:
        """Await one script call for at most ``_CALL_DEADLINE`` seconds.

        A Redis error, or no answer by the deadline, becomes LimiterUnavailableError.
        ``shield`` protects the call from outer cancellation; the deadline still applies.
        """
        deadline = anyio.current_time() + _CALL_DEADLINE
        with anyio.CancelScope(shield=shield, deadline=deadline):
            try:
                return int(await call)
            except self._redis_error as exc:
                raise _unavailable(f"{type(exc).__name__}: {exc}") from exc
        # Only our own deadline ends the scope without a return or an exception.
        raise _unavailable(f"no answer within {_CALL_DEADLINE:g}s")

    async def _shared_or_local(
        self, shared: Callable[[], Awaitable[_T]], local: Callable[[], Awaitable[_T]]
    ) -> _T:
        """Run ``shared``; with ``fail_open``, run ``local`` instead while Redis is failing."""
        if time.monotonic() >= self._local_until:
            try:
                result = await shared()
            except LimiterUnavailableError as exc:
                if not self.fail_open:
                    raise
                self._fall_back(exc)
            else:
                if self._degraded:
                    self._degraded = False
                    logger.info("texin shared rate limiter: Redis is back, limits are shared again")
                return result
        return await local()

    def _fall_back(self, exc: LimiterUnavailableError) -> None:
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

    def _lock(self, key_id: str) -> anyio.Lock:
        """The in-process queue of ``key_id``'s waiters in the running event loop."""
        try:
            locks = self._locks.get()
        except LookupError:
            locks = {}
            self._locks.set(locks)
        try:
            return locks[key_id]
        except KeyError:
            lock = locks[key_id] = anyio.Lock()
            return lock


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
