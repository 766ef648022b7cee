"""The one-request commands, global options, exit codes and error forms, run in process."""

from __future__ import annotations

import functools
import time

import pytest
from hostile_server import JSON, answer, hostile_server_in_thread, whole

from texin_async import RetryPolicy, TexinClient, __version__
from texin_async._cli import _common
from texin_async.testing import Fault, TexinEmulator

from ._support import Texin, flat, sends

NUMBER = "254712345678"


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients make one attempt: an unreachable API fails at once, not after backing off."""
    once = functools.partial(TexinClient, retry=RetryPolicy(attempts=1))
    monkeypatch.setattr(_common, "TexinClient", once)


# -- help and version ------------------------------------------------------------------------


def test_help_documents_exit_codes(texin: Texin) -> None:
    """`texin --help` lists every command and the exit codes."""
    run = texin("--help")
    assert run.code == 0
    for word in ("info", "ping", "balance", "send", "status", "batch", "demo", "emulator"):
        assert word in run.out
    assert "Exit codes" in run.out
    assert "130" in run.out


def test_version(texin: Texin) -> None:
    """`texin --version` prints `texin <version>` and exits 0."""
    run = texin("--version")
    assert run.code == 0
    assert run.out == f"texin {__version__}\n"


# -- one-request commands --------------------------------------------------------------------


def test_info_text(texin: Texin) -> None:
    """`texin info` names the API and its version."""
    run = texin("info")
    assert run.code == 0
    assert "2.0.1" in run.out
    assert "send_sms" in run.out


def test_info_json(texin: Texin) -> None:
    """`texin info --json` prints the API's answer as JSON."""
    assert texin("info", "--json").json()["version"] == "2.0.1"


def test_ping_needs_no_key(texin: Texin, monkeypatch: pytest.MonkeyPatch) -> None:
    """`texin ping` works without an API key."""
    monkeypatch.delenv("TEXIN_API_KEY")
    run = texin("ping")
    assert run.code == 0
    assert "successful" in run.out


def test_ping_json(texin: Texin) -> None:
    """`texin --json ping` reports success and the round trip time."""
    answer = texin("--json", "ping").json()
    assert answer["success"] is True
    assert answer["seconds"] >= 0


def test_balance_text(texin: Texin) -> None:
    """`texin balance` shows the credits and their worth, money always with two decimals."""
    run = texin("balance")
    assert run.code == 0
    assert "10000 credits" in run.out
    assert "KES 3,000.00 at KES 0.30 per unit" in run.out


def test_balance_json(texin: Texin) -> None:
    """`texin balance --json` gives the balance as a decimal string."""
    assert texin("balance", "--json").json()["sms_balance"] == "10000"


@pytest.mark.parametrize("amount", [b'"NaN"', b'"Infinity"', b'"1e999999999"', b"1e999999999"])
def test_balance_without_a_usable_amount_says_unknown(
    texin: Texin, monkeypatch: pytest.MonkeyPatch, amount: bytes
) -> None:
    """A balance of NaN, Infinity or 1e999999999 prints "unknown", at once, in text and JSON."""
    body = b'{"success": true, "sms_balance": ' + amount + b', "sms_cost_per_unit": "0.30"}'
    with hostile_server_in_thread(whole(answer("200 OK", body, JSON))) as server:
        monkeypatch.setenv("TEXIN_BASE_URL", server.url)
        started = time.perf_counter()
        run = texin("balance")
        assert texin("balance", "--json").json()["sms_balance"] is None
    assert time.perf_counter() - started < 5
    assert run.code == 0
    assert run.out.startswith("Balance: unknown (the API's answer held no usable amount)\n")
    assert "Worth" not in run.out
    assert len(run.out) < 200


def test_send_text(texin: Texin, texin_emulator: TexinEmulator, texin_api_key: str) -> None:
    """`texin send` sends once and prints the message id, one unit and its cost as KES 0.30."""
    run = texin("send", "0712345678", "Hello from the CLI")
    assert run.code == 0
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}
    (message_id,) = texin_emulator.messages
    assert message_id in run.out
    assert "1 unit, KES 0.30," in run.out


