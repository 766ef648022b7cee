"""A batch killed with SIGKILL at random points resumes from its journal, loses nothing and
sends nothing twice: the job runs in a subprocess, the emulator in this one."""

from __future__ import annotations

import contextlib
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest
from batch_job import check_outcomes, job_items

from texin_async import Outcome, OutcomeStatus, TexinClient
from texin_async.testing import Fault, TexinEmulator, serve_in_thread

JOB = Path(__file__).parent.parent / "batch_job.py"
ITEMS = 1000
RATE = 20  # requests a second: each run between kills gets through a few dozen requests
KILLS = 5
FAULTS = {Fault.DROP_AFTER: 0.02, Fault.SLOW_AFTER: 0.05, Fault.DROP_BEFORE: 0.02}


def start_job(url: str, key: str, journal: Path) -> subprocess.Popen[str]:
    command = [sys.executable, str(JOB), url, key, str(journal), str(ITEMS), str(RATE)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def journal_states(journal: Path) -> Counter[int]:
    with contextlib.closing(sqlite3.connect(journal)) as db:
        return Counter(state for (state,) in db.execute("SELECT state FROM items"))


async def final_outcomes(url: str, key: str, journal: Path) -> list[Outcome]:
    """Every item's outcome, as a rerun reports it from the finished journal."""
    async with TexinClient(key, base_url=url, rate_limit=None) as client:
        return [o async for o in client.iter_batch(job_items(ITEMS), journal=journal)]


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path: Path, texin_api_key: str) -> None:
    """Five SIGKILLs mid-batch, then a run to the end: one final outcome per item, all true."""
    emulator = TexinEmulator(rate_limit="100/1", faults=FAULTS, slow_seconds=0.3, seed=5)
    journal = tmp_path / "job.sqlite"
    rng = random.Random(1234)
    with serve_in_thread(emulator) as url:
        for _ in range(KILLS):
            with start_job(url, texin_api_key, journal) as job:
                assert job.stdout is not None
                assert job.stdout.readline().strip() == "started"
                time.sleep(rng.uniform(0.05, 0.5))
                job.send_signal(signal.SIGKILL)
                assert job.wait() == -signal.SIGKILL, "the batch ended before it was killed"
        with start_job(url, texin_api_key, journal) as job:
            out, _ = job.communicate(timeout=60)
        assert job.returncode == 0
        assert out.split() == ["started", "done"]
        requests = sum(emulator.requests().values())
        outcomes = anyio.run(final_outcomes, url, texin_api_key, journal)
        assert sum(emulator.requests().values()) == requests  # all from the journal
    assert sorted(o.index for o in outcomes) == list(range(ITEMS))
    assert [o.ref for o in sorted(outcomes, key=lambda o: o.index)] == [
        m.ref for m in job_items(ITEMS)
    ]
    assert 0 not in journal_states(journal)  # nothing left in flight
    statuses = Counter(o.status for o in outcomes)
    assert statuses[OutcomeStatus.SENT] > ITEMS / 2
    assert statuses[OutcomeStatus.INVALID] == ITEMS // 40
    check_outcomes(outcomes, emulator, texin_api_key)
