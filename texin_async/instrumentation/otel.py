"""OpenTelemetry for texin_async: spans and metrics from one hook object (the ``otel`` extra).

Enable it for the whole process, or for one client::

    from texin_async.instrumentation import set_hooks
    from texin_async.instrumentation.otel import OpenTelemetryHooks

    set_hooks([OpenTelemetryHooks()])          # or TexinClient(hooks=OpenTelemetryHooks())

**Spans** (kind INTERNAL: the SDK's logical work, not HTTP requests): one per public call,
named ``texin.<endpoint>`` (``texin.send_sms``, ``texin.get_balance``...), with a child
``texin.attempt`` per HTTP attempt that starts when the attempt asks the key's limiter for
a slot; ``texin.batch`` around a batch's calls. An attempt's span is current while its
request is sent, so the spans of ``opentelemetry-instrumentation-httpx`` (or aiohttp's)
nest under it rather than duplicate it. Retries and 429 pauses are events on the call's
span (``texin.retry``, ``texin.rate_limit.pause``).

**Metrics** (names in :data:`METRICS`): call and request durations and the limiter's wait
as histograms in seconds; SMS units, recipients, maybe-sent calls, 429 answers, seconds
paused, batch items as counters.

Attributes follow the OpenTelemetry HTTP conventions where they apply
(``http.request.method``, ``http.response.status_code``, ``error.type``,
``server.address``, ``server.port``); the rest are ``texin.*``. None holds a phone number,
a message text, an error message or the API key: the key is named by ``texin.key_id``.
This module needs only ``opentelemetry-api``; without an SDK configured, every span and
instrument is a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from opentelemetry import context, metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .._endpoints import ENDPOINTS
from .._retry import RetryDetails
from .._version import __version__
from ._events import (
    AttemptDetails,
    AttemptStarted,
    BatchDetails,
    BatchStarted,
    CallDetails,
    CallStarted,
    Event,
    PauseDetails,
)

__all__ = ["METRICS", "OpenTelemetryHooks"]

_SCOPE = "texin_async"
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_BATCH_SECONDS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)

#: Every metric: name → (instrument, unit, description).
METRICS: Mapping[str, tuple[str, str, str]] = {
    "texin.call.duration": ("histogram", "s", "Public calls, start to end: waits and retries"),
    "texin.request.duration": ("histogram", "s", "HTTP attempts, from their slot to the answer"),
    "texin.limiter.wait_time": ("histogram", "s", "Waits of attempts for the key's budget"),
    "texin.sms.units": (
        "counter",
        "{unit}",
        "SMS units confirmed sends used (the API's count, else the SDK's)",
    ),
    "texin.sms.recipients": ("counter", "{recipient}", "Numbers sent to, by texin.outcome"),
    "texin.calls.maybe_sent": ("counter", "{call}", "Calls that failed maybe sent (unknown)"),
    "texin.rate_limit.responses": ("counter", "{response}", "429 answers from the API"),
    "texin.rate_limit.pause_time": ("counter", "s", "Seconds keys were paused by 429s"),
    "texin.batch.duration": ("histogram", "s", "Batches, start to end"),
    "texin.batch.items": ("counter", "{item}", "Batch items settled, by texin.outcome"),
}
_BUCKETS = {"texin.batch.duration": _BATCH_SECONDS}


class _Call(NamedTuple):
    """A call's span, and the attributes its metrics share."""

    span: Span
    attributes: dict[str, Any]