def test_send_json_with_sender_id(texin: Texin, texin_emulator: TexinEmulator) -> None:
    """`texin send --json --sender-id` sends with that sender and prints the result."""
    result = texin("send", "0712345678", "Hi", "--sender-id", "Texin", "--json").json()
    assert result["recipient"] == NUMBER
    assert texin_emulator.messages[result["message_id"]].sender_id == "Texin"


def test_status_text(texin: Texin) -> None:
    """`texin status` shows a sent message's status, recipient and cost in KES."""
    message_id = texin("--json", "send", "0712345678", "Track me").json()["message_id"]
    run = texin("status", message_id)
    assert run.code == 0
    assert "sent" in run.out
    assert NUMBER in run.out
    assert "KES 0.30" in run.out


def test_status_json(texin: Texin) -> None:
    """`texin status --json` gives the API's answer."""
    message_id = texin("--json", "send", "0712345678", "Track me").json()["message_id"]
    assert texin("status", message_id, "--json").json()["status"] == "sent"


# -- errors and exit codes -------------------------------------------------------------------


def test_bad_key_exits_1(texin: Texin, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key the API refuses exits 1 with one line and a hint about the key."""
    monkeypatch.setenv("TEXIN_API_KEY", "not-an-account")
    run = texin("balance")
    assert run.code == 1
    assert "401" in run.error()
    assert "TEXIN_API_KEY" in run.error()


def test_unknown_message_exits_1(texin: Texin) -> None:
    """`texin status` of an unknown id exits 1 with the API's reason."""
    run = texin("status", "API-0")
    assert run.code == 1
    assert "not found" in run.error()


def test_bad_number_exits_2(texin: Texin, texin_emulator: TexinEmulator) -> None:
    """A malformed number exits 2 and sends nothing."""
    run = texin("send", "0800 123", "Hi")
    assert run.code == 2
    assert "invalid recipient" in run.error()
    assert sends(texin_emulator) == 0


def test_missing_key_exits_2(texin: Texin, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key at all exits 2 and says how to give one."""
    monkeypatch.delenv("TEXIN_API_KEY")
    run = texin("balance")
    assert run.code == 2
    assert "TEXIN_API_KEY" in run.error()


def test_usage_error_exits_2(texin: Texin) -> None:
    """An unknown option exits 2 with one line pointing at --help."""
    run = texin("balance", "--bogus")
    assert run.code == 2
    assert "--help" in run.error()


@pytest.mark.usefixtures("no_retries")
def test_unreachable_api_exits_3(texin: Texin, monkeypatch: pytest.MonkeyPatch) -> None:
    """A port nobody listens on exits 3: could not connect, nothing sent."""
    monkeypatch.setenv("TEXIN_BASE_URL", "http://127.0.0.1:9/api/")
    run = texin("send", "0712345678", "Hi")
    assert run.code == 3
    assert "nothing was sent" in run.error()


def test_lost_answer_exits_4(
    texin: Texin, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A send whose answer is lost exits 4 and warns it may have gone out."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    run = texin("send", "0712345678", "Hi")
    assert run.code == 4
    assert "may have been sent" in run.error()
    assert texin_emulator.processed(texin_api_key) == {NUMBER: 1}


def test_lost_answer_hint_has_no_message_id_to_check(
    texin: Texin, texin_emulator: TexinEmulator
) -> None:
    """An unknown send's hint points at the dashboard, not at `texin status`: it has no id."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    line = texin("send", "0712345678", "Hi").error()
    assert "texin status" not in line
    assert "dashboard" in line


def test_plain_http_names_the_cli_option(texin: Texin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain http to a remote host is refused, pointing at --allow-insecure-http."""
    monkeypatch.setenv("TEXIN_BASE_URL", "http://0.0.0.0:9/api/")
    run = texin("balance")
    assert run.code == 2
    assert "--allow-insecure-http" in run.error()
    assert "allow_insecure_http=True" not in run.error()


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--base-url", "http://127.0.0.1:9/api/?v=2", "must not have a query or fragment"),
        ("--base-url", "http://[::1/api/", "base_url is not a valid URL"),
        ("--rate-limit", "fast", "rate limit must look like '100/60'"),
        ("--rate-limit", "0/60", "max_rate must be >= 1"),
    ],
)
def test_a_bad_global_option_is_one_line_and_exit_2(
    texin: Texin, texin_emulator: TexinEmulator, option: str, value: str, named: str
) -> None:
    """Arguments the client refuses come out as its one-line error, before any request."""
    run = texin(option, value, "send", "0712345678", "Hi")
    assert run.code == 2
    assert named in run.error()
    assert texin_emulator.requests() == {}


@pytest.mark.usefixtures("no_retries")
def test_allow_insecure_http_lifts_the_refusal(
    texin: Texin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --allow-insecure-http the request is tried (here: nobody listens, exit 3)."""
    monkeypatch.setenv("TEXIN_BASE_URL", "http://0.0.0.0:9/api/")
    assert texin("--allow-insecure-http", "balance").code == 3


def test_debug_after_the_command_shows_traceback(
    texin: Texin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--debug after the command name adds the traceback, like --json there."""
    monkeypatch.setenv("TEXIN_API_KEY", "not-an-account")
    run = texin("balance", "--debug")
    assert run.code == 1
    assert "Traceback" in run.err
    assert run.err.strip().splitlines()[-1].startswith("texin: error: ")


def test_json_error_is_one_object_on_stderr(texin: Texin) -> None:
    """Under --json an error is one JSON object on stderr: type, message, exit code, hint."""
    run = texin("--api-key", "not-an-account", "send", "0712345678", "Hi", "--json")
    error = run.error_json()
    assert run.out == ""
    assert error["type"] == "AuthenticationError"
    assert error["exit_code"] == run.code == 1
    assert "401" in error["message"]
    assert "TEXIN_API_KEY" in error["hint"]


def test_json_usage_error_is_one_object_on_stderr(texin: Texin) -> None:
    """Under --json a usage error is the same JSON object, exit code 2."""
    run = texin("--json", "balance", "--bogus")
    error = run.error_json()
    assert error["exit_code"] == run.code == 2
    assert "--bogus" in error["message"]


def test_json_error_never_shows_the_key(
    texin: Texin, monkeypatch: pytest.MonkeyPatch, texin_api_key: str
) -> None:
    """A message that would hold the key shows *** instead, in the JSON form too."""
    monkeypatch.setenv("TEXIN_BASE_URL", f"ftp://{texin_api_key}/api/")
    run = texin("--json", "balance")
    assert run.code == 2
    assert "***" in run.error_json()["message"]


# -- emulator and demo -----------------------------------------------------------------------


def test_emulator_help_names_itself_texin_emulator(
    texin: Texin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`texin emulator --help` calls itself `texin emulator`, not python -m ..."""
    monkeypatch.setenv("TEXIN_API_KEY", "canary-key")  # its help shows the emulator's own key
    run = texin("emulator", "--help")
    assert run.code == 0
    assert run.out.startswith("usage: texin emulator")
    assert "python -m" not in run.out


def test_demo_runs_on_its_own_emulator(texin: Texin, monkeypatch: pytest.MonkeyPatch) -> None:
    """`texin demo` needs no key, runs a batch on an in-process emulator and reports it."""
    monkeypatch.delenv("TEXIN_API_KEY")
    run = texin("demo", "--size", "200")
    assert run.code == 0, run.err
    assert "never contacts the real service" in flat(run.err)
    for label in ("Sent", "Invalid", "Failed", "Requests", "Units", "Cost", "Elapsed"):
        assert label in run.out


def test_demo_suggests_the_examples_emulator_port(texin: Texin) -> None:
    """The demo's closing line suggests port 8001, the examples' emulator port, not 8000."""
    out = flat(texin("demo", "--size", "100").out)
    assert "`texin emulator --port 8001`" in out
    assert "8000" not in out


def test_demo_json(texin: Texin) -> None:
    """`texin demo --json` gives the report with invalid and gateway-failed rows."""
    report = texin("demo", "--size", "300", "--json").json()
    assert report["total"] == 300
    assert report["invalid"] > 0
    assert report["failed"] > 0
    assert report["sent"] + report["invalid"] + report["failed"] == 300


def test_a_command_waiting_for_the_budget_says_so(texin: Texin) -> None:
    """Right after the key's budget is spent, `texin balance` says it waits, and how long,
    instead of a silent pause."""
    assert texin("--rate-limit", "1/1.5", "balance").code == 0
    run = texin("--rate-limit", "1/1.5", "balance")
    assert run.code == 0
    assert "waits 1." in run.err
    assert "for the rate limit (1 per 1.5s" in run.err
