"""README's `texin` commands name only commands and options the command line has."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from readme import block
from support import free_port

from texin_async._cli._app import app
from texin_async.testing import TexinEmulator
from texin_async.testing._cli import build_parser

from ._support import Texin

README = Path(__file__).resolve().parents[2] / "README.md"
_SPAN = re.compile(r"`(texin [^`]+)`")


def readme_commands() -> list[str]:
    """Every `texin ...` command in README: code block lines (joined at `\\`) and code spans."""
    commands, prose, in_block = [], [], False
    for line in README.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        if line.startswith("```"):
            in_block = not in_block
        elif in_block and line.strip().startswith("texin "):
            commands.append(line.strip())
        elif not in_block:
            prose.append(line)
    return commands + _SPAN.findall("\n".join(prose))


def options_of(command: Any) -> dict[str, bool]:
    """Each option name of a click ``command``, and whether it takes a value."""
    return {
        name: not param.is_flag
        for param in command.params
        if param.param_type_name == "option"
        for name in param.opts
    }


def unknown_options(argv: list[str]) -> list[str]:
    """The options in ``argv`` (after `texin`) that the app does not have, or its command."""
    root: Any = typer.main.get_command(app)
    known, words = options_of(root), iter(argv)
    unknown: list[str] = []
    for word in words:
        if not word.startswith("-"):
            command = root.commands.get(word)
            if command is None:
                return [f"command {word!r}"]
            rest = [w.partition("=")[0] for w in words if w.startswith("--")]
            return unknown + [o for o in rest if o not in subcommand_options(word, command)]
        if word not in known:
            unknown.append(word)
        elif known[word]:
            next(words, None)
    return unknown


def subcommand_options(name: str, command: Any) -> set[str]:
    """A command's options; the emulator's are its own parser's."""
    if name == "emulator":
        return {opt for action in build_parser()._actions for opt in action.option_strings}
    return set(options_of(command))


def test_readme_has_texin_commands() -> None:
    """The extraction finds README's commands (the other test would pass on none)."""
    assert len(readme_commands()) >= 10


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_names_only_real_options(line: str) -> None:
    """Every command and option a README `texin` command names exists."""
    words = [word.strip("[]") for word in shlex.split(line, comments=True)]  # [--optional]
    argv = [word for word in words if word not in ("", "&", "|")]
    assert unknown_options(argv[1:]) == []


# -- README's blocks, run --------------------------------------------------------------------

#: Commands of README's block not run here, and where they are run instead.
RUN_ELSEWHERE = {
    "emulator": "serves until stopped: test_processes.py runs `texin emulator --port 0`",
    "demo": "3,000 messages take some 20 s: test_commands.py runs the demo on fewer",
}


def test_readme_commands_run(
    texin: Texin,
    texin_emulator: TexinEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README's `texin` block runs line by line against the emulator, each exiting 0: the
    batches on a contacts.csv with the columns they name, `status` on the id `send`
    printed. The emulator and the demo are only parsed here (RUN_ELSEWHERE)."""
    monkeypatch.chdir(tmp_path)
    # A budget that does not pace the batches (at 100 a minute they would wait 0.6 s a send).
    texin_emulator.set_rate_limit(None)
    monkeypatch.setenv("TEXIN_RATE_LIMIT", "1000/1")
    rows = [f"07{10_000_000 + i:08d},Name{i},{100_000 + i}" for i in range(6)]
    (tmp_path / "contacts.csv").write_text("\n".join(["phone,name,code", *rows]) + "\n")
    lines = block("The `texin` command", "sh").code.replace("\\\n", " ").splitlines()
    sent_id = ""
    for line in lines:
        argv = shlex.split(line, comments=True)[1:]
        assert unknown_options(argv) == [], line
        if argv[0] in RUN_ELSEWHERE:
            continue
        if argv[0] == "status":
            argv[1] = sent_id
        run = texin(*argv)
        assert run.code == 0, (line, run.out, run.err)
        if argv[0] == "send":
            found = re.search(r"API-\d+", run.out)
            assert found is not None, run.out
            sent_id = found[0]
    assert (tmp_path / "results.csv").exists()
    assert (tmp_path / "contacts.journal").exists()


def test_the_json_error_is_readmes(texin: Texin, monkeypatch: pytest.MonkeyPatch) -> None:
    """`texin --json balance` with a key the API refuses prints README's JSON error."""
    monkeypatch.setenv("TEXIN_API_KEY", "not-a-known-key")
    run = texin("--json", "balance")
    assert run.code == 1
    assert json.loads(run.err) == json.loads(block("The `texin` command", "json").code)


CHECK_BALANCE = """
import os, time, httpx
deadline = time.monotonic() + 20
while True:
    try:
        answer = httpx.post(
            os.environ["TEXIN_BASE_URL"] + "get_balance",
            json={"api_key": os.environ["TEXIN_API_KEY"]},
        )
        break
    except httpx.ConnectError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
print(answer.json()["sms_balance"])
"""


def test_the_examples_emulator(tmp_path: Path) -> None:
    """The examples' two lines run in bash (on a free port instead of 8001): the emulator
    starts in the background and answers at the URL and key they export."""
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "texin").exists(), "the console script is installed with the package"
    lines = block("Web frameworks (`examples/`)", "sh").code
    assert lines.count("8001") == 2
    script = lines.replace("8001", str(free_port()))
    (tmp_path / "check.py").write_text(CHECK_BALANCE, encoding="utf-8")
    script += f'pid=$!\n"{sys.executable}" check.py\nkill $pid\nwait $pid || true\n'
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        ["bash", "-euc", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "10000" in run.stdout.splitlines()  # after the emulator's own banner
