"""The documented endpoints: check a request as the real service does, answer in its shapes.

Pure request-to-answer logic over :class:`EmulatorState`; the caller holds the state's lock
and owns HTTP and faults. Every refusal is an :class:`ApiError` that becomes the documented
``{"success": false, "message": ..., "error": ...}`` body, never an unhandled exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._records import Account, MessageRecord
from ._rules import (
    NUMBER_FORMATS,
    format_cost,
    format_time,
    money,
    normalise_number,
    units_for,
)
from ._state import EmulatorState
from ._window import retry_after

__all__ = [
    "Answer",
    "ApiError",
    "Handler",
    "answer_post",
    "check_status",
    "get_balance",
    "requested_numbers",
    "send_bulk_sms",
    "send_sms",
]

JSONObject = dict[str, Any]

_SENDER_REFUSED = "API Error: Given SenderId is invalid. Please use valid SenderId."


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer with a JSON body, and the messages its request created."""

    status: int
    body: JSONObject
    headers: tuple[tuple[str, str], ...] = ()
    message_ids: tuple[str, ...] = ()


#: A POST endpoint's logic, run once the request is authenticated and admitted.
Handler = Callable[[EmulatorState, Account, JSONObject], Answer]


class ApiError(Exception):
    """A documented refusal; ``extra`` adds fields such as ``sender_id_used``."""

    def __init__(
        self,
        status: int,
        message: str,
        error: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        **extra: object,
    ) -> None:
        super().__init__(message)
        body = {"success": False, "message": message, "error": error, **extra}
        self.answer = Answer(status, body, headers)


def answer_post(state: EmulatorState, handler: Handler, payload: JSONObject) -> Answer:
    """Authenticate, rate-limit, then run a POST endpoint's handler on its parsed body."""
    try:
        account = state.account_for(payload.get("api_key"))
        if account is None:
            raise ApiError(401, "Unauthorized", "Invalid or missing API key")
        _admit(state, account)
        if not account.active:
            raise ApiError(403, "Forbidden", "This account is inactive")
        return handler(state, account, payload)
    except ApiError as exc:
        return exc.answer


def requested_numbers(endpoint: str, payload: JSONObject | None) -> tuple[str, ...]:
    """The valid numbers a send request names, normalised, in order, repeats kept."""
    if payload is None or endpoint not in ("send_sms", "send_bulk_sms"):
        return ()
    given: object = payload.get("recipients")
    if endpoint == "send_sms":
        given = [payload.get("recipient")]
    if not isinstance(given, list):
        return ()
    return tuple(n for n in map(normalise_number, given) if n is not None)


def _admit(state: EmulatorState, account: Account) -> None:
    wait = state.windows.admit(account.api_key)
    limit = state.windows.limit
    if wait is None or limit is None:  # Only a limit refuses.
        return
    raise ApiError(
        429,
        "Rate limit exceeded",
        f"At most {limit.max_rate} requests per {limit.time_period:g} seconds per API key",
        headers=(("retry-after", retry_after(wait)),),
    )


def send_sms(state: EmulatorState, account: Account, payload: JSONObject) -> Answer:
    """``POST /api/send_sms``: send one message and charge its units."""
    given = _string_field(payload, "recipient")
    text = _message(payload)
    recipient = normalise_number(given)
    if recipient is None:
        raise ApiError(400, "Invalid phone number format", f"Use {NUMBER_FORMATS}")
    units = units_for(text)
    _check_balance(account, units)
    sender = _sender_id(account, payload)
    if recipient in state.failing_numbers:
        raise ApiError(500, "Failed to send SMS", _gateway_failure(recipient))
    record = state.send(account, recipient, text, sender, units)
    return Answer(200, _sent_body(record, account), message_ids=(record.message_id,))


def _sent_body(record: MessageRecord, account: Account) -> JSONObject:
    details = {
        "To": record.recipient,
        "Message ID": record.message_id,
        "Units used": record.units,
        "Cost": f"KES {format_cost(record.units)}",
        "New balance": f"{account.balance} credits",
        "Length": f"{len(record.text)} characters",
    }
    return {
        "success": True,
        "message": "SMS sent successfully!",
        "message_id": record.message_id,
        "recipient": record.recipient,
        "sender_id": record.sender_id,
        "units_used": record.units,
        "message_length": len(record.text),
        "cost": money(record.units),
        "new_balance": account.balance,
        "simulation_mode": account.simulation,
        "details": details,
    }


