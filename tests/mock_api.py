"""A scripted API over httpx.MockTransport, for the client's pure logic (no sockets).

Behaviour over real sockets against the emulator lives in the tests named after each
module (``test_client.py``, ``batch/``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx

from texin_async import LimiterPlan, Priority, RetryPolicy, TexinClient
from texin_async._lane import Ending
from texin_async._ratelimit import ending_of

#: A key that must never show up in an error, a repr or a log line.
CANARY = "canary-SECRET-KEY-0123456789"
#: Retries without waiting.
INSTANT = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)
#: Ambiguous sends retried too, without waiting.
INSTANT_AMBIGUOUS = RetryPolicy(
    attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, retry_ambiguous_sends=True
)
#: The documented send_sms success answer.
SENT: dict[str, Any] = {
    "success": True,
    "message": "SMS sent successfully!",
    "message_id": "API-1",
    "recipient": "254712345678",
    "sender_id": "Texin",
    "units_used": 1,
    "message_length": 37,
    "cost": 0.3,
    "new_balance": 92,
    "simulation_mode": False,
    "details": {
        "To": "254712345678",
        "Message ID": "API-1",
        "Units used": 1,
        "Cost": "KES 0.30",
        "New balance": "92 credits",
        "Length": "37 characters",
    },
}
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that counts requests and replays a script of answers.

    The last answer repeats once the script runs out.
    """

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(handler: Any, **kw: Any) -> TexinClient:
    """A client on ``handler``, fast retries, client-side limiting off unless given."""
    kw.setdefault("retry", INSTANT)
    if "limiter" not in kw:
        kw.setdefault("rate_limit", None)
    return TexinClient(
        kw.pop("api_key", CANARY),
        base_url="http://127.0.0.1/api/",
        transport=httpx.MockTransport(handler),
        **kw,
    )


def json_answer(status: int, body: object, **headers: str) -> httpx.Response:
    """An answer with a JSON body."""
    return httpx.Response(status, json=body, headers=headers)


def error_body(message: str = "nope", error: str = "detail") -> dict[str, object]:
    """The documented refusal envelope."""
    return {"success": False, "message": message, "error": error}


def html(status: int, text: str = "Bad Gateway") -> httpx.Response:
    """A proxy's HTML page."""
    return httpx.Response(
        status, text=f"<html>{status} {text}</html>", headers={"Content-Type": "text/html"}
    )


class HookLimiter:
    """A RateLimiter for tests: ``acquire`` before each slot, ``release`` after it."""

    def slot(
        self, key_id: str, priority: Priority = Priority.INTERACTIVE
    ) -> AbstractAsyncContextManager[None]:
        return self._slot(key_id, priority)

    @asynccontextmanager
    async def _slot(self, key_id: str, priority: Priority) -> AsyncIterator[None]:
        await self.acquire(key_id, priority)
        ending = Ending.UNANSWERED
        try:
            yield
            ending = Ending.ANSWERED
        except BaseException as exc:
            ending = ending_of(exc)
            raise
        finally:
            await self.release(key_id, ending)

    async def acquire(self, key_id: str, priority: Priority) -> None:
        """Called as a request asks for a slot."""

    async def release(self, key_id: str, ending: Ending) -> None:
        """Called as the slot's request ends."""

    async def pause(self, key_id: str, seconds: float) -> None:
        """A 429's pause."""

    async def plan(self, key_id: str, requests: int, priority: Priority) -> LimiterPlan:
        return LimiterPlan(0.0, 0.0, 0)

    async def remember(self, key_id: str, sent_at: Sequence[float]) -> None:
        """Nothing to remember."""
