"""What importing costs: nothing from OpenTelemetry without the otel module, and only its
API with it; the public names of texin_async.instrumentation."""

from __future__ import annotations

import ast
import subprocess
import sys
import types

import texin_async
import texin_async.instrumentation


def imported_after(code: str) -> list[str]:
    """The opentelemetry modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if 'opentelemetry' in m))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(ast.literal_eval(out.stdout.strip()))


def test_a_client_with_hooks_off_imports_no_opentelemetry() -> None:
    """Importing texin_async and sending with no hook loads no opentelemetry module."""
    code = """
import anyio, httpx
import texin_async
from texin_async import TexinClient
from texin_async.instrumentation import set_hooks

set_hooks([])
answer = httpx.Response(200, json={"success": True, "sms_balance": 5})
client = TexinClient(
    "k", base_url="http://127.0.0.1/api/", transport=httpx.MockTransport(lambda r: answer)
)
assert anyio.run(client.get_balance).sms_balance == 5
"""
    assert imported_after(code) == []


def test_the_otel_module_needs_the_api_only() -> None:
    """texin_async.instrumentation.otel imports opentelemetry's API, never its SDK."""
    loaded = imported_after("import texin_async.instrumentation.otel")
    assert "opentelemetry.trace" in loaded
    assert "opentelemetry.metrics" in loaded
    assert [m for m in loaded if m.startswith("opentelemetry.sdk")] == []


def test_instrumentation_exports_its_names_under_its_own_name() -> None:
    """__all__ is complete; reprs say texin_async.instrumentation.X (RetryDetails: texin_async)."""
    package = texin_async.instrumentation
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert public == set(package.__all__)
    for name in package.__all__:
        value = getattr(package, name)
        if isinstance(value, type) and name != "RetryDetails":
            assert value.__module__ == "texin_async.instrumentation", name
    assert package.RetryDetails is texin_async.RetryDetails
