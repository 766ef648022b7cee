"""The examples/ integrations, each run against the emulator: FastAPI, aiohttp, a batch job."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from texin_async.testing import Fault, TexinEmulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NUMBER = "254712345678"

pytestmark = pytest.mark.anyio


def load(name: str) -> ModuleType:
    """Import ``examples/NAME.py`` once (examples/ is not a package)."""
    qualified = f"examples_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


Get = Callable[[str], Awaitable[Any]]


async def until_done(get: Get, url: str) -> dict[str, Any]:
    """Poll a campaign's status URL until it stops running."""
    with anyio.fail_after(10):
        while True:
            view: dict[str, Any] = await get(url)
            if view["state"] != "running":
                return view
            await anyio.sleep(0.02)


CAMPAIGN = {"text": "Sale on now", "recipients": ["0712345678", "0712345679", "0800 000"]}


# -- FastAPI ---------------------------------------------------------------------------------


@pytest.fixture
async def fastapi_http(texin_env: None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the FastAPI example, its lifespan entered."""
    app = load("fastapi_app").app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield http


async def test_fastapi_sends_sms(
    fastapi_http: httpx.AsyncClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """POST /sms sends once through the app's client and answers with the message id."""
    response = await fastapi_http.post("/sms", json={"recipient": "0712345678", "text": "Hi"})
    assert response.status_code == 200
    assert response.json()["message_id"] in texin_emulator.messages
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}


async def test_fastapi_campaign_runs_in_background(fastapi_http: httpx.AsyncClient) -> None:
    """POST /campaigns answers 202 at once; GET /campaigns/{id} shows it finish."""
    response = await fastapi_http.post("/campaigns", json=CAMPAIGN)
    assert response.status_code == 202

    async def get(url: str) -> Any:
        return (await fastapi_http.get(url)).json()

    view = await until_done(get, response.json()["status_url"])
    assert view["state"] == "done"
    assert (view["sent"], view["invalid"], view["failed"]) == (2, 1, 0)


@pytest.mark.parametrize(
    ("fault", "body", "status", "words"),
    [
        (None, {"recipient": "0800 000", "text": "Hi"}, 422, "invalid recipient"),
        (Fault.DROP_AFTER, {"recipient": "0712345678", "text": "Hi"}, 502, "may have been sent"),
        (None, {"recipient": "0712345678", "text": "Hi", "sender_id": "Nope"}, 422, "SenderId"),
    ],
    ids=["bad-number", "answer-lost", "bad-sender"],
)
async def test_fastapi_maps_sdk_errors(
    fastapi_http: httpx.AsyncClient,
    texin_emulator: TexinEmulator,
    fault: Fault | None,
    body: dict[str, str],
    status: int,
    words: str,
) -> None:
    """SDK errors become meaningful HTTP answers, never a 500."""
    if fault is not None:
        texin_emulator.faults.schedule(fault, endpoint="send_sms")
    response = await fastapi_http.post("/sms", json=body)
    assert response.status_code == status
    assert words in response.text


async def test_fastapi_unknown_campaign_is_404(fastapi_http: httpx.AsyncClient) -> None:
    """GET /campaigns/{id} of an unknown id answers 404."""
    assert (await fastapi_http.get("/campaigns/nope")).status_code == 404


# -- aiohttp ---------------------------------------------------------------------------------


@pytest.fixture
async def aiohttp_http(texin_env: None) -> AsyncIterator[TestClient[Any, Any]]:
    """An HTTP client on the aiohttp example, served with its cleanup_ctx run."""
    async with TestClient(TestServer(load("aiohttp_app").make_app())) as http:
        yield http


async def test_aiohttp_sends_sms(
    aiohttp_http: TestClient[Any, Any], texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """POST /sms sends once through the client cleanup_ctx opened."""
    response = await aiohttp_http.post("/sms", json={"recipient": "0712345678", "text": "Hi"})
    assert response.status == 200
    assert (await response.json())["message_id"] in texin_emulator.messages
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}


async def test_aiohttp_campaign_runs_in_background(aiohttp_http: TestClient[Any, Any]) -> None:
    """POST /campaigns answers 202 at once; GET /campaigns/{id} shows it finish."""
    response = await aiohttp_http.post("/campaigns", json=CAMPAIGN)
    assert response.status == 202

    async def get(url: str) -> Any:
        return await (await aiohttp_http.get(url)).json()

    view = await until_done(get, (await response.json())["status_url"])
    assert view["state"] == "done"
    assert (view["sent"], view["invalid"], view["failed"]) == (2, 1, 0)


async def test_aiohttp_maps_sdk_errors(
    aiohttp_http: TestClient[Any, Any], texin_emulator: TexinEmulator
) -> None:
    """A bad number answers 422 and a lost answer 502 with a hint, never a 500."""
    bad = await aiohttp_http.post("/sms", json={"recipient": "0800 000", "text": "Hi"})
    assert bad.status == 422
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    lost = await aiohttp_http.post("/sms", json={"recipient": "0712345678", "text": "Hi"})
    assert lost.status == 502
    assert "may have been sent" in (await lost.json())["hint"]


# -- batch_job.py ----------------------------------------------------------------------------


def test_batch_job_resumes_without_resending(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str, tmp_path: Path
) -> None:
    """batch_job.py sends each row once; run again, it reports them from its journal."""
    source = tmp_path / "contacts.csv"
    rows = [f"07{10_000_000 + i:08d},Name{i}" for i in range(30)]
    source.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    env = {"TEXIN_API_KEY": texin_api_key, "TEXIN_BASE_URL": texin_emulator_url}
    command = [sys.executable, str(EXAMPLES / "batch_job.py"), str(source)]
    command += ["--template", "Hi {name}"]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert "30 sent" in first.stdout
    sent = texin_emulator.processed(texin_api_key)
    assert len(sent) == 30
    again = run()
    assert again.returncode == 0
    assert "(30 from the journal)" in again.stdout
    assert texin_emulator.processed(texin_api_key) == sent
    results = (tmp_path / "contacts.csv.results.csv").read_text().splitlines()
    assert len(results) == 31
