"""The "php" dialect: 0/1 booleans, numbers as strings, [] for empty maps, on every answer."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from texin_async.testing import DEFAULT_API_KEY, Fault, TexinEmulator, serve_in_thread
from texin_async.testing._cli import build_parser, emulator_from_args
from texin_async.testing._dialect import rewrite
from texin_async.testing._payload import MAX_DEPTH

from ._support import NUMBER, Api

FAILING = "254799999999"


def dialect_of(emulator: TexinEmulator) -> str:
    """The emulator's dialect, read afresh (mypy would keep the last one assigned)."""
    return emulator.dialect


@pytest.fixture(scope="module")
def php_server() -> Iterator[tuple[TexinEmulator, str]]:
    """An emulator speaking the "php" dialect, whose gateway fails to deliver to FAILING."""
    emulator = TexinEmulator(dialect="php", failing_numbers=[FAILING])
    with serve_in_thread(emulator) as url:
        yield emulator, url


@pytest.fixture
def php(php_server: tuple[TexinEmulator, str]) -> Iterator[tuple[TexinEmulator, Api]]:
    """The php emulator, reset, and an Api on it as the default account."""
    emulator, url = php_server
    emulator.reset()
    with httpx.Client(base_url=url, timeout=10.0) as client:
        yield emulator, Api(client, DEFAULT_API_KEY)


# -- The rewrite itself ---------------------------------------------------------------------


def test_documented_returns_the_body_itself() -> None:
    """The default dialect changes nothing: today's answers, byte for byte."""
    body = {"success": True, "units_used": 1, "failed_recipients": {}}
    assert rewrite(body, "documented", endpoint="send_sms") is body


def test_php_writes_booleans_as_0_and_1() -> None:
    """true and false become 1 and 0, success included."""
    body = {"success": True, "simulation_mode": False}
    assert rewrite(body, "php", endpoint="send_sms") == {"success": 1, "simulation_mode": 0}


def test_php_writes_numbers_as_strings() -> None:
    """Integers and floats become strings; a whole float loses its ".0" as in PHP."""
    body = {"units_used": 1, "cost": 0.3, "total_cost": 3.0, "new_balance": 92}
    assert rewrite(body, "php", endpoint="send_bulk_sms") == {
        "units_used": "1",
        "cost": "0.3",
        "total_cost": "3",
        "new_balance": "92",
    }


def test_php_writes_an_empty_map_as_an_empty_list() -> None:
    """{} becomes [] (json_encode of an empty PHP array); [] stays []."""
    body: dict[str, object] = {"message_ids": {}, "failed_recipients": {}, "invalid_numbers": []}
    assert rewrite(body, "php", endpoint="send_bulk_sms") == {
        "message_ids": [],
        "failed_recipients": [],
        "invalid_numbers": [],
    }


def test_php_rewrites_nested_maps_and_lists() -> None:
    """The rules reach every level: nested maps, lists of numbers, maps in lists."""
    body = {"statistics": {"failed": 0}, "deep": [[1, {"ok": True, "none": {}}]]}
    assert rewrite(body, "php", endpoint="send_bulk_sms") == {
        "statistics": {"failed": "0"},
        "deep": [["1", {"ok": 1, "none": []}]],
    }


def test_php_keeps_strings_and_null() -> None:
    """Strings (message ids too) and null are written as they are."""
    body = {"message_id": "API-1768205981", "cost": "0.30", "delivered_at": None}
    assert rewrite(body, "php", endpoint="check_status") == body


def test_php_does_not_change_its_input() -> None:
    """The rewrite builds a new body: the answer it was given is untouched."""
    body: dict[str, Any] = {"success": True, "details": {"Units used": 1}, "ids": {}}
    before = copy.deepcopy(body)
    rewrite(body, "php", endpoint="send_sms")
    assert body == before


def test_php_lists_info_endpoints_with_method_path_and_description() -> None:
    """GET /api/'s endpoints map becomes a list of method, path and description objects."""
    body = {"success": True, "endpoints": {"send_sms": "POST /api/send_sms"}}
    assert rewrite(body, "php", endpoint="info") == {
        "success": 1,
        "endpoints": [
            {"method": "POST", "path": "/api/send_sms", "description": "Send a single SMS message"}
        ],
    }


# -- Served answers -------------------------------------------------------------------------


def test_send_sms_answers_in_php_form(php: tuple[TexinEmulator, Api]) -> None:
    """send_sms: success 1, every count, cost and balance a string, simulation_mode 0."""
    body = php[1].send(message="x" * 37).json()
    assert (body["success"], body["simulation_mode"]) == (1, 0)
    assert (body["units_used"], body["message_length"]) == ("1", "37")
    assert (body["cost"], body["new_balance"]) == ("0.3", "9999")
    assert body["details"]["Units used"] == "1"
    assert body["message_id"].startswith("API-")


def test_bulk_answers_in_php_form(php: tuple[TexinEmulator, Api]) -> None:
    """send_bulk_sms: statistics as strings, ids still strings, empty failures as []."""
    body = php[1].bulk([NUMBER, "254700000001"]).json()
    assert body["statistics"] == {
        "total_attempted": "2",
        "successful": "2",
        "failed": "0",
        "invalid_numbers": "0",
    }
    assert (body["units_used"], body["total_cost"]) == ("2", "0.6")
    assert all(id_.startswith("API-") for id_ in body["message_ids"].values())
    assert (body["invalid_numbers"], body["failed_recipients"]) == ([], [])


