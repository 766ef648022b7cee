"""The ``texin`` command, run as a subprocess against the emulator, as a user runs it.

Every run goes through :func:`texin`, which also checks that the API key never appears in
anything the command prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from texin_async.testing import Account, Fault, TexinEmulator

KEY = "canary-SECRET-cli-key-0123456789"
NUMBER = "254712345678"
_SCRIPT = Path(sys.executable).with_name("texin")
#: The console script when installed (``pip install -e .``), else the module it points to.
TEXIN = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "texin_async._cli"]


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
