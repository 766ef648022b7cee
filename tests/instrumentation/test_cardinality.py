"""README's recipe for many keys: an OpenTelemetry View drops ``texin.key_id`` from metrics."""

from __future__ import annotations

import pytest
from mock_api import SENT, Recorder, client_for, json_answer
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View

from texin_async.instrumentation.otel import OpenTelemetryHooks

pytestmark = pytest.mark.anyio


async def test_a_view_keeps_one_series_for_many_keys() -> None:
    """Sends for three keys make one series per endpoint once the View drops the key."""
    reader = InMemoryMetricReader()
    view = View(
        instrument_name="texin.*",
        attribute_keys={"texin.endpoint", "texin.priority", "texin.outcome", "error.type"},
    )
    hooks = OpenTelemetryHooks(meter_provider=MeterProvider(metric_readers=[reader], views=[view]))
    async with client_for(Recorder(json_answer(200, SENT)), hooks=hooks) as platform:
        for account in ("acct-key-000001", "acct-key-000002", "acct-key-000003"):
            await platform.for_key(account).send_sms("0712345678", "Paid, thanks")
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    (calls,) = points["texin.call.duration"]
    assert isinstance(calls, HistogramDataPoint)
    assert calls.count == 3
    assert dict(calls.attributes or {}) == {
        "texin.endpoint": "send_sms",
        "texin.priority": "interactive",
        "texin.outcome": "ok",
    }