def test_bulk_with_nothing_sent_gives_message_ids_as_a_list(
    php: tuple[TexinEmulator, Api],
) -> None:
    """When the gateway fails every number, message_ids is [], as PHP encodes an empty array."""
    body = php[1].bulk([FAILING]).json()
    assert body["message_ids"] == []
    assert body["failed_recipients"][FAILING].startswith("API Error: ")


def test_get_balance_answers_in_php_form(php: tuple[TexinEmulator, Api]) -> None:
    """get_balance: user_id and sms_balance as strings; the cost per unit as before."""
    body = php[1].post("get_balance").json()
    assert (body["success"], body["user_id"], body["sms_balance"]) == (1, "1", "10000")
    assert body["sms_cost_per_unit"] == "0.30"


def test_check_status_answers_in_php_form(php: tuple[TexinEmulator, Api]) -> None:
    """check_status: units as a string, null timestamps still null."""
    api = php[1]
    message_id = api.send().json()["message_id"]
    body = api.post("check_status", message_id=message_id).json()
    assert (body["success"], body["units_used"], body["delivered_at"]) == (1, "1", None)


def test_a_refusal_has_success_0(php: tuple[TexinEmulator, Api]) -> None:
    """Refusals are rewritten too: success 0, same status and message."""
    response = php[1].send(api_key="no-such-key")
    assert response.status_code == 401
    assert response.json() == {
        "success": 0,
        "message": "Unauthorized",
        "error": "Invalid or missing API key",
    }


def test_a_deeply_nested_echo_is_still_a_refusal(php: tuple[TexinEmulator, Api]) -> None:
    """A sender_id nested as deep as a request may be is echoed, rewritten, in a 400."""
    _, api = php
    deep = b"[" * (MAX_DEPTH - 1) + b"true" + b"]" * (MAX_DEPTH - 1)
    body = b'{"api_key": "%s", "recipient": "%s", "message": "Hi", "sender_id": %s}' % (
        DEFAULT_API_KEY.encode(),
        NUMBER.encode(),
        deep,
    )
    response = api.client.post("send_sms", content=body)
    assert response.status_code == 400
    assert response.json()["success"] == 0
    assert response.content.endswith(b"[" * (MAX_DEPTH - 1) + b"1" + b"]" * (MAX_DEPTH - 1) + b"}")


def test_info_lists_endpoints_as_objects(php: tuple[TexinEmulator, Api]) -> None:
    """GET /api/ lists each endpoint as method, path and description, in the doc's order."""
    body = php[1].client.get("").json()
    assert body["success"] == 1
    assert body["endpoints"][0] == {
        "method": "POST",
        "path": "/api/send_sms",
        "description": "Send a single SMS message",
    }
    assert [e["path"] for e in body["endpoints"]][-1] == "/api/test_connection"


def test_a_truncated_answer_is_half_the_php_body(php: tuple[TexinEmulator, Api]) -> None:
    """TRUNCATED_JSON cuts the php rendering, not the documented one."""
    emulator, api = php
    emulator.faults.schedule(Fault.TRUNCATED_JSON)
    assert api.send().content.startswith(b'{"success":1,')


# -- Choosing the dialect -------------------------------------------------------------------


def test_the_default_dialect_is_documented() -> None:
    """Without dialect= the emulator answers as documented."""
    assert TexinEmulator().dialect == "documented"


def test_the_dialect_can_change_at_run_time(api: Api, texin_emulator: TexinEmulator) -> None:
    """Setting .dialect changes the next answer."""
    texin_emulator.dialect = "php"
    assert api.post("get_balance").json()["success"] == 1


def test_reset_restores_the_initial_dialect(php: tuple[TexinEmulator, Api]) -> None:
    """reset() goes back to the dialect given at construction."""
    emulator, api = php
    emulator.dialect = "documented"
    emulator.reset()
    assert dialect_of(emulator) == "php"
    assert api.post("get_balance").json()["success"] == 1


def test_an_unknown_dialect_is_refused_at_construction() -> None:
    """dialect= must name a dialect; the error lists them."""
    with pytest.raises(ValueError, match="documented, php"):
        TexinEmulator(dialect="mysql")  # type: ignore[arg-type]


def test_an_unknown_dialect_is_refused_at_run_time() -> None:
    """Assigning a name that is no dialect raises and keeps the current one."""
    emulator = TexinEmulator()
    with pytest.raises(ValueError, match="dialect"):
        emulator.dialect = "PHP"  # type: ignore[assignment]
    assert emulator.dialect == "documented"


def test_the_cli_dialect_option_reaches_the_emulator() -> None:
    """--dialect php builds a php emulator."""
    args = build_parser().parse_args(["--dialect", "php"])
    assert emulator_from_args(args).dialect == "php"


def test_the_cli_refuses_an_unknown_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    """--dialect takes only documented or php: anything else is a usage error naming both."""
    with pytest.raises(SystemExit) as exc_info:
        build_parser().parse_args(["--dialect", "mysql"])
    assert exc_info.value.code == 2
    assert "documented" in capsys.readouterr().err


def test_the_cli_help_explains_the_dialects() -> None:
    """--help names both dialects and what "php" changes."""
    text = " ".join(build_parser().format_help().split())
    assert "--dialect {documented,php}" in text
    assert "0/1 booleans, numbers as strings" in text
