"""The public API as users write it, checked by ``mypy --strict`` (not run by pytest)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from decimal import Decimal

import httpx

from texin_async import (
    APIError,
    Balance,
    BatchProgress,
    BatchReport,
    BulkSMSResult,
    LocalRateLimiter,
    Message,
    MessageStatus,
    Outcome,
    OutcomeStatus,
    OutcomeUnknownError,
    RateLimit,
    RateLimiter,
    RateLimitError,
    RetryDetails,
    RetryPolicy,
    SMSResult,
    SyncTexinClient,
    TexinClient,
    count_units,
    estimate_cost,
    normalize_recipient,
)
from texin_async.instrumentation import (
    AttemptDetails,
    BatchDetails,
    CallDetails,
    CallStarted,
    Event,
    Hook,
    add_hook,
    get_hooks,
    set_hooks,
)
from texin_async.instrumentation.otel import OpenTelemetryHooks


def log_retry(details: RetryDetails) -> None:
    print(details.endpoint, details.attempt, details.wait, type(details.error).__name__)


async def hot_path(client: TexinClient) -> str | None:
    try:
        sent: SMSResult = await client.send_sms("0712345678", "Your code is 4821")
    except OutcomeUnknownError:
        return None
    except RateLimitError as exc:
        retry_after: float | None = exc.retry_after
        return str(retry_after)
    except APIError as exc:
        status: int = exc.status_code
        return f"{status} {exc.message} {exc.error}"
    cost: Decimal | None = sent.cost
    units: int | None = sent.units_used
    return f"{sent.message_id} {units} {cost}"


async def everything() -> None:
    policy = RetryPolicy(attempts=5, on_retry=log_retry, retry_ambiguous_sends=False)
    limit = RateLimit(max_rate=100, time_period=60.0, margin=0.003)
    async with TexinClient(
        "key",
        base_url="https://texin.hotspotbillingsystem.co.ke/api/",
        sender_id="Texin",
        rate_limit=limit,
        retry=policy,
        timeout=httpx.Timeout(10.0, connect=2.0),
        max_connections=4,
    ) as client:
        balance: Balance = await client.get_balance()
        credits: Decimal | None = balance.sms_balance
        bulk: BulkSMSResult = await client.send_bulk_sms(["0712345678"], "Hi")
        message_id: str | None = bulk.message_id_for("0712345678")
        successful: int | None = bulk.statistics.successful if bulk.statistics else None
        if message_id is not None:
            status: MessageStatus = await client.check_status(message_id)
            created: datetime | None = status.created_at
            transaction: str | None = (
                status.gateway_response.transaction_id if status.gateway_response else None
            )
            print(created, transaction)
        print(credits, successful, await hot_path(client))
    limiter: RateLimiter = LocalRateLimiter(limit)  # satisfies the protocol
    print(limiter, count_units("Hi"), estimate_cost("Hi", 3), normalize_recipient("0712345678"))


async def batches(client: TexinClient, rows: list[dict[str, str]]) -> int:
    progress = BatchProgress()
    seen: list[Outcome] = []
    report: BatchReport = await client.send_batch(
        (Message(r["phone"], f"Hi {r['name']}", ref=r["id"]) for r in rows),
        chunk_size=100,
        max_in_flight=4,
        journal="job.sqlite",
        on_outcome=seen.append,
        progress=progress,
    )
    async for outcome in client.iter_batch([("0712345678", "Hi")], dry_run=True):
        if outcome.status is OutcomeStatus.SENT:
            print(outcome.message_id, outcome.units, outcome.normalized)
    print(progress.rate, progress.eta, report.cost, report.elapsed)
    return report.sent + report.invalid + report.failed + report.unknown


def without_asyncio(rows: list[dict[str, str]]) -> int:
    with SyncTexinClient(
        "key", rate_limit="100/60", retry=RetryPolicy(attempts=2), transport="aiohttp"
    ) as client:
        sent: SMSResult = client.send_sms("0712345678", "Your code is 4821", sender_id="Texin")
        balance: Balance = client.get_balance()
        bulk: BulkSMSResult = client.send_bulk_sms(["0712345678"], "Hi")
        if sent.message_id is not None:
            status: MessageStatus = client.check_status(sent.message_id)
            print(status.status)
        report: BatchReport = client.send_batch(
            ((r["phone"], f"Hi {r['name']}") for r in rows), journal="job.sqlite"
        )
        outcomes: Iterator[Outcome] = client.iter_batch([Message("0712345678", "Hi")])
        with open("results.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            for outcome in outcomes:
                writer.writerow([outcome.ref, outcome.status.value, outcome.message_id])
        print(balance.sms_balance, bulk.statistics, client.state, client.key_id)
    client.close()
    return report.sent


def to_metrics(event: Event) -> None:
    if isinstance(event, CallDetails):
        seconds: float = event.elapsed
        units: int = event.units
        unknown: bool = event.maybe_sent
        kind: str | None = event.error_type
        print(event.endpoint, event.priority.name, event.key_id, seconds, units, unknown, kind)
    elif isinstance(event, AttemptDetails):
        status: int | None = event.status
        print(event.attempt, event.wait, status)
    elif isinstance(event, BatchDetails):
        print(event.report.sent, event.report.unknown, event.report.elapsed)


@contextmanager
def timed(name: str) -> Iterator[None]:
    print("start", name)
    yield


def tracing(event: Event) -> AbstractContextManager[None] | None:
    return timed(event.endpoint) if isinstance(event, CallStarted) else None


async def instrumented() -> None:
    set_hooks([to_metrics, OpenTelemetryHooks()])
    add_hook(tracing)
    hooks: tuple[Hook, ...] = get_hooks()
    async with TexinClient("key", hooks=to_metrics) as client:
        await client.get_balance()
    with SyncTexinClient("key", hooks=[tracing, *hooks]) as sync:
        sync.get_balance()
