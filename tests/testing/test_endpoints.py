"""Each endpoint's success answer: the documented shape, readable by the SDK's Structs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import httpx
import msgspec

from texin_async._models import (
    ApiInfo,
    Balance,
    BulkSMSResult,
    ConnectionTest,
    MessageStatus,
    SMSResult,
)

from ._support import NUMBER, Api, decode


def test_info_lists_the_endpoints(client: httpx.Client) -> None:
    """GET /api/ names the API, its version and every endpoint."""
    info = decode(client.get(""), ApiInfo)
    assert (info.name, info.version) == ("RAYPROTECH System SMS API", "2.0.1")
    assert info.endpoints["send_sms"] == "POST /api/send_sms"
    assert set(info.endpoints) >= {"send_bulk_sms", "check_status", "get_balance"}
    assert isinstance(info.timestamp, datetime)


def test_test_connection_succeeds_without_a_key(client: httpx.Client) -> None:
    """GET /api/test_connection answers the documented message, no key needed."""
    answer = decode(client.get("test_connection"), ConnectionTest)
    assert answer.success
    assert answer.message == "API connection successful"


def test_get_balance_reports_the_account(api: Api) -> None:
    """get_balance gives the account's details and the unit cost as the string "0.30"."""
    response = api.post("get_balance")
    balance = decode(response, Balance)
    assert balance.sms_balance == 10_000
    assert (balance.user_id, balance.username, balance.email) == (1, "testuser", "test@example.com")
    assert balance.default_sender_id == "Texin"
    assert response.json()["sms_cost_per_unit"] == "0.30"


def test_send_sms_answer_has_the_documented_fields(api: Api) -> None:
    """send_sms answers cost as a number and new_balance as in the doc."""
    response = api.send(message="Hello from RAYPROTECH System API!")
    result = decode(response, SMSResult)
    assert result.message == "SMS sent successfully!"
    assert (result.recipient, result.sender_id, result.units_used) == (NUMBER, "Texin", 1)
    assert result.message_length == 33
    assert response.json()["cost"] == 0.3
    assert result.new_balance == 9_999
    assert result.simulation_mode is False


def test_send_sms_details_use_the_spaced_keys(api: Api) -> None:
    """The details block uses the doc's spaced, capitalised keys and formatted strings."""
    body = api.send(message="x" * 37).json()
    assert body["details"] == {
        "To": NUMBER,
        "Message ID": body["message_id"],
        "Units used": 1,
        "Cost": "KES 0.30",
        "New balance": "9999 credits",
        "Length": "37 characters",
    }
    assert decode(api.send(), SMSResult).details is not None


def test_bulk_answer_has_the_documented_fields(api: Api) -> None:
    """send_bulk_sms gives statistics, message ids by number, costs and the new balance."""
    recipients = ["254759924977", "254725095094", "254700000001"]
    response = api.bulk(recipients)
    result = decode(response, BulkSMSResult)
    assert result.message == "Bulk SMS sent: 3 successful, 0 failed"
    assert result.statistics is not None
    assert msgspec.structs.asdict(result.statistics) == {
        "total_attempted": 3,
        "successful": 3,
        "failed": 0,
        "invalid_numbers": 0,
    }
    assert sorted(result.message_ids) == sorted(recipients)
    assert (result.units_used, result.new_balance) == (3, Decimal(9_997))
    assert response.json()["total_cost"] == 0.9
    assert (result.invalid_numbers, result.failed_recipients) == ([], {})


def test_check_status_reports_a_sent_message(api: Api) -> None:
    """check_status gives every documented field, cost as a two-decimal string."""
    message_id = api.send(message="x" * 200).json()["message_id"]
    response = api.post("check_status", message_id=message_id)
    status = decode(response, MessageStatus)
    assert (status.message_id, status.status, status.recipient) == (message_id, "sent", NUMBER)
    assert (status.sender_id, status.units_used) == ("Texin", 2)
    assert response.json()["cost"] == "0.60"
    assert status.cost == Decimal("0.60")
    assert status.created_at == status.sent_at
    assert status.delivered_at is None
    assert status.error_message is None
    assert status.message_preview == "x" * 50


def test_check_status_gateway_response_uses_camel_case(api: Api) -> None:
    """gateway_response carries the gateway's camelCase keys, as documented."""
    message_id = api.send().json()["message_id"]
    response = api.post("check_status", message_id=message_id)
    gateway = response.json()["gateway_response"]
    assert set(gateway) == {
        "status",
        "mobile",
        "invalidMobile",
        "transactionId",
        "statusCode",
        "reason",
        "msgId",
        "requestTime",
    }
    status = decode(response, MessageStatus)
    assert status.gateway_response is not None
    assert status.gateway_response.mobile == NUMBER
    assert status.gateway_response.status_code == "200"


def test_timestamps_use_the_documented_format(api: Api) -> None:
    """Timestamps read "YYYY-MM-DD HH:MM:SS", like "2026-01-12 11:21:56"."""
    stamp = api.post("get_balance").json()["timestamp"]
    assert datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")


def test_message_ids_are_unique(api: Api) -> None:
    """Message ids look like "API-<digits>" and never repeat."""
    ids = [api.send().json()["message_id"] for _ in range(3)]
    assert all(id_.startswith("API-") and id_[4:].isdigit() for id_ in ids)
    assert len(set(ids)) == 3
