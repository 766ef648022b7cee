"""BatchProgress (texin_async._batch._progress): counts a display can poll, requests waiting
for the key's budget apart from those in flight, and an ETA from the key's limiter."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from support import FOUR_A_SECOND

from texin_async import BatchProgress, Message, OutcomeStatus, TexinClient
from texin_async._batch._outcome import Outcome
from texin_async.testing import Fault, TexinEmulator

pytestmark = pytest.mark.anyio


@pytest.fixture
def client_options(texin_emulator: TexinEmulator) -> dict[str, Any]:
    """The ``client`` fixture's batches wait for a budget of 4 a second."""
    texin_emulator.set_rate_limit("4/1")
    return {"rate_limit": FOUR_A_SECOND}


def personalised(count: int) -> list[Message]:
    return [Message(f"07{i:08d}", f"Hi {i}") for i in range(count)]


async def watch(progress: BatchProgress, seen: list[tuple[int, int, float | None]]) -> None:
    """Sample (waiting, in flight, eta) every 50 ms."""
    while True:
        seen.append((progress.waiting, progress.in_flight, progress.eta))
        await anyio.sleep(0.05)


async def test_waiting_for_budget_is_counted_apart_from_in_flight(client: TexinClient) -> None:
    """Requests held by the key's budget show as waiting, not in flight; none at the end."""
    progress = BatchProgress()
    seen: list[tuple[int, int, float | None]] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, progress, seen)
        await client.send_batch(personalised(10), progress=progress, max_in_flight=6)
        tg.cancel_scope.cancel()
    assert max(waiting for waiting, _, _ in seen) >= 2
    assert all(in_flight <= 4 for _, in_flight, _ in seen)
    assert (progress.waiting, progress.in_flight) == (0, 0)


async def test_the_eta_comes_from_the_limiters_plan(client: TexinClient) -> None:
    """At 4 a second, 12 requests take about two more windows: the ETA says so from the
    start (not from items per second), counts down, and is 0 at the end."""
    progress = BatchProgress()
    seen: list[tuple[int, int, float | None]] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, progress, seen)
        await client.send_batch(personalised(12), progress=progress)
        tg.cancel_scope.cancel()
    etas = [eta for _, _, eta in seen if eta is not None]
    assert 1.0 <= etas[0] <= 3.0
    assert etas[-1] < etas[0]
    assert progress.eta == 0.0


async def test_a_429_pause_shows_in_the_progress(
    client: TexinClient, texin_emulator: TexinEmulator
) -> None:
    """While the server's Retry-After holds the key, paused_for says for how long."""
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    progress = BatchProgress()
    paused: list[float] = []

    async def look() -> None:
        while True:
            paused.append(progress.paused_for)
            await anyio.sleep(0.05)

    async with anyio.create_task_group() as tg:
        tg.start_soon(look)
        report = await client.send_batch(personalised(2), progress=progress)
        tg.cancel_scope.cancel()
    assert report.sent == 2
    assert max(paused) > 0


def test_requests_left_follow_the_items_per_request_so_far() -> None:
    """Without a plan from the caller, requests left are those waiting plus the items not
    yet in a request at the average items per request so far."""
    progress = BatchProgress()
    progress.start(total=1000, dry_run=False, cost_per_unit=progress.cost_per_unit)
    assert progress.requests_left() == 1000  # one item a request, until told otherwise
    for _ in range(2):
        progress.dispatch(100)
    progress.depart()
    assert progress.requests_left() == 1 + 8  # one still waiting, 800 items at 100 a request
    progress.expected_requests = 50
    assert progress.requests_left() == 49


def test_what_the_caller_expects_survives_the_start() -> None:
    """expected_items and expected_requests (a CSV counted ahead) are kept across start()."""
    progress = BatchProgress(expected_items=10, expected_requests=3)
    progress.start(total=None, dry_run=False, cost_per_unit=progress.cost_per_unit)
    assert (progress.expected_items, progress.expected_requests) == (10, 3)
    outcome = Outcome(index=0, ref=0, recipient="x", normalized=None, status=OutcomeStatus.INVALID)
    progress.add(outcome, local=True)
    assert progress.requests_left() == 3
