"""What only a real process can show: the console script, Ctrl-C, a terminal, a missing extra,
and that the API key never reaches the output, tracebacks included."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from texin_async import __version__
from texin_async.testing import Account, TexinEmulator

from ._support import WriteCsv, people, read_report

KEY = "canary-SECRET-cli-key-0123456789"
_SCRIPT = Path(sys.executable).with_name("texin")
#: The console script when installed (``pip install -e .``), else the module it points to.
TEXIN = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "texin_async"]


def environment(base_url: str, api_key: str | None = KEY) -> dict[str, str]:
    """The caller's environment without TEXIN_* settings, then the emulator's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TEXIN_")}
    env.update(TEXIN_BASE_URL=base_url, NO_COLOR="1", COLUMNS="120")
    if api_key is not None:
        env["TEXIN_API_KEY"] = api_key
    return env


def texin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``texin ARGS`` to completion; the canary key must be absent from its output."""
    done = subprocess.run(
        [*TEXIN, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert KEY not in done.stdout + done.stderr
    return done


@pytest.fixture
def emulator(texin_emulator: TexinEmulator) -> TexinEmulator:
    """The session emulator, reset, with an account whose key is the canary."""
    texin_emulator.add_account(Account(api_key=KEY))
    return texin_emulator


# -- the console script ----------------------------------------------------------------------


@pytest.mark.skipif(not _SCRIPT.exists(), reason="the texin script is not installed")
def test_console_script_prints_its_version() -> None:
    """The installed `texin` script runs main(): `texin --version`."""
    done = subprocess.run(
        [str(_SCRIPT), "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout == f"texin {__version__}\n"


def test_python_dash_m_runs_the_command() -> None:
    """`python -m texin_async` is the same command."""
    done = subprocess.run(
        [sys.executable, "-m", "texin_async", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout == f"texin {__version__}\n"


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
        balance = texin("--json", "balance", env=environment(url, api_key="demo"))
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert url.startswith("http://127.0.0.1:")
    assert json.loads(balance.stdout)["sms_balance"] == "50"


# -- a missing extra -------------------------------------------------------------------------


def test_without_the_cli_extra_says_what_to_install() -> None:
    """Without typer, `texin` prints one line naming the extra to install, and exits 5."""
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


# -- the key is never printed ----------------------------------------------------------------


def test_key_option_is_never_echoed(texin_emulator_url: str) -> None:
    """--api-key works and appears neither in help nor in an error."""
    env = environment(texin_emulator_url, api_key=None)
    assert texin("--help", env={**env, "TEXIN_API_KEY": KEY}).returncode == 0
    done = texin("--api-key", KEY, "balance", env=env)
    assert done.returncode == 1  # The canary is not an account here: refused, not echoed.


def test_debug_traceback_never_shows_the_key(texin_emulator_url: str) -> None:
    """--debug prints the traceback and its locals' reprs, never the key."""
    done = texin("--debug", "balance", env=environment(texin_emulator_url))
    assert done.returncode == 1
    assert "Traceback" in done.stderr


def test_json_error_never_shows_the_key(texin_emulator_url: str) -> None:
    """--json errors, read by scripts and logs, never hold the key."""
    done = texin("--json", "--debug", "balance", env=environment(texin_emulator_url))
    assert done.returncode == 1
    assert json.loads(done.stderr.strip().splitlines()[-1])["error"]["exit_code"] == 1


# -- a terminal, and Ctrl-C ------------------------------------------------------------------


def slow_batch(tmp_path: Path, write_csv: WriteCsv, rows: int) -> tuple[str, ...]:
    """Arguments of a batch of one request per row, paced by a client limit of 10/s."""
    source = write_csv(people(rows))
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
        str(tmp_path / "journal.sqlite"),
        "--report",
        str(tmp_path / "out.csv"),
    )


def test_batch_progress_on_a_terminal(
    emulator: TexinEmulator, texin_emulator_url: str, tmp_path: Path, write_csv: WriteCsv
) -> None:
    """On a terminal the progress display shows rows done, the counts and the ETA."""
    leader, follower = pty.openpty()
    env = environment(texin_emulator_url)
    with subprocess.Popen(
        [*TEXIN, *slow_batch(tmp_path, write_csv, 15)],
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
    emulator: TexinEmulator, texin_emulator_url: str, tmp_path: Path, write_csv: WriteCsv
) -> None:
    """Ctrl-C stops a batch with exit 130 and says how to resume; resuming sends the rest once."""
    args = slow_batch(tmp_path, write_csv, 40)
    env = environment(texin_emulator_url)
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
    assert sum(emulator.processed(KEY).values()) < 40
    resumed = texin("--rate-limit", "100/1", *args[2:], env=env)
    assert resumed.returncode in (0, 6)  # 6: rows in flight at Ctrl-C are reported unknown.
    assert max(emulator.processed(KEY).values()) == 1
    assert len(read_report(tmp_path / "out.csv")) == 40