@dataclass(slots=True)
class _BulkSent:
    """What one bulk send did, number by number."""

    created: list[str] = field(default_factory=list)
    message_ids: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def send_bulk_sms(state: EmulatorState, account: Account, payload: JSONObject) -> Answer:
    """``POST /api/send_bulk_sms``: send one text to many numbers, all paid for first."""
    given = _recipient_list(payload, state.max_bulk_recipients)
    text = _message(payload)
    invalid = [number for number in given if normalise_number(number) is None]
    numbers = requested_numbers("send_bulk_sms", payload)
    if not numbers:
        raise ApiError(400, "No valid recipients", f"Use {NUMBER_FORMATS}", invalid_numbers=invalid)
    units = units_for(text)
    _check_balance(account, units * len(numbers))  # All or nothing, before any is sent.
    sender = _sender_id(account, payload)
    sent = _BulkSent()
    for number in numbers:
        if number in state.failing_numbers:
            sent.failed[number] = _gateway_failure(number)
            continue
        sent.created.append(state.send(account, number, text, sender, units).message_id)
        # The real hazard: a number given twice is sent and charged twice, but message_ids,
        # keyed by number, keeps only the last id. The SDK deduplicates to avoid it.
        sent.message_ids[number] = sent.created[-1]
    body = _bulk_body(sent, account, sender, units, given=len(given), invalid=invalid)
    return Answer(200, body, message_ids=tuple(sent.created))


def _bulk_body(
    sent: _BulkSent, account: Account, sender: str, units: int, *, given: int, invalid: list[str]
) -> JSONObject:
    successful = len(sent.created)
    failed = given - len(invalid) - successful
    return {
        "success": True,
        "message": f"Bulk SMS sent: {successful} successful, {failed} failed",
        "statistics": {
            "total_attempted": given,
            "successful": successful,
            "failed": failed,
            "invalid_numbers": len(invalid),
        },
        "sender_id": sender,
        "units_used": units * successful,
        "total_cost": money(units * successful),
        "new_balance": account.balance,
        "message_ids": sent.message_ids,
        "invalid_numbers": invalid,
        "failed_recipients": sent.failed,
        "simulation_mode": account.simulation,
    }


def check_status(state: EmulatorState, account: Account, payload: JSONObject) -> Answer:
    """``POST /api/check_status``: one of the account's messages, as sent."""
    record = state.messages.get(_string_field(payload, "message_id"))
    if record is None or record.api_key != account.api_key:
        raise ApiError(404, "Message not found", "No message with this ID on this account")
    stamp = format_time(record.created_at)
    body = {
        "success": True,
        "message_id": record.message_id,
        "recipient": record.recipient,
        "sender_id": record.sender_id,
        "status": record.status,
        "units_used": record.units,
        "cost": format_cost(record.units),
        "created_at": stamp,
        "sent_at": stamp,
        "delivered_at": None,
        "error_message": None,
        "gateway_response": _gateway_response(record, stamp),
        "message_preview": record.text[:50],
    }
    return Answer(200, body)


def _gateway_response(record: MessageRecord, stamp: str) -> JSONObject:
    """The SMS gateway's own answer, in its camelCase."""
    return {
        "status": "success",
        "mobile": record.recipient,
        "invalidMobile": "",
        "transactionId": record.transaction_id,
        "statusCode": "200",
        "reason": "success",
        "msgId": "",
        "requestTime": stamp,
    }


def get_balance(state: EmulatorState, account: Account, payload: JSONObject) -> Answer:
    """``POST /api/get_balance``: the account's credits and details."""
    body = {
        "success": True,
        "user_id": account.user_id,
        "username": account.username,
        "email": account.email,
        "sms_balance": account.balance,
        "default_sender_id": account.default_sender_id,
        "sms_cost_per_unit": format_cost(1),
        "timestamp": format_time(datetime.now()),
    }
    return Answer(200, body)


def _string_field(payload: JSONObject, name: str) -> str:
    value = payload.get(name)
    if value is None:
        raise ApiError(400, "Missing required parameter", f"{name} is required")
    if not isinstance(value, str):
        raise ApiError(400, "Invalid parameter", f"{name} must be a string")
    return value


def _message(payload: JSONObject) -> str:
    text = _string_field(payload, "message")
    if not text.strip():
        raise ApiError(400, "Invalid parameter", "message cannot be empty")
    return text


def _recipient_list(payload: JSONObject, limit: int) -> list[str]:
    given = payload.get("recipients")
    if given is None:
        raise ApiError(400, "Missing required parameter", "recipients is required")
    if not isinstance(given, list) or not all(isinstance(n, str) for n in given):
        raise ApiError(400, "Invalid parameter", "recipients must be an array of strings")
    if not given:
        raise ApiError(400, "Invalid parameter", "recipients cannot be empty")
    if len(given) > limit:
        raise ApiError(400, "Too many recipients", f"At most {limit} recipients per request")
    return given


def _sender_id(account: Account, payload: JSONObject) -> str:
    given = payload.get("sender_id")
    if given is None:
        return account.default_sender_id
    if isinstance(given, str) and given in account.sender_ids:
        return given
    raise ApiError(400, "Failed to send SMS", _SENDER_REFUSED, sender_id_used=given)


def _check_balance(account: Account, units: int) -> None:
    if not account.simulation and units > account.balance:
        raise ApiError(
            400,
            "Insufficient balance",
            f"This request needs {units} credits; the balance is {account.balance}",
        )


def _gateway_failure(number: str) -> str:
    return f"API Error: The gateway could not deliver to {number}"
