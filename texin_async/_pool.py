"""What the SDK reads of an httpx client's connection pool.

httpx does not say which TLS context or proxy a client would use for a URL. Both live in
private attributes of httpx and httpcore (1.0.x), so every access here is defensive: when
the internals differ, a function answers "cannot tell" (None) and the caller goes on.
"""

from __future__ import annotations

import ssl

import httpcore
import httpx

__all__ = ["pool_of", "proxy_of", "ssl_context_of", "transport_for"]


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
