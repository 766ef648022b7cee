"""aiohttp + texin_async: one client in ``cleanup_ctx``, sends, and background campaigns.

``cleanup_ctx`` opens one :class:`TexinClient` at startup (one connection pool, one
rate-limit budget for the key) and closes it at shutdown, after cancelling any campaign
still running. A middleware turns SDK errors into HTTP answers from one table.

Run it against the emulator, no key needed::

    texin emulator --port 8001 &
    TEXIN_BASE_URL=http://127.0.0.1:8001/api/ TEXIN_API_KEY=texin-test-key \\
        python -m aiohttp.web -P 8000 examples.aiohttp_app:make_app

The client sends on a native aiohttp session (``transport="aiohttp"``, the ``aiohttp``
extra), the same library the app already runs on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from texin_async import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BatchProgress,
    BatchReport,
    InvalidRequestError,
    Message,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    TexinClient,
    TexinError,
)

# -- campaigns: batches running as tasks the app owns ----------------------------------------


@dataclass
class Campaign:
    """One batch queued by POST /campaigns, watched through GET /campaigns/{id}."""

    id: str
    progress: BatchProgress = field(default_factory=BatchProgress)
    state: str = "running"  # running, done, failed, cancelled
    report: BatchReport | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        """What GET /campaigns/{id} answers: live counts, then the final state."""
        p = self.progress
        return {
            "id": self.id,
            "state": self.state,
            "total": p.total,
            "done": p.done,
            "sent": p.sent,
            "invalid": p.invalid,
            "failed": p.failed,
            "unknown": p.unknown,
            "rate": round(p.rate, 2),
            "eta_seconds": p.eta,
            "cost": str(p.cost),
            "error": self.error,
        }


class Campaigns:
    """Runs campaigns as tasks, remembers them by id, cancels the running ones on close."""

    def __init__(self, client: TexinClient) -> None:
        self._client = client
        self._campaigns: dict[str, Campaign] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, messages: list[Message]) -> Campaign:
        campaign = Campaign(id=uuid.uuid4().hex[:12])
        self._campaigns[campaign.id] = campaign
        task = asyncio.create_task(self._run(campaign, messages))
        self._tasks.add(task)  # Keep a reference: the loop holds tasks only weakly.
        task.add_done_callback(self._tasks.discard)
        return campaign

    def get(self, campaign_id: str) -> Campaign | None:
        return self._campaigns.get(campaign_id)

    async def aclose(self) -> None:
        """Cancel the campaigns still running and wait for them to stop."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, campaign: Campaign, messages: list[Message]) -> None:
        try:
            campaign.report = await self._client.send_batch(messages, progress=campaign.progress)
            campaign.state = "done"
        except TexinError as exc:
            campaign.state, campaign.error = "failed", str(exc)
        except asyncio.CancelledError:
            campaign.state = "cancelled"
            raise


# -- the app ---------------------------------------------------------------------------------

TEXIN = web.AppKey("texin", TexinClient)
CAMPAIGNS = web.AppKey("campaigns", Campaigns)


async def texin_context(app: web.Application) -> AsyncIterator[None]:
    """One client for the app's life; TEXIN_API_KEY/TEXIN_BASE_URL from the environment."""
    async with TexinClient(transport="aiohttp") as client:
        app[TEXIN] = client
        app[CAMPAIGNS] = Campaigns(client)
        yield
        await app[CAMPAIGNS].aclose()


routes = web.RouteTableDef()


@routes.post("/sms")
async def send_sms(request: web.Request) -> web.Response:
    """Send one SMS now."""
    body = await _json_object(request)
    result = await request.app[TEXIN].send_sms(
        _string(body, "recipient"), _string(body, "text"), sender_id=body.get("sender_id")
    )
    return web.json_response(
        {
            "message_id": result.message_id,
            "recipient": result.recipient,
            "units": result.units_used,
            "cost": str(result.cost),
        }
    )


@routes.post("/campaigns")
async def start_campaign(request: web.Request) -> web.Response:
    """Queue a batch; it runs in the background. Poll the returned URL."""
    body = await _json_object(request)
    text, sender_id = _string(body, "text"), body.get("sender_id")
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        raise InvalidRequestError("recipients must be a non-empty list of numbers")
    campaign = request.app[CAMPAIGNS].start(
        [Message(number, text, sender_id) for number in recipients]
    )
    return web.json_response(
        {"id": campaign.id, "status_url": f"/campaigns/{campaign.id}"}, status=202
    )


@routes.get("/campaigns/{campaign_id}")
async def campaign_status(request: web.Request) -> web.Response:
    """A campaign's progress: counts, rate and ETA while running, then the final state."""
    campaign = request.app[CAMPAIGNS].get(request.match_info["campaign_id"])
    if campaign is None:
        raise web.HTTPNotFound(text="no such campaign")
    return web.json_response(campaign.view())


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequestError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string")
    return value


# -- SDK errors as HTTP answers: one table, most specific first ------------------------------

_ERRORS: tuple[tuple[type[TexinError], int, str | None], ...] = (
    (InvalidRequestError, 422, None),
    (RateLimitError, 429, "the SMS provider's rate limit: retry later"),
    (AuthenticationError, 502, "the SMS provider refused our credentials"),
    (PermissionDeniedError, 502, "the SMS provider refused our credentials"),
    (APIError, 422, None),  # Refused (bad sender id, low balance): the API's reason.
    (APIConnectionError, 503, "the SMS provider is unreachable; nothing was sent: retry"),
    (
        OutcomeUnknownError,
        502,
        "no answer from the SMS provider: the SMS may have been sent; check its status "
        "before sending again",
    ),
    (TexinError, 502, None),
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def texin_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map an SDK error to its HTTP status; never a 500 with a traceback."""
    try:
        return await handler(request)
    except TexinError as exc:
        status, hint = next((s, h) for kind, s, h in _ERRORS if isinstance(exc, kind))
        if isinstance(exc, APIError) and exc.status_code >= 500 and status == 422:
            status = 502  # The provider (or its gateway) failed: not the caller's fault.
        headers = {}
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            headers["Retry-After"] = str(round(exc.retry_after))
        body = {"detail": str(exc), "error": type(exc).__name__}
        if hint:
            body["hint"] = hint
        return web.json_response(body, status=status, headers=headers)


def make_app(argv: list[str] | None = None) -> web.Application:
    """The application (``python -m aiohttp.web examples.aiohttp_app:make_app``)."""
    app = web.Application(middlewares=[texin_errors])
    app.cleanup_ctx.append(texin_context)
    app.add_routes(routes)
    return app


if __name__ == "__main__":
    web.run_app(make_app())
