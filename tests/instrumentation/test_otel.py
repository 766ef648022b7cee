"""OpenTelemetryHooks (texin_async.instrumentation.otel): spans and metrics, read back from
the OpenTelemetry SDK's in-memory exporter and metric reader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mock_api import Recorder as Answers
from mock_api import client_for, json_answer
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from texin_async import APIError, OutcomeUnknownError, SyncTexinClient, TexinClient
from texin_async.instrumentation import set_hooks
from texin_async.instrumentation.otel import METRICS, OpenTelemetryHooks
from texin_async.testing import Fault, TexinEmulator

from .conftest import CANARY_KEY, CANARY_PHONE, CANARY_TEXT, QUICK, leaks

pytestmark = pytest.mark.anyio

Make = Callable[..., TexinClient]


@dataclass
class Telemetry:
    """An OpenTelemetryHooks on an SDK whose spans and metrics stay in memory."""

    hooks: OpenTelemetryHooks
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans (of one name), in the order they ended."""
        found = self.exporter.get_finished_spans()
        return [s for s in found if name is None or s.name == name]

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """A metric's data points as (attributes, value): a counter's sum, a histogram's
        (count, sum)."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = (point.count, point.sum)  # type: ignore[union-attr]
                        found.append((dict(point.attributes or {}), value))
        return found


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    """OpenTelemetryHooks with their own providers (the global ones stay untouched)."""
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    hooks = OpenTelemetryHooks(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield Telemetry(hooks, exporter, reader, tracer_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def only(items: list[Any]) -> Any:
    """The one item of a list."""
    assert len(items) == 1, items
    return items[0]


async def test_a_send_is_a_call_span_with_an_attempt_span(emulated: Make, otel: Telemetry) -> None:
    """send_sms: a texin.send_sms span, its texin.attempt child, HTTP and texin attributes."""
    client = emulated(hooks=otel.hooks)
    await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    call, attempt = only(otel.spans("texin.send_sms")), only(otel.spans("texin.attempt"))
    assert attempt.parent is not None
    assert attempt.parent.span_id == call.context.span_id
    assert call.kind is SpanKind.INTERNAL
    assert call.status.status_code is StatusCode.UNSET
    expected = {
        "texin.endpoint": "send_sms",
        "texin.key_id": client.key_id,
        "texin.priority": "interactive",
        "texin.recipients": 1,
        "texin.attempts": 1,
        "texin.units": 1,
        "texin.outcome": "ok",
        "http.request.method": "POST",
        "http.response.status_code": 200,
        "server.address": "127.0.0.1",
    }
    assert expected.items() <= dict(call.attributes or {}).items()
    assert (attempt.attributes or {})["texin.attempt"] == 1
    assert (attempt.attributes or {})["http.response.status_code"] == 200


async def test_a_send_records_durations_wait_units_and_recipients(
    emulated: Make, otel: Telemetry
) -> None:
    """The call's and the attempt's durations, the limiter's wait, units and recipients."""
    client = emulated(hooks=otel.hooks)
    await client.send_bulk_sms([CANARY_PHONE, "0712345678"], CANARY_TEXT)
    attributes, (count, _) = only(otel.points("texin.call.duration"))
    assert count == 1
    assert attributes["texin.outcome"] == "ok"
    assert attributes["texin.endpoint"] == "send_bulk_sms"
    attributes, (count, _) = only(otel.points("texin.request.duration"))
    assert (count, attributes["http.response.status_code"]) == (1, 200)
    assert only(otel.points("texin.limiter.wait_time"))[1][0] == 1
    assert only(otel.points("texin.sms.units"))[1] == 2
    assert only(otel.points("texin.sms.recipients"))[1] == 2
    assert otel.points("texin.calls.maybe_sent") == []


async def test_a_retry_is_two_attempt_spans_and_an_event(
    emulated: Make, otel: Telemetry, texin_emulator: TexinEmulator
) -> None:
    """A 500 then a success: the first attempt's span errs, the call's has a texin.retry event."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR, endpoint="get_balance")
    await emulated(hooks=otel.hooks).get_balance()
    call = only(otel.spans("texin.get_balance"))
    first, second = otel.spans("texin.attempt")
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})["error.type"] == "ServerError"
    assert (first.attributes or {})["http.response.status_code"] == 500
    assert second.status.status_code is StatusCode.UNSET
    assert [e.name for e in call.events] == ["texin.retry"]
    assert call.status.status_code is StatusCode.UNSET
    statuses = sorted(
        a["http.response.status_code"] for a, _ in otel.points("texin.request.duration")
    )
    assert statuses == [200, 500]


async def test_a_maybe_sent_send_is_counted_unknown(
    emulated: Make, otel: Telemetry, texin_emulator: TexinEmulator
) -> None:
    """A dropped send: an erring span, one maybe_sent call, its recipient counted unknown."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    with pytest.raises(OutcomeUnknownError):
        await emulated(hooks=otel.hooks).send_sms(CANARY_PHONE, CANARY_TEXT)
    call = only(otel.spans("texin.send_sms"))
    assert call.status.status_code is StatusCode.ERROR
    assert (call.attributes or {})["error.type"] == "OutcomeUnknownError"
    assert (call.attributes or {})["texin.maybe_sent"] is True
    attributes, value = only(otel.points("texin.calls.maybe_sent"))
    assert (value, attributes["error.type"], attributes["texin.outcome"]) == (
        1,
        "OutcomeUnknownError",
        "unknown",
    )
    assert only(otel.points("texin.sms.recipients"))[0]["texin.outcome"] == "unknown"


