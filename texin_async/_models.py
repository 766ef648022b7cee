"""Typed responses: msgspec Structs for every documented answer, and their decoders.

Field names are the documented keys in snake_case. Money is ``Decimal`` whether the API sends
a number (``"cost": 0.3``) or a string (``"cost": "0.30"``); timestamps are naive ``datetime``
in the server's local time, as sent. Unknown extra fields are ignored, so additions on the
provider's side do not break decoding.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

__all__ = [
    "ApiInfo",
    "Balance",
    "BulkSMSResult",
    "BulkStatistics",
    "ConnectionTest",
    "ErrorBody",
    "GatewayResponse",
    "MessageStatus",
    "SMSDetails",
    "SMSResult",
    "decoder_for",
]


class ApiInfo(msgspec.Struct, kw_only=True):
    """``GET /api/``: the API's name, version and endpoints."""

    success: bool = True
    name: str | None = None
    version: str | None = None
    message: str | None = None
    endpoints: dict[str, str] = msgspec.field(default_factory=dict)
    timestamp: datetime | None = None


class ConnectionTest(msgspec.Struct, kw_only=True):
    """``GET /api/test_connection``: proof the API is reachable."""

    success: bool
    message: str | None = None
    timestamp: datetime | None = None


class SMSDetails(msgspec.Struct, kw_only=True):
    """The human-readable ``details`` block of a send, with its spaced keys."""

    to: str | None = msgspec.field(default=None, name="To")
    message_id: str | None = msgspec.field(default=None, name="Message ID")
    units_used: int | None = msgspec.field(default=None, name="Units used")
    cost: str | None = msgspec.field(default=None, name="Cost")
    new_balance: str | None = msgspec.field(default=None, name="New balance")
    length: str | None = msgspec.field(default=None, name="Length")


class SMSResult(msgspec.Struct, kw_only=True):
    """``POST /api/send_sms``: one accepted message."""

    success: bool
    message_id: str
    recipient: str
    message: str | None = None
    sender_id: str | None = None
    units_used: int = 1
    message_length: int | None = None
    cost: Decimal | None = None
    new_balance: Decimal | None = None
    simulation_mode: bool = False
    details: SMSDetails | None = None


class BulkStatistics(msgspec.Struct, kw_only=True):
    """Counts of a bulk send."""

    total_attempted: int = 0
    successful: int = 0
    failed: int = 0
    invalid_numbers: int = 0


class BulkSMSResult(msgspec.Struct, kw_only=True):
    """``POST /api/send_bulk_sms``: per-number message ids, invalid and failed numbers.

    ``requested`` maps each recipient string the caller gave to the number it was sent as,
    so :meth:`message_id_for` answers in the caller's own terms.
    """

    success: bool
    message: str | None = None
    statistics: BulkStatistics = msgspec.field(default_factory=BulkStatistics)
    sender_id: str | None = None
    units_used: int = 0
    total_cost: Decimal | None = None
    new_balance: Decimal | None = None
    message_ids: dict[str, str] = msgspec.field(default_factory=dict)
    invalid_numbers: list[str] = msgspec.field(default_factory=list)
    failed_recipients: dict[str, Any] = msgspec.field(default_factory=dict)
    simulation_mode: bool = False
    requested: dict[str, str] = msgspec.field(default_factory=dict)

    def message_id_for(self, recipient: str) -> str | None:
        """The message id of ``recipient`` as the caller wrote it, or None if not sent."""
        return self.message_ids.get(self.requested.get(recipient, recipient))


class GatewayResponse(msgspec.Struct, kw_only=True, rename="camel"):
    """The SMS gateway's own answer, inside ``check_status``."""

    status: str | None = None
    mobile: str | None = None
    invalid_mobile: str | None = None
    transaction_id: str | None = None
    status_code: str | None = None
    reason: str | None = None
    msg_id: str | None = None
    request_time: datetime | None = None


class MessageStatus(msgspec.Struct, kw_only=True):
    """``POST /api/check_status``: where a sent message stands."""

    success: bool
    message_id: str
    status: str
    recipient: str | None = None
    sender_id: str | None = None
    units_used: int | None = None
    cost: Decimal | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    error_message: str | None = None
    gateway_response: GatewayResponse | None = None
    message_preview: str | None = None


class Balance(msgspec.Struct, kw_only=True):
    """``POST /api/get_balance``: credits left and account details."""

    success: bool
    sms_balance: Decimal
    user_id: int | None = None
    username: str | None = None
    email: str | None = None
    default_sender_id: str | None = None
    sms_cost_per_unit: Decimal | None = None
    timestamp: datetime | None = None


class ErrorBody(msgspec.Struct, kw_only=True):
    """Any answer's envelope: enough to tell success from refusal and say why."""

    success: bool | None = None
    message: str | None = None
    error: str | None = None


_T = TypeVar("_T")
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decoder_for(model: type[_T]) -> msgspec.json.Decoder[_T]:
    """One reusable decoder per model: building a Decoder costs more than decoding."""
    try:
        return _DECODERS[model]
    except KeyError:
        decoder = _DECODERS[model] = msgspec.json.Decoder(model)
        return decoder
