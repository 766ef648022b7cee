"""README's "Metrics and tracing" examples run as written, and its Prometheus names are the
ones the exporter really gives."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from texin_async import OutcomeUnknownError, TexinClient
from texin_async.instrumentation import get_hooks
from texin_async.instrumentation.otel import OpenTelemetryHooks
from texin_async.testing import Fault, TexinEmulator

from .conftest import QUICK

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    """README's "Metrics and tracing" section."""
    text = README.read_text(encoding="utf-8")
    return text.split("\n## Metrics and tracing", 1)[1].split("\n## ", 1)[0]


def python_blocks() -> list[str]:
    """The section's Python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", section(), flags=re.DOTALL)


class StatsD:
    """Stands in for a statsd client: remembers what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, float]] = []

    def timing(self, name: str, value: float, tags: list[str]) -> None:
        self.sent.append(("timing", name, value))

    def increment(self, name: str, value: float = 1, tags: list[str] | None = None) -> None:
        self.sent.append(("increment", name, value))


async def test_the_hooks_example_feeds_statsd(
    texin_emulator_url: str, texin_api_key: str, texin_emulator: TexinEmulator
) -> None:
    """The hook example, registered process-wide, times calls and counts units and unknowns."""
    statsd = StatsD()
    exec(compile(python_blocks()[0], str(README), "exec"), {"statsd": statsd})
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, retry=QUICK) as client:
        await client.send_bulk_sms(["0712345678", "0712345679"], "Offer!")
        with pytest.raises(OutcomeUnknownError):
            await client.send_sms("0712345678", "Your code is 4821")
    names = [(kind, name) for kind, name, _ in statsd.sent]
    assert names.count(("timing", "sms.call")) == 2
    assert ("timing", "sms.budget_wait") in names
    assert ("increment", "sms.units", 2) in statsd.sent
    assert ("increment", "sms.unknown", 1) in statsd.sent


async def test_the_otel_example(
    texin_emulator_url: str, texin_api_key: str, texin_emulator: TexinEmulator
) -> None:
    """The OpenTelemetry example registers one OpenTelemetryHooks for every client of the
    process, and calls go on through it (on the API's default no-op providers)."""
    exec(compile(python_blocks()[1], str(README), "exec"), {})
    (hook,) = get_hooks()
    assert isinstance(hook, OpenTelemetryHooks)
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, retry=QUICK) as client:
        assert (await client.send_sms("0712345678", "Your code is 4821")).message_id
    assert texin_emulator.processed(texin_api_key) == {"254712345678": 1}


def test_the_prometheus_example_exports_the_names_readme_lists(
    texin_emulator_url: str, texin_api_key: str, texin_emulator: TexinEmulator
) -> None:
    """Run README's Prometheus set-up in a fresh process, send through every path, and find
    every name of README's metrics table in what Prometheus would scrape."""
    setup = python_blocks()[2]
    assert "PrometheusMetricReader" in setup
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    script = PROMETHEUS_RUN.format(setup=setup, url=texin_emulator_url, key=texin_api_key)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    listed = re.findall(r"\| `texin\.[a-z_.]+` \| [^|]+ \| `(texin_[a-z_]+)` \|", section())
    assert len(listed) == 10
    missing = [name for name in listed if name not in out]
    assert missing == []


PROMETHEUS_RUN = """
import anyio, prometheus_client
prometheus_client.start_http_server = lambda *args, **kwargs: None  # no port in a test

{setup}

from texin_async import OutcomeUnknownError, RetryPolicy, TexinClient

async def main() -> None:
    quick = RetryPolicy(wait_initial=0, wait_max=0, wait_jitter=0, max_retry_after=0.01)
    async with TexinClient({key!r}, base_url={url!r}, retry=quick) as client:
        try:
            await client.send_sms("0712345678", "a 429, then dropped: maybe sent")
        except OutcomeUnknownError:
            pass
        await client.send_batch([("0712345678", "one"), ("not a number", "two")])

anyio.run(main)
print(prometheus_client.generate_latest().decode())
"""