async def test_a_429_is_counted_with_the_seconds_paused(
    emulated: Make, otel: Telemetry, texin_emulator: TexinEmulator
) -> None:
    """A forced 429: one 429 answer, the key's pause in seconds, an event on the call's span."""
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    client = emulated(hooks=otel.hooks)
    await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    attributes, value = only(otel.points("texin.rate_limit.responses"))
    assert (value, attributes["texin.key_id"]) == (1, client.key_id)
    assert only(otel.points("texin.rate_limit.pause_time"))[1] == pytest.approx(0.01)
    events = [e.name for e in only(otel.spans("texin.send_sms")).events]
    assert events == ["texin.rate_limit.pause", "texin.retry"]


async def test_a_batch_span_holds_its_calls_and_counts(emulated: Make, otel: Telemetry) -> None:
    """send_batch: a texin.batch span, parent of the calls' spans; items counted by outcome."""
    items = [(CANARY_PHONE, CANARY_TEXT), ("0712345678", "other text"), ("bad", "x")]
    await emulated(hooks=otel.hooks).send_batch(items)
    batch = only(otel.spans("texin.batch"))
    calls = otel.spans("texin.send_sms")
    assert len(calls) == 2
    assert all(c.parent is not None and c.parent.span_id == batch.context.span_id for c in calls)
    attributes = batch.attributes or {}
    assert (attributes["texin.batch.sent"], attributes["texin.batch.invalid"]) == (2, 1)
    assert attributes["texin.batch.requests"] == 2
    items_by_outcome = {a["texin.outcome"]: v for a, v in otel.points("texin.batch.items")}
    assert items_by_outcome == {"sent": 2, "invalid": 1}
    assert only(otel.points("texin.batch.duration"))[1][0] == 1


async def test_no_span_or_metric_holds_a_number_a_text_or_the_key(
    emulated: Make, otel: Telemetry, texin_emulator: TexinEmulator
) -> None:
    """Successes, retries, 429s, unknowns, refusals quoting the number, a batch: no canary
    in any span name, attribute, event or status, or in any metric attribute."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR, endpoint="get_balance")
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    client = emulated(hooks=otel.hooks)
    await client.get_balance()
    await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    await client.send_batch([(CANARY_PHONE, CANARY_TEXT), ("0712345678", CANARY_TEXT)])
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    with pytest.raises(OutcomeUnknownError):
        await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    refusal = {"success": False, "message": f"Invalid phone {CANARY_PHONE}", "error": CANARY_TEXT}
    answers = Answers(json_answer(400, refusal))
    # The same key, so the same budget as the emulator's client: the default one.
    async with client_for(
        answers, api_key=CANARY_KEY, rate_limit="100/60", hooks=otel.hooks
    ) as refused:
        with pytest.raises(APIError, match="Invalid phone"):
            await refused.send_sms(CANARY_PHONE, CANARY_TEXT)
    spans = otel.spans()
    assert len(spans) > 10
    for span in spans:
        texts = [span.name, repr(span.attributes), repr(span.status.description)]
        texts += [f"{e.name} {e.attributes!r}" for e in span.events]
        assert leaks(" ".join(texts)) == [], span.name
    data = otel.reader.get_metrics_data()
    assert data is not None
    assert leaks(data.to_json()) == []


async def test_httpx_spans_nest_under_the_attempt_span(
    texin_emulator_url: str, canary_key: str, otel: Telemetry
) -> None:
    """With opentelemetry-instrumentation-httpx on, its one HTTP span per request is a
    child of our attempt span: no duplicate, no orphan."""
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        async with TexinClient(
            canary_key, base_url=texin_emulator_url, retry=QUICK, hooks=otel.hooks
        ) as client:
            await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    finally:
        instrumentor.uninstrument()
    attempt = only(otel.spans("texin.attempt"))
    http = only([s for s in otel.spans() if s.kind is SpanKind.CLIENT])
    assert http.parent is not None
    assert http.parent.span_id == attempt.context.span_id
    assert {s.name for s in otel.spans()} == {"texin.send_sms", "texin.attempt", http.name}


async def test_the_callers_span_is_the_parent(emulated: Make, otel: Telemetry) -> None:
    """A call made inside a span of the application's is a child of it."""
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as parent:
        await emulated(hooks=otel.hooks).get_balance()
    call = only(otel.spans("texin.get_balance"))
    assert call.parent is not None
    assert call.parent.span_id == parent.get_span_context().span_id


def test_a_sync_clients_call_is_a_child_of_the_callers_span(
    texin_emulator_url: str, canary_key: str, otel: Telemetry
) -> None:
    """SyncTexinClient runs on its own loop thread, yet the caller's span is the parent."""
    set_hooks([otel.hooks])
    tracer = otel.tracer_provider.get_tracer("app")
    with (
        SyncTexinClient(canary_key, base_url=texin_emulator_url, retry=QUICK) as client,
        tracer.start_as_current_span("view") as parent,
    ):
        client.get_balance()
    call = only(otel.spans("texin.get_balance"))
    assert call.parent is not None
    assert call.parent.span_id == parent.get_span_context().span_id


async def test_without_an_sdk_every_span_and_metric_is_a_no_op() -> None:
    """On the API's no-op providers the hook costs nothing and breaks nothing."""
    hooks = OpenTelemetryHooks(
        tracer_provider=trace.NoOpTracerProvider(),
        meter_provider=metrics.NoOpMeterProvider(),
    )
    answers = Answers(httpx.ConnectError("refused"), json_answer(200, {"success": True}))
    async with client_for(answers, hooks=hooks) as client:
        assert (await client.get_balance()).success
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


def test_every_metric_is_named_in_the_texin_namespace() -> None:
    """METRICS names each instrument once, all under texin.*, durations in seconds."""
    assert all(name.startswith("texin.") for name in METRICS)
    assert all(unit == "s" for name, (_, unit, _d) in METRICS.items() if "duration" in name)
