"""README's `texin` commands name only commands and options the command line has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from texin_async._cli._app import app
from texin_async.testing._cli import build_parser

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
