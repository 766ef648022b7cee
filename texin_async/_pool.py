"""What the SDK reads of an httpx client's connection pool, and the one repair it makes there.

httpx does not say which TLS context or proxy a client would use for a URL, and httpcore
(1.0.x) leaks a pool place when a request is cancelled at the wrong moment
(encode/httpcore#1093). Both live in private attributes of httpx and httpcore, so every
access here is defensive: when the internals differ, a function answers "cannot tell"
(None, False) and changes nothing. ``tests/test_pool.py`` fails if they stop working on
the installed versions, so drift cannot go unnoticed.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

import httpcore
import httpx

__all__ = ["pool_of", "proxy_of", "reap_orphans", "reapable", "ssl_context_of", "transport_for"]

_POOL_INTERNALS = ("_connections", "_requests", "_assign_requests_to_connections")


def transport_for(client: httpx.AsyncClient, url: str) -> httpx.AsyncBaseTransport | None:
    """The transport ``client`` would send a request to ``url`` on: a proxy's, if mounted."""
    pick = getattr(client, "_transport_for_url", None)
    if pick is None:
        return None
    try:
        transport = pick(httpx.URL(url))
    except Exception:  # internals that changed shape: cannot tell
        return None
    return transport if isinstance(transport, httpx.AsyncBaseTransport) else None


def pool_of(transport: object) -> httpcore.AsyncConnectionPool | None:
    """The httpcore pool behind an ``httpx.AsyncHTTPTransport``; None for any other kind."""
    if not isinstance(transport, httpx.AsyncHTTPTransport):
        return None
    pool = getattr(transport, "_pool", None)
    return pool if isinstance(pool, httpcore.AsyncConnectionPool) else None


def ssl_context_of(pool: httpcore.AsyncConnectionPool) -> ssl.SSLContext | None:
    """The TLS context the pool connects to the origin with; None if it cannot be told.

    (A pool given none makes httpcore's default, which verifies.)
    """
    context = getattr(pool, "_ssl_context", None)
    return context if isinstance(context, ssl.SSLContext) else None


def proxy_of(pool: httpcore.AsyncConnectionPool) -> str | None:
    """``host:port`` of the proxy the pool sends through (never its credentials), or None."""
    url = getattr(pool, "_proxy_url", None)
    if not isinstance(url, httpcore.URL):
        return None
    return f"{url.host.decode('ascii', 'replace')}:{url.port or '?'}"


def reapable(pool: object) -> bool:
    """Whether :func:`reap_orphans` can work on ``pool`` (httpcore 1.0's internals)."""
    return isinstance(pool, httpcore.AsyncConnectionPool) and all(
        hasattr(pool, name) for name in (*_POOL_INTERNALS, "_close_connections")
    )


async def reap_orphans(pool: object) -> int:
    """Drop the pool's connections that never connected and that no request owns; let
    waiting requests take their places. Returns how many were dropped.

    A request cancelled after the pool assigned it a new connection, but before that
    connection connected, leaves it behind: never connected, it is neither idle, closed
    nor expired, so the pool never frees its place, and after ``max_connections`` such
    cancellations every request ends in PoolTimeout (encode/httpcore#1093). Only a request
    waiting in ``pool._requests`` can ever connect one, so an unowned one is garbage.
    """
    if not reapable(pool):
        return 0
    live: Any = pool
    with getattr(live, "_optional_thread_lock", contextlib.nullcontext()):
        owned = {id(getattr(request, "connection", None)) for request in live._requests}
        orphans = [c for c in live._connections if id(c) not in owned and _never_connected(c)]
        if not orphans:
            return 0
        for connection in orphans:
            live._connections.remove(connection)
        closing = live._assign_requests_to_connections()
    await live._close_connections([*orphans, *closing])  # shielded by httpcore
    return len(orphans)


def _never_connected(connection: object) -> bool:
    """Whether ``connection`` has no socket and never tried and failed to open one."""
    if isinstance(connection, httpcore.AsyncHTTPConnection):
        return (
            getattr(connection, "_connection", False) is None
            and getattr(connection, "_connect_failed", True) is False
        )
    # A proxy's forwarding or tunnelling connection wraps one to the proxy.
    inner = getattr(connection, "_connection", None)
    return isinstance(inner, httpcore.AsyncHTTPConnection) and _never_connected(inner)
