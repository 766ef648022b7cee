"""FastAPI + texin_async: one client for the app's life, sends, and campaigns in the background.

The lifespan owns one :class:`TexinClient` (one connection pool, one rate-limit budget for
the key) and a task group that runs campaigns, so a shutdown cancels them cleanly. Routes get
the client through ``Depends``; SDK errors become HTTP answers in one table.

Run it against the emulator, no key needed::

    texin emulator --port 8001 &
    TEXIN_BASE_URL=http://127.0.0.1:8001/api/ TEXIN_API_KEY=texin-test-key \\
        uvicorn examples.fastapi_app:app --port 8000
    curl -X POST localhost:8000/sms -H 'content-type: application/json' \\
        -d '{"recipient": "0712345678", "text": "Hello"}'

Against the real API, set only ``TEXIN_API_KEY``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from anyio.abc import TaskGroup
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

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

# -- campaigns: batches running in the lifespan's task group ---------------------------------


@dataclass
class Campaign:
    """One batch queued by POST /campaigns, watched through GET /campaigns/{id}."""

    id: str
    progress: BatchProgress = field(default_factory=BatchProgress)
    state: str = "running"  # running, done, failed
    report: BatchReport | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        """What GET /campaigns/{id} answers: live counts, then the report."""
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
    """Starts campaigns in the lifespan's task group and remembers them by id."""

    def __init__(self, client: TexinClient, tasks: TaskGroup) -> None:
        self._client = client
        self._tasks = tasks
        self._campaigns: dict[str, Campaign] = {}

    def start(self, messages: list[Message]) -> Campaign:
        campaign = Campaign(id=uuid.uuid4().hex[:12])
        self._campaigns[campaign.id] = campaign
        self._tasks.start_soon(self._run, campaign, messages)
        return campaign

    def get(self, campaign_id: str) -> Campaign | None:
        return self._campaigns.get(campaign_id)

    async def _run(self, campaign: Campaign, messages: list[Message]) -> None:
        # An error ends this campaign only: it must not cancel the task group (the app).
        try:
            campaign.report = await self._client.send_batch(messages, progress=campaign.progress)
            campaign.state = "done"
        except TexinError as exc:
            campaign.state, campaign.error = "failed", str(exc)


# -- the app ---------------------------------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One client and one task group for the app's life; TEXIN_API_KEY/TEXIN_BASE_URL."""
    async with TexinClient() as client, anyio.create_task_group() as tasks:
        app.state.texin = client
        app.state.campaigns = Campaigns(client, tasks)
        yield
        tasks.cancel_scope.cancel()  # Shutting down: stop campaigns still running.


app = FastAPI(title="texin_async FastAPI example", lifespan=lifespan)


def texin_client(request: Request) -> TexinClient:
    """The app's one client (a dependency)."""
    client: TexinClient = request.app.state.texin
    return client


def campaigns(request: Request) -> Campaigns:
    """The app's campaign runner (a dependency)."""
    runner: Campaigns = request.app.state.campaigns
    return runner


Client = Annotated[TexinClient, Depends(texin_client)]
Runner = Annotated[Campaigns, Depends(campaigns)]


class SMSIn(BaseModel):
    recipient: str
    text: str
    sender_id: str | None = None


class CampaignIn(BaseModel):
    text: str
    recipients: list[str] = Field(min_length=1, max_length=100_000)
    sender_id: str | None = None


@app.post("/sms")
async def send_sms(body: SMSIn, client: Client) -> dict[str, Any]:
    """Send one SMS now."""
    result = await client.send_sms(body.recipient, body.text, sender_id=body.sender_id)
    return {
        "message_id": result.message_id,
        "recipient": result.recipient,
        "units": result.units_used,
        "cost": str(result.cost),
    }


@app.post("/campaigns", status_code=202)
async def start_campaign(body: CampaignIn, runner: Runner) -> dict[str, str]:
    """Queue a batch; it runs in the background. Poll the returned URL."""
    messages = [Message(number, body.text, body.sender_id) for number in body.recipients]
    campaign = runner.start(messages)
    return {"id": campaign.id, "status_url": f"/campaigns/{campaign.id}"}


@app.get("/campaigns/{campaign_id}")
async def campaign_status(campaign_id: str, runner: Runner) -> dict[str, Any]:
    """A campaign's progress: counts, rate and ETA while running, then the final state."""
    campaign = runner.get(campaign_id)
    if campaign is None:
        raise HTTPException(404, "no such campaign")
    return campaign.view()


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


@app.exception_handler(TexinError)
async def texin_error(request: Request, exc: TexinError) -> JSONResponse:
    """Map an SDK error to its HTTP status; never a 500 with a traceback."""
    status, hint = next((s, h) for kind, s, h in _ERRORS if isinstance(exc, kind))
    if isinstance(exc, APIError) and exc.status_code >= 500 and status == 422:
        status = 502  # The provider (or its gateway) failed: not the caller's fault.
    headers = {}
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        headers["Retry-After"] = str(round(exc.retry_after))
    body = {"detail": str(exc), "error": type(exc).__name__}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=status, headers=headers)
