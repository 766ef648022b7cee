"""The shared background loop where sync code runs: threads, fork, Ctrl-C, exit, other loops."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from texin_async import ClientState, InvalidRequestError, SyncTexinClient, TexinClient
from texin_async.testing import Fault, TexinEmulator

CHILD = Path(__file__).with_name("_child.py")
BATCH = [("0712345671", "One"), ("0712345672", "Two"), ("0712345673", "Three")]  # as _child


def numbers(count: int) -> list[str]:
    """``count`` distinct valid local numbers."""
    return [f"07{10_000_000 + i:08d}" for i in range(count)]


@pytest.mark.slow
def test_threads_sharing_one_client_hold_the_budget(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """32 threads send 60 SMS at 20 per 2 s to a strict server: no 429, full windows."""
    texin_emulator.set_rate_limit("20/2")
    started = time.monotonic()
    with (
        SyncTexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit="20/2") as client,
        ThreadPoolExecutor(32) as pool,
    ):
        results = list(pool.map(lambda n: client.send_sms(n, "Hi"), numbers(60)))
    elapsed = time.monotonic() - started
    assert all(result.success for result in results)
    assert texin_emulator.rate_limited(texin_api_key) == 0
    assert texin_emulator.max_in_window(texin_api_key) == 20
    assert len(texin_emulator.processed(texin_api_key)) == 60
    assert 4.0 <= elapsed < 6.0  # three windows of 20: two waits of 2 s, little more


def test_clients_of_one_key_share_one_budget(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """Two sync clients of one key, from two threads, together stay within 4 per 0.5 s."""
    texin_emulator.set_rate_limit("4/0.5")
    clients = [
        SyncTexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit="4/0.5")
        for _ in range(2)
    ]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda c: [c.get_balance() for _ in range(6)], clients))
    for client in clients:
        client.close()
    assert texin_emulator.rate_limited(texin_api_key) == 0
    assert texin_emulator.max_in_window(texin_api_key) == 4


@pytest.mark.slow
def test_threads_each_running_their_own_loop_share_the_key_s_budget(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """Three threads, each with asyncio.run and its own TexinClient of one key, and a sync
    client beside them: one budget between them all, so a strict server sees no 429."""
    texin_emulator.set_rate_limit("6/1")

    async def send(batch: list[str]) -> None:
        async with TexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit="6/1") as c:
            for n in batch:
                await c.send_sms(n, "Hi")

    batches = [numbers(20)[i::4] for i in range(4)]  # five sends for each of four senders
    threads = [threading.Thread(target=asyncio.run, args=(send(b),)) for b in batches[:3]]
    with SyncTexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit="6/1") as sync:
        for thread in threads:
            thread.start()
        for n in batches[3]:
            sync.send_sms(n, "Hi")
        for thread in threads:
            thread.join(10)
    assert len(texin_emulator.processed(texin_api_key)) == 20
    assert texin_emulator.rate_limited(texin_api_key) == 0
    assert texin_emulator.max_in_window(texin_api_key) == 6


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_its_own_loop(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """After first use, fork: child and parent send; a transport object refuses in the child."""
    client = SyncTexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit=None)
    client.send_sms("0712345678", "parent, before")
    pinned = SyncTexinClient(
        texin_api_key,
        base_url=texin_emulator_url,
        rate_limit=None,
        transport=httpx.AsyncHTTPTransport(),
    )
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            signal.alarm(10)
            status = 0 if client.send_sms("0712345679", "child").success else 2
            client.close()
            with contextlib.suppress(InvalidRequestError):
                pinned.get_balance()
                status = 3
        finally:
            os._exit(status)
    pinned.close()
    deadline = time.monotonic() + 15
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert client.send_sms("0712345670", "parent, after").success
    client.close()
    assert set(texin_emulator.processed(texin_api_key)) == {
        "254712345678",
        "254712345679",
        "254712345670",
    }


def test_a_dropped_client_closes_its_pool(texin_emulator_url: str, texin_api_key: str) -> None:
    """A client dropped without close() has its pool closed on the loop."""
    client = SyncTexinClient(texin_api_key, base_url=texin_emulator_url, rate_limit=None)
    client.get_balance()
    core = client._core
    del client
    gc.collect()
    deadline = time.monotonic() + 5
    while core.state is not ClientState.CLOSED and time.monotonic() < deadline:
        time.sleep(0.01)
    assert core.state is ClientState.CLOSED


def run_child(*args: str, timeout: float = 20) -> subprocess.Popen[str]:
    """Start ``_child.py`` with ``args``, warnings shown (ResourceWarning included)."""
    command = [sys.executable, "-W", "default", str(CHILD), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ctrl_c_cancels_the_call_and_frees_its_slot(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """SIGINT during a slow send: KeyboardInterrupt at once, slot and connection given back."""
    texin_emulator.slow_seconds = 10
    texin_emulator.faults.schedule(Fault.SLOW_AFTER, endpoint="send_sms")
    child = run_child("interrupt", texin_emulator_url, texin_api_key)
    try:
        deadline = time.monotonic() + 10
        while not texin_emulator.fault_log and time.monotonic() < deadline:
            time.sleep(0.01)  # until the send waits on the emulator's slow answer
        assert texin_emulator.fault_log, "the send never reached the emulator"
        interrupted = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=8)
    finally:
        child.kill()
    assert time.monotonic() - interrupted < 3
    assert child.returncode == -signal.SIGINT
    assert "sent again" in out
    assert err.rstrip().endswith("KeyboardInterrupt")


def test_ctrl_c_stops_a_batch_and_a_rerun_resumes_it(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str, tmp_path: Path
) -> None:
    """SIGINT during a journaled batch: it stops; run again, nothing is sent twice."""
    texin_emulator.slow_seconds = 10
    texin_emulator.faults.schedule(Fault.SLOW_AFTER, endpoint="send_sms")
    journal = str(tmp_path / "job.sqlite")
    child = run_child("batch", texin_emulator_url, texin_api_key, journal)
    try:
        deadline = time.monotonic() + 10
        while len(texin_emulator.processed(texin_api_key)) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # all three processed, the slow one's answer still to come
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=8)
    finally:
        child.kill()
    assert err.rstrip().endswith("KeyboardInterrupt")
    processed = texin_emulator.processed(texin_api_key)
    with SyncTexinClient(texin_api_key, base_url=texin_emulator_url) as client:
        report = client.send_batch(BATCH, journal=journal)
    assert (report.sent, report.unknown, report.resumed, report.requests) == (2, 1, 3, 0)
    assert texin_emulator.processed(texin_api_key) == processed


def test_exit_with_clients_open_is_quiet(texin_emulator_url: str, texin_api_key: str) -> None:
    """Clients left open at interpreter exit: exit 0 at once, nothing on stderr."""
    started = time.monotonic()
    child = run_child("exit", texin_emulator_url, texin_api_key)
    try:
        out, err = child.communicate(timeout=15)
    finally:
        child.kill()
    assert (child.returncode, err) == (0, "")
    assert out == "leaving\n"
    assert time.monotonic() - started < 10


def test_other_event_loops_in_the_process_keep_working(
    texin_emulator_url: str, texin_api_key: str
) -> None:
    """Threads running asyncio.run with their own TexinClient work beside a sync client."""

    async def send(n: str) -> bool:
        async with TexinClient(texin_api_key, base_url=texin_emulator_url) as client:
            return (await client.send_sms(n, "Hi")).success

    with SyncTexinClient(texin_api_key, base_url=texin_emulator_url) as sync:
        results: list[bool] = []
        threads = [
            threading.Thread(target=lambda n=n: results.append(asyncio.run(send(n))))
            for n in numbers(3)
        ]
        for thread in threads:
            thread.start()
        results.append(sync.send_sms("0712345670", "Hi").success)
        for thread in threads:
            thread.join(10)
    assert results == [True] * 4