class OpenTelemetryHooks:
    """A hook that turns the SDK's events into OpenTelemetry spans and metrics.

    Make one per process (it holds its instruments) and register it process-wide with
    ``set_hooks([OpenTelemetryHooks()])``, or pass it to a client's ``hooks=``.

    Args:
        tracer_provider: Where spans go; the global provider when None.
        meter_provider: Where metrics go; the global provider when None.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider)
        self._histograms, self._counters = _instruments(meter)
        # Per instance: two of them (one process-wide, one a client's) must not mix spans.
        self._call: ContextVar[_Call | None] = ContextVar("texin_otel_call", default=None)
        self._attempt: ContextVar[Span | None] = ContextVar("texin_otel_attempt", default=None)
        self._batch: ContextVar[Span | None] = ContextVar("texin_otel_batch", default=None)
        self._servers: dict[str, dict[str, Any]] = {}
        self._handlers: dict[type[Any], Callable[[Any], _Scope | None]] = {
            CallStarted: self._call_started,
            AttemptStarted: self._attempt_started,
            AttemptDetails: self._attempt_ended,
            CallDetails: self._call_ended,
            RetryDetails: self._retried,
            PauseDetails: self._paused,
            BatchStarted: self._batch_started,
            BatchDetails: self._batch_ended,
        }

    def __call__(self, event: Event, /) -> _Scope | None:
        """Handle one event; a ``*Started`` event's answer is the span's scope."""
        handler = self._handlers.get(type(event))
        return None if handler is None else handler(event)

    def __repr__(self) -> str:
        return f"<OpenTelemetryHooks tracer={self._tracer!r}>"

    # -- calls -----------------------------------------------------------------------------

    def _call_started(self, event: CallStarted) -> _Scope:
        attributes = {
            "texin.endpoint": event.endpoint,
            "texin.priority": event.priority.name.lower(),
            "texin.key_id": event.key_id,
            **self._server(event.base_url),
        }
        span = self._tracer.start_span(
            f"texin.{event.endpoint}",
            kind=SpanKind.INTERNAL,
            attributes={
                **attributes,
                "http.request.method": _method(event.endpoint),
                "texin.recipients": event.recipients,
            },
        )
        return _Scope(span, self._call, _Call(span, attributes))

    def _call_ended(self, event: CallDetails) -> None:
        call = self._call.get()
        outcome = _outcome(event)
        if call is not None and call.span.is_recording():
            call.span.set_attributes(
                {
                    "texin.attempts": event.attempts,
                    "texin.limiter.wait_time": event.wait,
                    "texin.units": event.units,
                    "texin.outcome": outcome,
                    "texin.maybe_sent": event.maybe_sent,
                }
            )
            _annotate(call.span, event.status, event.error_type)
        base = _call_attributes(event) if call is None else call.attributes
        attributes = {**base, "texin.outcome": outcome}
        if event.error_type is not None:
            attributes["error.type"] = event.error_type
        self._record("texin.call.duration", event.elapsed, attributes)
        if event.units:
            self._add("texin.sms.units", event.units, attributes)
        if event.recipients:
            self._add("texin.sms.recipients", event.recipients, attributes)
        if event.maybe_sent:
            self._add("texin.calls.maybe_sent", 1, attributes)

    # -- attempts --------------------------------------------------------------------------

    def _attempt_started(self, event: AttemptStarted) -> _Scope:
        span = self._tracer.start_span(
            "texin.attempt",
            kind=SpanKind.INTERNAL,
            start_time=time.time_ns() - int(event.wait * 1e9),  # from asking for the slot
            attributes={
                "texin.endpoint": event.endpoint,
                "texin.attempt": event.attempt,
                "texin.limiter.wait_time": event.wait,
            },
        )
        return _Scope(span, self._attempt, span)

    def _attempt_ended(self, event: AttemptDetails) -> None:
        span = self._attempt.get()
        if span is not None and span.is_recording():
            span.set_attribute("texin.maybe_sent", event.maybe_sent)
            _annotate(span, event.status, event.error_type)
        call = self._call.get()
        base = _call_attributes(event) if call is None else call.attributes
        self._record("texin.limiter.wait_time", event.wait, base)
        if event.status == 429:
            self._add("texin.rate_limit.responses", 1, base)
        attributes = {**base, "http.request.method": _method(event.endpoint)}
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.error_type is not None:
            attributes["error.type"] = event.error_type
        self._record("texin.request.duration", event.elapsed, attributes)

    def _retried(self, event: RetryDetails) -> None:
        call = self._call.get()
        if call is not None and call.span.is_recording():
            attributes: dict[str, Any] = {
                "texin.attempt": event.attempt,
                "texin.retry.wait": event.wait,
                "error.type": type(event.error).__name__,
            }
            call.span.add_event("texin.retry", attributes)

    def _paused(self, event: PauseDetails) -> None:
        call = self._call.get()
        if call is not None and call.span.is_recording():
            attributes = {"texin.wait": event.wait, "texin.retry_after": event.retry_after}
            call.span.add_event("texin.rate_limit.pause", attributes)
        self._add("texin.rate_limit.pause_time", event.wait, {"texin.key_id": event.key_id})

    # -- batches ---------------------------------------------------------------------------

    def _batch_started(self, event: BatchStarted) -> _Scope:
        attributes: dict[str, Any] = {
            "texin.key_id": event.key_id,
            "texin.priority": event.priority.name.lower(),
            "texin.batch.dry_run": event.dry_run,
        }
        if event.total is not None:
            attributes["texin.batch.total"] = event.total
        span = self._tracer.start_span("texin.batch", kind=SpanKind.INTERNAL, attributes=attributes)
        return _Scope(span, self._batch, span)

    def _batch_ended(self, event: BatchDetails) -> None:
        report = event.report
        counts = {
            "sent": report.sent,
            "invalid": report.invalid,
            "failed": report.failed,
            "unknown": report.unknown,
            "planned": report.planned,
        }
        span = self._batch.get()
        if span is not None and span.is_recording():
            span.set_attributes({f"texin.batch.{name}": count for name, count in counts.items()})
            span.set_attributes(
                {
                    "texin.batch.requests": report.requests,
                    "texin.batch.units": report.units,
                    "texin.batch.resumed": report.resumed,
                }
            )
            _annotate(span, None, event.error_type)
        attributes: dict[str, Any] = {
            "texin.key_id": event.key_id,
            "texin.priority": event.priority.name.lower(),
        }
        for name, count in counts.items():
            if count:
                self._add("texin.batch.items", count, {**attributes, "texin.outcome": name})
        if event.error_type is not None:
            attributes["error.type"] = event.error_type
        self._record("texin.batch.duration", report.elapsed, attributes)

    # -- helpers ---------------------------------------------------------------------------

    def _server(self, base_url: str) -> dict[str, Any]:
        """``server.address`` and ``server.port`` of a base URL (parsed once)."""
        server = self._servers.get(base_url)
        if server is None:
            parts = urlsplit(base_url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            server = self._servers[base_url] = {
                "server.address": parts.hostname or "",
                "server.port": port,
            }
        return server

    def _record(self, name: str, value: float, attributes: Mapping[str, Any]) -> None:
        self._histograms[name].record(value, attributes)

    def _add(self, name: str, value: float, attributes: Mapping[str, Any]) -> None:
        self._counters[name].add(value, attributes)


class _Scope(AbstractContextManager[Span]):
    """A span made current (in OpenTelemetry's context and the hook's own variable) for the
    length of a call, attempt or batch, and ended after it."""

    __slots__ = ("_otel_token", "_span", "_value", "_var", "_var_token")

    def __init__(self, span: Span, var: ContextVar[Any], value: object) -> None:
        self._span, self._var, self._value = span, var, value
        self._otel_token: Token[Context] | None = None

    def __enter__(self) -> Span:
        self._var_token = self._var.set(self._value)
        if self._span.get_span_context().is_valid:  # an invalid one would hide the caller's
            self._otel_token = context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._otel_token is not None:
                context.detach(self._otel_token)
            self._var.reset(self._var_token)
        finally:
            self._span.end()  # whatever the context did, the span is not left open


def _instruments(
    meter: metrics.Meter,
) -> tuple[dict[str, metrics.Histogram], dict[str, metrics.Counter]]:
    """Every instrument of :data:`METRICS`, histograms apart from counters."""
    histograms, counters = {}, {}
    for name, (kind, unit, description) in METRICS.items():
        if kind == "counter":
            counters[name] = meter.create_counter(name, unit=unit, description=description)
        else:
            histograms[name] = meter.create_histogram(
                name,
                unit=unit,
                description=description,
                explicit_bucket_boundaries_advisory=_BUCKETS.get(name, _SECONDS),
            )
    return histograms, counters


def _annotate(span: Span, status: int | None, error_type: str | None) -> None:
    """The HTTP status and, on failure, ``error.type`` and an error status whose description
    is the error's class (its message may quote the server, and a number with it)."""
    if status is not None:
        span.set_attribute("http.response.status_code", status)
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))


def _outcome(event: CallDetails) -> str:
    """``ok``, ``unknown`` (failed, maybe sent) or ``failed`` (surely not sent)."""
    if event.error_type is None:
        return "ok"
    return "unknown" if event.maybe_sent else "failed"


def _call_attributes(event: CallDetails | AttemptDetails) -> dict[str, Any]:
    """A call's metric attributes from an event, when its start was not seen."""
    return {
        "texin.endpoint": event.endpoint,
        "texin.priority": event.priority.name.lower(),
        "texin.key_id": event.key_id,
    }


def _method(endpoint: str) -> str:
    found = ENDPOINTS.get(endpoint)
    return found.method if found is not None else "_OTHER"
