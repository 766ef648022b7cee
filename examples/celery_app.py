"""Celery + texin_async: SMS sent from tasks, every worker on one budget through Redis.

Each worker process of each host holds one :class:`SyncTexinClient`, and all of them draw
on the API key's one budget (100 requests a minute) through :class:`RedisRateLimiter`, so
however many workers run, the provider never sees more. A task retries only what surely was
not sent (``maybe_sent`` False); a send that may have gone out fails at once instead of
texting someone twice.

Run a worker against the emulator, no key needed::

    pip install -e ".[celery]"
    texin emulator --port 8001 &
    export TEXIN_BASE_URL=http://127.0.0.1:8001/api/ TEXIN_API_KEY=texin-test-key
    celery -A examples.celery_app worker --concurrency 4
    python -c "from examples.celery_app import send_sms; send_sms.delay('0712345678', 'Hi')"

``CELERY_BROKER_URL`` and ``TEXIN_REDIS_URL`` default to the local Redis.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_shutdown

from texin_async import InvalidRequestError, RedisRateLimiter, SyncTexinClient, TexinError

REDIS_URL = os.environ.get("TEXIN_REDIS_URL", "redis://localhost:6379/0")

app = Celery("texin_example", broker=os.environ.get("CELERY_BROKER_URL", REDIS_URL))
app.conf.task_acks_late = False  # a task that may have sent must not run again on a crash


@cache
def client() -> SyncTexinClient:
    """This worker process's client, made on its first task: after the prefork fork, so
    each process has its own connections, to the API and to Redis."""
    return SyncTexinClient(limiter=RedisRateLimiter(REDIS_URL))


@worker_process_shutdown.connect
def close_client(**_: Any) -> None:
    """Close the pool when the worker process stops (exit would, too)."""
    if client.cache_info().currsize:
        client().close()


@app.task(bind=True, max_retries=5)
def send_sms(self: Task, recipient: str, text: str) -> dict[str, Any]:
    """Send one SMS; retry later only if it surely was not sent."""
    try:
        result = client().send_sms(recipient, text)
    except InvalidRequestError:
        raise  # a bad number or text: retrying cannot help
    except TexinError as exc:
        if exc.maybe_sent:
            raise  # it may have gone out: never send it twice
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    return {"message_id": result.message_id, "units": result.units_used}
