"""``python -m texin_async.testing``: the URL first, served until SIGINT, then exit 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from texin_async.testing import DEFAULT_API_KEY, Fault
from texin_async.testing._cli import (
    DEFAULT_PORT,
    banner,
    build_parser,
    emulator_from_args,
    main,
    parse_account,
)

URL = "http://127.0.0.1:8001/api/"


@pytest.fixture
def cli() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The emulator's command line, started with two accounts; its base URL."""
    command = [sys.executable, "-m", "texin_async.testing", "--port", "0"]
    command += ["--account", "key-a:7", "--account", "key-b:3:sim", "--rate-limit", "50/60"]
    command += ["--failing-number", "0799999999"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        yield process, process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_the_cli_prints_its_url_first_and_serves_the_api(
    cli: tuple[subprocess.Popen[str], str],
) -> None:
    """The first stdout line is the base URL, and the accounts given answer there."""
    _, url = cli
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/api/")
    response = httpx.post(url + "get_balance", json={"api_key": "key-a"})
    assert response.json()["sms_balance"] == 7


def stop(process: subprocess.Popen[str]) -> str:
    """SIGINT ``process``, wait for it, and return its stderr."""
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=10)[1]


def test_the_banner_says_how_many_accounts_and_hides_their_keys(
    cli: tuple[subprocess.Popen[str], str],
) -> None:
    """Given --account twice, stderr names the URL and "2 accounts", and neither key."""
    process, url = cli
    stderr = stop(process)
    assert f"Texin emulator at {url}" in stderr
    assert "Serving 2 accounts given with --account" in stderr
    assert "key-a" not in stderr
    assert "key-b" not in stderr


def test_the_banner_shows_the_test_key_of_the_default_account() -> None:
    """Without --account, stderr shows the URL and the default account's test key."""
    command = [sys.executable, "-m", "texin_async.testing", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None
        url = p.stdout.readline().strip()
        stderr = stop(p)
    assert stderr.splitlines()[:2] == [
        f"Texin emulator at {url} (Ctrl-C to stop)",
        f"API key: {DEFAULT_API_KEY}",
    ]


def test_the_banner_suggests_a_request_to_the_served_url() -> None:
    """The banner's last line is a curl of get_balance at the URL, with the key to use."""
    assert banner(URL, 0).splitlines()[-1] == (
        f"""Try: curl -X POST {URL}get_balance -d '{{"api_key": "{DEFAULT_API_KEY}"}}'"""
    )


def test_the_banner_counts_one_account_in_the_singular() -> None:
    """One --account reads "1 account", and the request to try has a KEY placeholder."""
    lines = banner(URL, 1).splitlines()
    assert lines[1] == "Serving 1 account given with --account"
    assert """'{"api_key": "KEY"}'""" in lines[2]


def test_the_port_defaults_to_8001() -> None:
    """With no --port the emulator serves on 8001, beside an app on 8000."""
    assert DEFAULT_PORT == 8001
    assert build_parser().parse_args([]).port == 8001


def test_the_help_shows_the_default_port_and_port_0() -> None:
    """--help documents the default port and that 0 picks a free one."""
    text = " ".join(build_parser().format_help().split())
    assert "(default: 8001); 0 picks a free port" in text


def test_a_port_in_use_is_one_clear_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """A taken port names host and port and the --port 0 fix, with no errno, and exits 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"python -m texin_async.testing: error: 127.0.0.1:{port} is already in use; "
        "choose another --port (--port 0 picks a free one)\n"
    )


def test_the_cli_exits_0_on_sigint(cli: tuple[subprocess.Popen[str], str]) -> None:
    """SIGINT stops the server cleanly: exit status 0, no traceback, no key on stderr."""
    process, url = cli
    httpx.post(url + "get_balance", json={"api_key": "key-a"})
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "key-a" not in stderr


def test_the_cli_refuses_a_bad_option_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --faults spec is a usage error (exit 2) that explains the form."""
    with pytest.raises(SystemExit) as exc_info:
        main(["--faults", "drop=often"])
    assert exc_info.value.code == 2
    assert "drop_after=0.05" in capsys.readouterr().err


def test_the_cli_serves_its_failing_numbers(cli: tuple[subprocess.Popen[str], str]) -> None:
    """--failing-number makes the gateway fail to that number; simulation accounts work."""
    _, url = cli
    body = {"api_key": "key-b", "message": "Hi"}
    assert httpx.post(url + "send_sms", json={**body, "recipient": "0799999999"}).status_code == 500
    sent = httpx.post(url + "send_sms", json={**body, "recipient": "0712345678"}).json()
    assert sent["simulation_mode"] is True


def test_the_cli_reports_a_bad_certificate_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A certificate that cannot be loaded is one error line and exit status 1."""
    assert main(["--port", "0", "--tls-cert", str(tmp_path / "missing.pem")]) == 1
    assert "error:" in capsys.readouterr().err


def test_main_names_the_embedding_command(capsys: pytest.CaptureFixture[str]) -> None:
    """main(prog=...) uses the embedding command's name in usage errors."""
    with pytest.raises(SystemExit):
        main(["--bogus"], prog="texin emulator")
    assert capsys.readouterr().err.startswith("usage: texin emulator")


def test_options_build_the_described_emulator() -> None:
    """--faults and --rate-limit none reach the emulator."""
    args = build_parser().parse_args(["--faults", "drop_after=0.25", "--rate-limit", "none"])
    emulator = emulator_from_args(args)
    assert emulator.faults.rates == {Fault.DROP_AFTER: 0.25}
    assert "rate_limit=None" in repr(emulator)
    assert emulator.account(DEFAULT_API_KEY).balance == 10_000


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("k", ("k", 10_000, False)), ("k:5", ("k", 5, False)), ("k:5:sim", ("k", 5, True))],
)
def test_parse_account_reads_key_balance_and_mode(
    spec: str, expected: tuple[str, int, bool]
) -> None:
    """KEY[:BALANCE[:sim]] gives the key, the credits and simulation mode."""
    account = parse_account(spec)
    assert (account.api_key, account.balance, account.simulation) == expected


@pytest.mark.parametrize("spec", ["", ":5", "k:many", "k:5:live"])
def test_parse_account_refuses_a_malformed_spec(spec: str) -> None:
    """A missing key, a non-integer balance or an unknown mode is a ValueError."""
    with pytest.raises(ValueError, match="--account"):
        parse_account(spec)
