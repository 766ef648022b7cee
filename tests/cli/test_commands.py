"""The ``texin`` command, run as a subprocess against the emulator, as a user runs it.

Every run goes through :func:`texin`, which also checks that the API key never appears in
anything the command prints.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from texin_async.testing import Account, Fault, TexinEmulator

KEY = "canary-SECRET-cli-key-0123456789"
NUMBER = "254712345678"
_SCRIPT = Path(sys.executable).with_name("texin")
#: The console script when installed (``pip install -e .``), else the module it points to.
TEXIN = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "texin_async"]


@dataclass(frozen=True)
class Run:
    """What one ``texin`` run exited with and printed."""

    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


def environment(base_url: str, api_key: str | None = KEY) -> dict[str, str]:
    """The caller's environment without TEXIN_* settings, then the emulator's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TEXIN_")}
    env.update(TEXIN_BASE_URL=base_url, NO_COLOR="1", COLUMNS="120")
    if api_key is not None:
        env["TEXIN_API_KEY"] = api_key
    return env


def texin(*args: str, env: dict[str, str], timeout: float = 30, cwd: Path | None = None) -> Run:
    """Run ``texin ARGS`` to completion; the API key must be absent from its output."""
    done = subprocess.run(
        [*TEXIN, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
    for output in (done.stdout, done.stderr):
        assert KEY not in output
        assert "Traceback" not in output or "--debug" in args
    return Run(done.returncode, done.stdout, done.stderr)


def one_line(run: Run) -> str:
    """The run's error report: exactly one line on stderr."""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("texin: error: ")
    return lines[0]


@pytest.fixture
def emulator(texin_emulator: TexinEmulator) -> TexinEmulator:
    """The session emulator, reset, with an account whose key is the canary."""
    texin_emulator.add_account(Account(api_key=KEY))
    return texin_emulator


@pytest.fixture
def env(emulator: TexinEmulator, texin_emulator_url: str) -> dict[str, str]:
    """An environment pointing ``texin`` at the emulator with the canary key."""
    return environment(texin_emulator_url)


def posts(emulator: TexinEmulator, *endpoints: str) -> int:
    """How many requests went to ``endpoints`` (default: the two send endpoints)."""
    names: Sequence[str] = endpoints or ("send_sms", "send_bulk_sms")
    return sum(n for (name, _), n in emulator.requests().items() if name in names)


# -- one-request commands --------------------------------------------------------------------


def test_help_documents_exit_codes(env: dict[str, str]) -> None:
    """`texin --help` lists every command and the exit codes."""
    run = texin("--help", env=env)
    assert run.code == 0
    for word in ("info", "ping", "balance", "send", "status", "batch", "demo", "emulator"):
        assert word in run.out
    assert "Exit codes" in run.out
    assert "130" in run.out


def test_info_text(env: dict[str, str]) -> None:
    """`texin info` names the API and its version."""
    run = texin("info", env=env)
    assert run.code == 0
    assert "2.0.1" in run.out
    assert "send_sms" in run.out


def test_info_json(env: dict[str, str]) -> None:
    """`texin info --json` prints the API's answer as JSON."""
    run = texin("info", "--json", env=env)
    assert run.code == 0
    assert run.json()["version"] == "2.0.1"  # type: ignore[index]


def test_ping_needs_no_key(texin_emulator_url: str) -> None:
    """`texin ping` works without an API key."""
    run = texin("ping", env=environment(texin_emulator_url, api_key=None))
    assert run.code == 0
    assert "successful" in run.out


def test_ping_json(env: dict[str, str]) -> None:
    """`texin --json ping` reports success and the round trip time."""
    run = texin("--json", "ping", env=env)
    answer = run.json()
    assert answer["success"] is True  # type: ignore[index]
    assert answer["seconds"] >= 0  # type: ignore[index]


def test_balance_text(env: dict[str, str]) -> None:
    """`texin balance` shows the credits and what they are worth."""
    run = texin("balance", env=env)
    assert run.code == 0
    assert "10000 credits" in run.out
    assert "KES 3000.00" in run.out


def test_balance_json(env: dict[str, str]) -> None:
    """`texin balance --json` gives the balance as a decimal string."""
    run = texin("balance", "--json", env=env)
    assert run.json()["sms_balance"] == "10000"  # type: ignore[index]


def test_send_text(env: dict[str, str], emulator: TexinEmulator) -> None:
    """`texin send` sends once and prints the message id."""
    run = texin("send", "0712345678", "Hello from the CLI", env=env)
    assert run.code == 0
    assert emulator.processed(KEY) == {NUMBER: 1}
    (message_id,) = emulator.messages
    assert message_id in run.out


def test_send_json_with_sender_id(env: dict[str, str], emulator: TexinEmulator) -> None:
    """`texin send --json --sender-id` sends with that sender and prints the result."""
    run = texin("send", "0712345678", "Hi", "--sender-id", "Texin", "--json", env=env)
    result = run.json()
    assert result["recipient"] == NUMBER  # type: ignore[index]
    assert emulator.messages[result["message_id"]].sender_id == "Texin"  # type: ignore[index]


def test_status_text_and_json(env: dict[str, str]) -> None:
    """`texin status` shows a sent message's status, as text and as JSON."""
    sent = texin("--json", "send", "0712345678", "Track me", env=env).json()
    message_id = sent["message_id"]  # type: ignore[index]
    text = texin("status", message_id, env=env)
    assert text.code == 0
    assert "sent" in text.out
    assert NUMBER in text.out
    answer = texin("status", message_id, "--json", env=env).json()
    assert answer["status"] == "sent"  # type: ignore[index]


# -- errors and exit codes -------------------------------------------------------------------


def test_bad_key_exits_1(texin_emulator_url: str) -> None:
    """A key the API refuses exits 1 with one line, the key nowhere in it."""
    run = texin("balance", env=environment(texin_emulator_url))
    assert run.code == 1
    assert "401" in one_line(run)


def test_unknown_message_exits_1(env: dict[str, str]) -> None:
    """`texin status` of an unknown id exits 1 with the API's reason."""
    run = texin("status", "API-0", env=env)
    assert run.code == 1
    assert "not found" in one_line(run)


def test_bad_number_exits_2(env: dict[str, str], emulator: TexinEmulator) -> None:
    """A malformed number exits 2 and sends nothing."""
    run = texin("send", "0800 123", "Hi", env=env)
    assert run.code == 2
    assert "invalid recipient" in one_line(run)
    assert posts(emulator) == 0


def test_missing_key_exits_2(texin_emulator_url: str) -> None:
    """No key at all exits 2 and says how to give one."""
    run = texin("balance", env=environment(texin_emulator_url, api_key=None))
    assert run.code == 2
    assert "TEXIN_API_KEY" in one_line(run)


def test_usage_error_exits_2(env: dict[str, str]) -> None:
    """An unknown option exits 2 with one line pointing at --help."""
    run = texin("balance", "--bogus", env=env)
    assert run.code == 2
    assert "--help" in one_line(run)


def test_unreachable_api_exits_3(emulator: TexinEmulator) -> None:
    """A port nobody listens on exits 3: could not connect, nothing sent."""
    run = texin("send", "0712345678", "Hi", env=environment("http://127.0.0.1:9/api/"))
    assert run.code == 3
    assert "nothing was sent" in one_line(run)


def test_lost_answer_exits_4(env: dict[str, str], emulator: TexinEmulator) -> None:
    """A send whose answer is lost exits 4 and warns that it may have gone out."""
    emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    run = texin("send", "0712345678", "Hi", env=env)
    assert run.code == 4
    assert "may have been sent" in one_line(run)
    assert emulator.processed(KEY) == {NUMBER: 1}


def test_debug_shows_traceback(texin_emulator_url: str) -> None:
    """--debug adds the traceback, still without the key."""
    run = texin("--debug", "balance", env=environment(texin_emulator_url))
    assert run.code == 1
    assert "Traceback" in run.err
    assert run.err.strip().splitlines()[-1].startswith("texin: error: ")


def test_key_option_is_never_echoed(texin_emulator_url: str) -> None:
    """--api-key works and appears neither in help nor in output."""
    env = environment(texin_emulator_url, api_key=None)
    assert texin("--help", env={**env, "TEXIN_API_KEY": KEY}).code == 0
    run = texin("--api-key", KEY, "balance", env=env)
    assert run.code == 1  # The canary key is not an account here: refused, not echoed.


# -- batch -----------------------------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: str = "phone,name") -> Path:
    """A CSV file with ``header`` and ``rows``."""
    lines = [header, *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def people(count: int) -> list[tuple[str, str]]:
    """``count`` distinct valid numbers, each with a name."""
    return [(f"07{10_000_000 + i:08d}", f"Name{i}") for i in range(count)]


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_batch_sends_and_reports_each_row(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """A batch sends every row once and reports one row per input row, in input order."""
    source = write_csv(tmp_path / "in.csv", people(12))
    report = tmp_path / "out.csv"
    run = texin("batch", str(source), "--text", "Hello", "--report", str(report), env=env)
    assert run.code == 0, run.err
    assert len(emulator.processed(KEY)) == 12
    assert max(emulator.processed(KEY).values()) == 1
    rows = read_report(report)
    assert [row["row"] for row in rows] == [str(n) for n in range(1, 13)]
    assert [row["name"] for row in rows] == [f"Name{i}" for i in range(12)]
    assert {row["status"] for row in rows} == {"sent"}
    assert all(row["message_id"] in emulator.messages for row in rows)
    assert "Sent" in run.out


def test_batch_invalid_rows_exit_6(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """Rows with bad numbers are reported invalid, the rest sent, and the exit code is 6."""
    source = write_csv(tmp_path / "in.csv", [*people(3), ("0800 123", "Bad")])
    report = tmp_path / "out.csv"
    run = texin("batch", str(source), "--text", "Hi", "--report", str(report), env=env)
    assert run.code == 6
    statuses = [row["status"] for row in read_report(report)]
    assert statuses == ["sent", "sent", "sent", "invalid"]


def test_batch_template_personalises(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """--template fills each row's columns into its own message."""
    source = write_csv(tmp_path / "in.csv", people(3))
    run = texin("batch", str(source), "--template", "Hi {name}!", env=env)
    assert run.code == 0
    texts = sorted(message.text for message in emulator.messages.values())
    assert texts == ["Hi Name0!", "Hi Name1!", "Hi Name2!"]


def test_batch_json(env: dict[str, str], emulator: TexinEmulator, tmp_path: Path) -> None:
    """--json prints the batch report as one JSON document."""
    source = write_csv(tmp_path / "in.csv", people(5))
    run = texin("batch", str(source), "--text", "Hi", "--json", env=env)
    report = run.json()
    assert report["sent"] == 5  # type: ignore[index]
    assert report["requests"] == 1  # type: ignore[index]
    assert report["cost"] == "1.50"  # type: ignore[index]


def test_batch_resume_sends_nothing_new(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """Re-running with the same journal reports every row from it and sends nothing."""
    source = write_csv(tmp_path / "in.csv", people(8))
    journal, report = tmp_path / "journal.sqlite", tmp_path / "out.csv"
    args = ("batch", str(source), "--text", "Hi", "--journal", str(journal))
    assert texin(*args, env=env).code == 0
    before = emulator.processed(KEY)
    again = texin(*args, "--report", str(report), "--json", env=env)
    assert again.code == 0
    assert emulator.processed(KEY) == before
    assert again.json()["resumed"] == 8  # type: ignore[index]
    assert [row["status"] for row in read_report(report)] == ["sent"] * 8


def test_batch_dry_run_sends_nothing(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """--dry-run plans every row, makes no request and exits 0."""
    source = write_csv(tmp_path / "in.csv", people(4))
    run = texin("batch", str(source), "--template", "Hi {name}", "--dry-run", "--json", env=env)
    assert run.code == 0
    assert run.json()["planned"] == 4  # type: ignore[index]
    assert emulator.requests() == {}


def test_batch_bad_key_sends_nothing(
    texin_emulator: TexinEmulator, texin_emulator_url: str, tmp_path: Path
) -> None:
    """A refused key stops the batch at its first request, before any row is sent."""
    source = write_csv(tmp_path / "in.csv", people(3))
    run = texin("batch", str(source), "--text", "Hi", env=environment(texin_emulator_url))
    assert run.code == 1
    assert "401" in one_line(run)
    assert posts(texin_emulator) == 0


@pytest.mark.parametrize(
    ("content", "options", "expected"),
    [
        (b"number,name\n0712345678,A\n", ("--text", "Hi"), "no column 'phone'"),
        (b"phone,name\n0712345678,Jos\xe9\n", ("--text", "Hi"), "not UTF-8"),
        (b"", ("--text", "Hi"), "is empty"),
        (b"phone,name\n", ("--text", "Hi"), "no rows"),
        (b"phone,name\n0712345678,A\n", ("--template", "Hi {nme}"), "'nme'"),
        (b"phone,name\n0712345678,A\n", ("--template", "Hi {name"), "bad --template"),
        (b"phone,name\n0712345678,A\n", (), "--text TEXT or --template"),
    ],
    ids=[
        "missing-column",
        "latin-1",
        "empty",
        "header-only",
        "template-column",
        "braces",
        "no-text",
    ],
)
def test_batch_bad_input_sends_nothing(
    env: dict[str, str],
    emulator: TexinEmulator,
    tmp_path: Path,
    content: bytes,
    options: tuple[str, ...],
    expected: str,
) -> None:
    """A bad CSV or template is one clear line, exit 2, and no request at all."""
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    run = texin("batch", str(source), *options, env=env)
    assert run.code == 2
    assert expected in one_line(run)
    assert emulator.requests() == {}


def slow_batch(tmp_path: Path, rows: int) -> tuple[str, ...]:
    """Arguments of a batch of one request per row, paced by a client limit of 10/s."""
    source = write_csv(tmp_path / "in.csv", people(rows))
    journal = tmp_path / "journal.sqlite"
    return (
        "--rate-limit",
        "10/1",
        "batch",
        str(source),
        "--template",
        "Hi {name}",
        "--chunk-size",
        "1",
        "--journal",
        str(journal),
        "--report",
        str(tmp_path / "out.csv"),
    )


def test_batch_progress_on_a_terminal(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """On a terminal the progress display shows rows done, the counts and the ETA."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [*TEXIN, *slow_batch(tmp_path, 15)],
        env={**env, "TERM": "xterm", "COLUMNS": "100"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
    ) as process:
        os.close(follower)
        screen = read_terminal(leader)
        assert process.wait(timeout=30) == 0
    assert "15/15 rows" in screen
    assert "sent 15 · invalid 0 · failed 0 · unknown 0" in screen
    assert "ETA" in screen
    assert KEY not in screen


def read_terminal(leader: int) -> str:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal.
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_batch_ctrl_c_exits_130_and_resumes(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """Ctrl-C stops a batch with exit 130 and says how to resume; resuming sends the rest once."""
    args = slow_batch(tmp_path, 40)
    # A shell runs background jobs with SIGINT ignored; give the child Python's default.
    unignore = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    launcher = [sys.executable, "-c", unignore + "os.execv(sys.argv[1], sys.argv[1:])"]
    with subprocess.Popen(
        [*launcher, *TEXIN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        deadline = time.monotonic() + 20
        while sum(emulator.processed(KEY).values()) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert KEY.encode() not in out + err
    assert b"re-run the same command" in err
    interrupted_at = sum(emulator.processed(KEY).values())
    assert interrupted_at < 40
    resumed = texin("--rate-limit", "100/1", *args[2:], env=env)
    assert resumed.code in (0, 6)  # 6: rows in flight at Ctrl-C are reported unknown.
    assert max(emulator.processed(KEY).values()) == 1
    assert len(read_report(tmp_path / "out.csv")) == 40


def test_batch_report_never_overwrites_the_input(
    env: dict[str, str], emulator: TexinEmulator, tmp_path: Path
) -> None:
    """--report naming the input file is refused before anything is sent."""
    source = write_csv(tmp_path / "in.csv", people(2))
    run = texin("batch", str(source), "--text", "Hi", "--report", str(source), env=env)
    assert run.code == 2
    assert "is the input file" in one_line(run)
    assert emulator.requests() == {}
    assert source.read_text().startswith("phone,name")


# -- demo and packaging ----------------------------------------------------------------------


def test_demo_runs_on_its_own_emulator(texin_emulator_url: str) -> None:
    """`texin demo` needs no key, runs a batch on an in-process emulator and reports it."""
    run = texin("demo", "--size", "200", env=environment(texin_emulator_url, api_key=None))
    assert run.code == 0, run.err
    assert "never contacts the real service" in " ".join(run.err.split())
    for label in ("Sent", "Invalid", "Failed", "Requests", "Units", "Cost", "Elapsed"):
        assert label in run.out


def test_demo_json(texin_emulator_url: str) -> None:
    """`texin demo --json` gives the report with invalid and gateway-failed rows."""
    run = texin("demo", "--size", "300", "--json", env=environment(texin_emulator_url))
    report = run.json()
    assert report["total"] == 300  # type: ignore[index]
    assert report["invalid"] > 0  # type: ignore[index]
    assert report["failed"] > 0  # type: ignore[index]
    assert report["sent"] + report["invalid"] + report["failed"] == 300  # type: ignore[index]


def test_emulator_command_serves_until_stopped() -> None:
    """`texin emulator` prints its base URL first, answers there, and stops on SIGTERM."""
    with subprocess.Popen(
        [*TEXIN, "emulator", "--port", "0", "--account", "demo:50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        env = environment(url, api_key="demo")
        balance = texin("--json", "balance", env=env).json()
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert url.startswith("http://127.0.0.1:")
    assert balance["sms_balance"] == "50"  # type: ignore[index]


def test_without_the_cli_extra_says_what_to_install() -> None:
    """Without typer, `texin` prints one line naming the extra to install."""
    code = "import sys; sys.modules['typer'] = None; from texin_async._cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "info"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 5
    assert done.stderr.strip() == (
        "texin: the command line needs its extra: pip install 'texin-async[cli]'"
    )


def test_the_sdk_imports_without_the_cli_extra() -> None:
    """`import texin_async` works with typer and rich unavailable, and loads no CLI module."""
    code = (
        "import sys; sys.modules['typer'] = sys.modules['rich'] = None; import texin_async; "
        "print([n for n in sys.modules if n.split('.')[:2] == ['texin_async', '_cli']])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
