"""Every code block of README.md runs in the suite, or, where running it as written is not
safe, is run in part and checked: RUN_BY names the test for each block, and a block that
no test runs fails here. The Python blocks run as written against the emulator."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
from readme import Block, block, blocks, run_python
from support import FAST, free_port

import texin_async
from texin_async import Message, OutcomeStatus, TexinClient, TexinError
from texin_async.testing import Fault, TexinEmulator

pytestmark = pytest.mark.anyio

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

#: Each README block, as (heading, language, index among that heading's blocks of that
#: language), and the test that runs it.
RUN_BY: dict[tuple[str, str, int], str] = {
    ("Set-up: two commands", "sh", 0): "test_readme.py::test_the_set_up_commands",
    ("A tour", "python", 0): "test_readme.py::test_the_tour_runs",
    ("Errors", "", 0): "test_readme.py::test_the_error_tree_is_the_class_tree",
    ('Retries, and what "maybe sent" means', "python", 0): (
        "test_readme.py::test_the_maybe_sent_example_tells_the_two_cases_apart"
    ),
    ("Interactive and bulk on one key", "python", 0): "test_readme.py::test_the_priority_example",
    ("High-volume batches", "python", 0): "test_readme.py::test_the_batch_example_resumes",
    ("Without asyncio: `SyncTexinClient`", "python", 0): (
        "sync/test_readme.py::test_readme_example_runs"
    ),
    ("The `texin` command", "sh", 0): "cli/test_readme.py::test_readme_commands_run",
    ("The `texin` command", "json", 0): "cli/test_readme.py::test_the_json_error_is_readmes",
    ("Web frameworks (`examples/`)", "sh", 0): "cli/test_readme.py::test_the_examples_emulator",
    ("Testing your code: the emulator", "python", 0): "test_readme.py::test_the_emulator_example",
    ("Testing your code: the emulator", "python", 1): "test_readme.py::test_the_pytest_example",
    ("Several processes on one key: Redis", "python", 0): "test_readme.py::test_the_redis_example",
    ("Hooks", "python", 0): "instrumentation/test_readme.py::test_the_hooks_example_feeds_statsd",
    ("OpenTelemetry", "python", 0): "instrumentation/test_readme.py::test_the_otel_example",
    ("OpenTelemetry", "python", 1): (
        "instrumentation/test_readme.py::test_the_prometheus_example_exports_the_names_readme_lists"
    ),
    ("OpenTelemetry", "promql", 0): "test_readme.py::test_the_promql_names_are_exported_ones",
}


def keyed(found: list[Block]) -> set[tuple[str, str, int]]:
    """Each block as (heading, language, index among that heading's blocks of that language)."""
    seen: Counter[tuple[str, str]] = Counter()
    keys = set()
    for b in found:
        keys.add((b.section, b.lang, seen[b.section, b.lang]))
        seen[b.section, b.lang] += 1
    return keys


def test_every_readme_block_is_run_by_a_test() -> None:
    """README's blocks are exactly those RUN_BY lists, and each test it names exists."""
    assert keyed(blocks()) == set(RUN_BY)
    for test in RUN_BY.values():
        path, name = test.split("::")
        assert f"def {name}(" in (TESTS / path).read_text(encoding="utf-8"), test


# -- set-up and the error tree ---------------------------------------------------------------


def test_the_set_up_commands() -> None:
    """The first command installs an extra that exists and starts the demo through
    ``python3 -m texin_async`` (here on 100 messages: as written it sends 3,000 at the
    demo's scaled limit, some 20 s); the second is exactly what CI runs."""
    first, second = block("Set-up: two commands", "sh").code.splitlines()
    install, demo = (shlex.split(part, comments=True) for part in first.split("&&"))
    assert install[:5] == ["python3", "-m", "pip", "install", "-e"]
    extra = re.fullmatch(r"\.\[(\w+)\]", install[5])
    assert extra is not None
    assert f"\n{extra[1]} = [" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert demo == ["python3", "-m", "texin_async", "demo"]
    run = subprocess.run(
        [sys.executable, *demo[1:], "--size", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "100 messages took" in " ".join(run.stdout.split())
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert second.split("#")[0].strip() in ci


def error_tree() -> list[tuple[str, str | None]]:
    """Each class README's error tree names, with the class it is drawn under."""
    drawn: list[tuple[str, str | None]] = []
    at_depth: dict[int, str] = {}
    for line in block("Errors", "").code.splitlines():
        first = re.match(r"((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w*Error)\b", line)
        if first is None:
            continue  # a description carried over to a second line
        depth = len(first[1]) // 4 + (1 if "──" in first[0] else 0)
        parent = at_depth.get(depth - 1)
        at_depth[depth] = first[2]
        drawn.append((first[2], parent))
        # A second column on the line: a sibling of the first.
        drawn += [(name, parent) for name in re.findall(r"[├└]── ([A-Z]\w*Error)", line)[1:]]
    return drawn


def test_the_error_tree_is_the_class_tree() -> None:
    """Every class in README's tree is the SDK's, drawn under its base class, and every
    TexinError the package exports is drawn."""
    drawn = error_tree()
    assert drawn[0] == ("TexinError", None)
    for name, parent in drawn[1:]:
        assert parent is not None
        cls, base = getattr(texin_async, name), getattr(texin_async, parent)
        assert base in cls.__bases__, (name, parent)
    exported = {
        name
        for name in texin_async.__all__
        if isinstance(getattr(texin_async, name), type)
        and issubclass(getattr(texin_async, name), TexinError)
    }
    assert {name for name, _ in drawn} == exported


# -- the Python blocks, against the emulator -------------------------------------------------


async def test_the_tour_runs(
    texin_env: None,
    texin_emulator: TexinEmulator,
    texin_api_key: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The tour sends one SMS and a bulk of two, reads the status and balance, and prints
    what its comments say."""
    await run_python(block("A tour", "python"), {})
    result, bulk, status, balance = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"API-\d+ 1 0\.3", result)
    assert re.fullmatch(r"API-\d+ 2", bulk)
    assert re.fullmatch(r"sent 0\.30 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", status)
    assert balance == "9997"
    assert sum(texin_emulator.processed(texin_api_key).values()) == 3


async def test_the_maybe_sent_example_tells_the_two_cases_apart(
    texin_emulator: TexinEmulator,
    texin_emulator_url: str,
    texin_api_key: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A lost answer takes the "may have gone out" branch; an API nobody listens at, the
    "surely not sent" one."""
    example = block('Retries, and what "maybe sent" means', "python")
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, retry=FAST) as client:
        await run_python(example, {"client": client})
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    async with TexinClient(texin_api_key, base_url=nowhere, retry=FAST) as client:
        await run_python(example, {"client": client})
    maybe, surely_not = capsys.readouterr().out.splitlines()
    assert maybe.startswith("may have gone out: send_sms: the connection failed")
    assert surely_not.startswith("surely not sent: send_sms: could not reach the API")


async def test_the_priority_example(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A code, its status read in the background class, then a campaign in bulk."""
    campaign = [(f"07{i:08d}", "Sale on now") for i in range(5)]
    namespace: dict[str, Any] = {"client": client, "campaign": campaign}
    await run_python(block("Interactive and bulk on one key", "python"), namespace)
    assert namespace["report"].sent == 5
    assert sum(texin_emulator.processed(texin_api_key).values()) == 6


async def test_the_batch_example_resumes(
    client: TexinClient,
    texin_emulator: TexinEmulator,
    texin_api_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """send_batch sends the rows with the journal; iter_batch over the same messages and
    journal reports each from it, sending nothing again."""
    monkeypatch.chdir(tmp_path)  # the journal, campaign.sqlite, lands here
    rows = [{"phone": f"07{i:08d}", "name": f"Ann{i}", "id": f"row-{i}"} for i in range(4)]
    rows.append({"phone": "not a number", "name": "Bob", "id": "row-4"})
    items = [Message(row["phone"], f"Hi {row['name']}", ref=row["id"]) for row in rows]
    namespace: dict[str, Any] = {"client": client, "rows": rows, "items": items}
    await run_python(block("High-volume batches", "python"), namespace)
    report, *outcomes = capsys.readouterr().out.splitlines()
    assert report == "4 1 0 0 4 1.20"
    assert sorted(line.split()[:2] for line in outcomes) == [
        [f"row-{i}", str(OutcomeStatus.SENT if i < 4 else OutcomeStatus.INVALID)] for i in range(5)
    ]
    assert set(texin_emulator.processed(texin_api_key).values()) == {1}
    assert (tmp_path / "campaign.sqlite").exists()


async def test_the_emulator_example() -> None:
    """The fault drops the answer after the send: the example's own assert sees it sent once."""
    namespace: dict[str, Any] = {}
    await run_python(block("Testing your code: the emulator", "python"), namespace)
    assert [event.fault for event in namespace["emulator"].fault_log] == [Fault.DROP_AFTER]


SIGNUP = """
from texin_async import TexinClient


async def signup(*, base_url: str, key: str) -> None:
    async with TexinClient(key, base_url=base_url) as client:
        await client.send_sms("0712 345 678", "Your code is 4821")
"""


def test_the_pytest_example(tmp_path: Path) -> None:
    """README's test passes under pytest in a fresh process, beside a ``myapp`` that sends
    the code, using only the fixtures the installed package brings."""
    (tmp_path / "myapp.py").write_text(SIGNUP, encoding="utf-8")
    example = block("Testing your code: the emulator", "python", 1).code
    (tmp_path / "test_signup.py").write_text(example, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_signup.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^\d passed in ", run.stdout, re.MULTILINE)  # on each loop installed


async def test_the_redis_example(
    texin_env: None, redis_url: str, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """With the Redis URL pointed at the test's redis-server, the SMS goes out, its slot
    counted in Redis."""
    code = block("Several processes on one key: Redis", "python")
    assert code.code.count("redis://redis.internal:6379/0") == 1
    local = code.code.replace("redis://redis.internal:6379/0", redis_url)
    await run_python(Block(code.section, code.lang, local, code.line), {})
    assert sum(texin_emulator.processed(texin_api_key).values()) == 1
    with redis.Redis.from_url(redis_url) as plain:
        assert plain.keys("texin:rl:*")


def test_the_promql_names_are_exported_ones() -> None:
    """The PromQL queries name only metrics and labels of README's metrics table (whose
    Prometheus names instrumentation/test_readme.py finds in a real scrape)."""
    queries = block("OpenTelemetry", "promql").code
    table = "\n".join(line for line in block_section("Metrics and tracing") if line.startswith("|"))
    metrics = set(re.findall(r"`(texin_[a-z_]+)`", table))
    labels = {name.replace(".", "_") for name in re.findall(r"`(texin\.[a-z_.]+)`", table)}
    used = set(re.findall(r"\b(texin_[a-z_]+)\b", queries))
    assert used
    for name in used:
        assert name.removesuffix("_bucket") in metrics | labels, name


def block_section(heading: str) -> list[str]:
    """The lines of README's section under ``## heading``, up to the next ``## ``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0].splitlines()
