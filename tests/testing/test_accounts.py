"""Accounts: keys, balance, simulation mode, inactive accounts and sender ids."""

from __future__ import annotations

import httpx
import pytest

from texin_async.testing import DEFAULT_API_KEY, Account, TexinEmulator, serve_in_thread

from ._support import NUMBER, Api, error_of


@pytest.fixture
def other(client: httpx.Client, texin_emulator: TexinEmulator) -> Api:
    """A second account, 500 credits, allowed to send as "ACME" too."""
    texin_emulator.add_account(
        Account(api_key="other-key", balance=500, sender_ids=frozenset({"Texin", "ACME"}))
    )
    return Api(client, "other-key")


def test_a_send_deducts_its_units_from_the_balance(api: Api, texin_emulator: TexinEmulator) -> None:
    """Credits fall by the units sent, in the answer and in the live account."""
    api.send(message="x" * 161)
    assert texin_emulator.account(DEFAULT_API_KEY).balance == 9_998
    assert api.post("get_balance").json()["sms_balance"] == 9_998


def test_simulation_mode_records_but_does_not_charge(
    client: httpx.Client, texin_emulator: TexinEmulator
) -> None:
    """A simulation account's send gets an id and is recorded, at no cost."""
    texin_emulator.add_account(Account(api_key="sim-key", balance=5, simulation=True))
    body = Api(client, "sim-key").send().json()
    assert body["simulation_mode"] is True
    assert body["new_balance"] == 5
    assert texin_emulator.processed("sim-key") == {NUMBER: 1}
    assert texin_emulator.messages[body["message_id"]].simulated


def test_simulation_mode_ignores_the_balance(
    client: httpx.Client, texin_emulator: TexinEmulator
) -> None:
    """A simulation account with no credits still sends: nothing is charged."""
    texin_emulator.add_account(Account(api_key="sim-key", balance=0, simulation=True))
    assert Api(client, "sim-key").send().status_code == 200


def test_simulated_message_status_is_simulated(
    client: httpx.Client, texin_emulator: TexinEmulator
) -> None:
    """check_status of a simulated message says so."""
    texin_emulator.add_account(Account(api_key="sim-key", simulation=True))
    sim = Api(client, "sim-key")
    message_id = sim.send().json()["message_id"]
    assert sim.post("check_status", message_id=message_id).json()["status"] == "simulated"


def test_an_unknown_key_gets_401(api: Api) -> None:
    """A key no account has is refused with 401."""
    response = api.send(api_key="no-such-key")
    assert response.status_code == 401
    error_of(response)


def test_a_missing_key_gets_401(api: Api) -> None:
    """A request without api_key is refused with 401."""
    assert api.post("get_balance", api_key=None).status_code == 401


def test_a_key_that_is_not_a_string_gets_401(api: Api) -> None:
    """A non-string api_key names no account: 401, not a crash."""
    assert api.post("get_balance", api_key=["texin-test-key"]).status_code == 401


def test_an_inactive_account_gets_403(api: Api, texin_emulator: TexinEmulator) -> None:
    """A known key of an inactive account is refused with 403 and nothing is sent."""
    texin_emulator.account(DEFAULT_API_KEY).active = False
    response = api.send()
    assert response.status_code == 403
    error_of(response)
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}


def test_insufficient_balance_charges_nothing(other: Api, texin_emulator: TexinEmulator) -> None:
    """A send costing more credits than left is refused with 400; the balance stays."""
    texin_emulator.account("other-key").balance = 1
    response = other.send(message="x" * 161)
    assert response.status_code == 400
    assert error_of(response)["message"] == "Insufficient balance"
    assert texin_emulator.account("other-key").balance == 1
    assert texin_emulator.processed("other-key") == {}


def test_bulk_balance_is_checked_for_all_numbers_first(
    other: Api, texin_emulator: TexinEmulator
) -> None:
    """A bulk send the balance covers only partly sends nothing at all."""
    texin_emulator.account("other-key").balance = 2
    response = other.bulk(["254700000001", "254700000002", "254700000003"])
    assert response.status_code == 400
    assert texin_emulator.account("other-key").balance == 2
    assert texin_emulator.processed("other-key") == {}


def test_message_ids_belong_to_their_account(api: Api, other: Api) -> None:
    """check_status of another account's message id is 404, as if it did not exist."""
    message_id = api.send().json()["message_id"]
    response = other.post("check_status", message_id=message_id)
    assert response.status_code == 404
    error_of(response)


def test_check_status_of_an_unknown_id_gets_404(api: Api) -> None:
    """check_status of an id never issued is 404."""
    assert api.post("check_status", message_id="API-1").status_code == 404


def test_sender_id_defaults_to_the_accounts_default(api: Api) -> None:
    """Without sender_id the account's default ("Texin") is used."""
    assert api.send().json()["sender_id"] == "Texin"


def test_a_registered_sender_id_is_used(other: Api) -> None:
    """A sender id registered to the account is accepted and echoed."""
    assert other.send(sender_id="ACME").json()["sender_id"] == "ACME"


def test_an_unregistered_sender_id_is_refused_as_documented(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """An unregistered sender id gets the doc's error body, sender_id_used included."""
    response = api.send(sender_id="TEXIN")
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Failed to send SMS",
        "error": "API Error: Given SenderId is invalid. Please use valid SenderId.",
        "sender_id_used": "TEXIN",
    }
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}


def test_bulk_refuses_an_unregistered_sender_id(api: Api) -> None:
    """send_bulk_sms checks the sender id before sending to anyone."""
    response = api.bulk([NUMBER], sender_id="ACME")
    assert response.status_code == 400
    assert response.json()["sender_id_used"] == "ACME"


def test_account_repr_hides_the_key() -> None:
    """An Account's repr never shows its API key."""
    assert "secret-key" not in repr(Account(api_key="secret-key"))


def test_account_refuses_a_default_sender_it_does_not_have() -> None:
    """default_sender_id must be one of sender_ids, caught at construction."""
    with pytest.raises(ValueError, match="default_sender_id"):
        Account(api_key="k", default_sender_id="ACME")


def test_reset_restores_the_initial_accounts(api: Api, texin_emulator: TexinEmulator) -> None:
    """reset() undoes charges and added accounts and clears the records."""
    api.send()
    texin_emulator.add_account(Account(api_key="added"))
    texin_emulator.reset()
    assert texin_emulator.account(DEFAULT_API_KEY).balance == 10_000
    with pytest.raises(KeyError):
        texin_emulator.account("added")
    assert texin_emulator.messages == {}
    assert texin_emulator.requests() == {}


def test_a_key_prefix_serves_any_key_that_starts_with_it() -> None:
    """key_prefix makes an account per key on first use: a load test's thousands of keys."""
    emulator = TexinEmulator(key_prefix="acct-")
    with serve_in_thread(emulator) as url, httpx.Client(base_url=url) as http:
        for key in ("acct-1", "acct-2"):
            assert http.post("get_balance", json={"api_key": key}).status_code == 200
        assert http.post("get_balance", json={"api_key": "acct-"}).status_code == 401
        assert http.post("get_balance", json={"api_key": "other"}).status_code == 401
    assert emulator.account("acct-2").balance == 10_000
