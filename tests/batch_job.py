"""A batch job for the crash tests, and the invariants every batch test checks.

Usage: ``python tests/batch_job.py BASE_URL API_KEY JOURNAL ITEMS RATE``. It sends
``job_items`` with the journal, at most RATE requests a second, and prints ``started`` once
the first outcome settles, so the test can SIGKILL it mid-batch, then ``done`` when the
batch ends. The tests import this module for ``job_items`` and ``check_outcomes``.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator

from support import FAST

from texin_async import Message, Outcome, OutcomeStatus, RateLimit, TexinClient
from texin_async.testing import TexinEmulator


def job_items(count: int) -> Iterator[Message]:
    """Four texts, numbers mostly distinct, every 50th a repeat and every 40th invalid."""
    for index in range(count):
        number = f"07{index:08d}"
        if index % 50 == 49:
            number = f"07{index - 1:08d}"  # the previous item's number again
        if index % 40 == 39:
            number = "not a number"
        yield Message(number, f"Batch text {index % 4}", ref=f"row-{index}")


def check_outcomes(outcomes: Iterable[Outcome], emulator: TexinEmulator, api_key: str) -> None:
    """What the batch says against what the emulator did: nothing lost, nothing doubled.

    SENT: processed, under that message id, for that number. INVALID and FAILED: not
    processed. UNKNOWN: processed at most once. Per number, counting repeats in the input:
    ``sent <= processed <= sent + unknown``.
    """
    messages = emulator.messages
    sent: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    ids: set[str] = set()
    for outcome in outcomes:
        if outcome.status is OutcomeStatus.SENT:
            assert outcome.message_id is not None, outcome
            assert outcome.message_id not in ids, outcome
            ids.add(outcome.message_id)
            assert outcome.normalized is not None
            assert messages[outcome.message_id].recipient == outcome.normalized, outcome
            sent[outcome.normalized] += 1
        elif outcome.status is OutcomeStatus.UNKNOWN and outcome.normalized is not None:
            unknown[outcome.normalized] += 1
    processed = emulator.processed(api_key)
    for number in processed.keys() | sent.keys():
        assert sent[number] <= processed[number] <= sent[number] + unknown[number], number


async def _main(base_url: str, api_key: str, journal: str, count: int, rate: int) -> None:
    started = False

    def on_outcome(outcome: Outcome) -> None:
        nonlocal started
        if not started:
            started = True
            print("started", flush=True)

    limit = RateLimit(max_rate=rate, time_period=1.0)
    async with TexinClient(api_key, base_url=base_url, rate_limit=limit, retry=FAST) as client:
        await client.send_batch(
            job_items(count), chunk_size=5, max_in_flight=4, journal=journal, on_outcome=on_outcome
        )
    print("done", flush=True)


if __name__ == "__main__":
    import anyio

    url, key, path, items, rate = sys.argv[1:6]
    anyio.run(_main, url, key, path, int(items), int(rate))
