"""The process's one SyncTexinClient: one connection pool, and the key's budget shared by
every thread that serves a request.

Made on first use rather than at import: gunicorn ``--preload`` and Celery's prefork import
the project before they fork. (A client made before a fork works too: each child starts
its own loop and pool on first use. Made after, it costs the parent nothing.) There is no
need to close it: open clients are closed when the process exits.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from texin_async import SyncTexinClient


@cache
def client() -> SyncTexinClient:
    """This process's client; ``TEXIN_API_KEY`` and ``TEXIN_BASE_URL`` from the environment."""
    return SyncTexinClient(rate_limit=settings.TEXIN_RATE_LIMIT)
