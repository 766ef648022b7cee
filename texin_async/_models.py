"""Typed responses: msgspec Structs for every documented answer, and their decoders.

Field names are the documented keys in snake_case. Money is ``Decimal`` whether the API sends
a number (``"cost": 0.3``) or a string (``"cost": "0.30"``), finite and bounded or None;
timestamps are naive ``datetime`` in the server's local time, as sent. Unknown extra fields
are ignored, so additions on the provider's side do not break decoding, and every result
keeps the whole decoded answer in :attr:`Result.raw` for what the SDK does not model.

The documented shape decodes in one step on msgspec's fast path; an answer that does not fit
it is read field by field by :mod:`texin_async._lenient`. Only ``success`` is required of
either: every other field is optional, and one that does not fit is None.
"""

# No ``from __future__ import annotations``: msgspec reads these annotations at runtime, in
# the namespace of ``__module__``, which the package rewrites to "texin_async".
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from ._lenient import money

__all__ = [
    "ApiInfo",
    "Balance",
    "BulkSMSResult",
    "BulkStatistics",
    "ConnectionTest",
    "GatewayResponse",
    "MessageStatus",
    "Result",
    "SMSDetails",
    "SMSResult",
    "decoder_for",
    "usable_id",
]

# What a server puts where an id should be when it has none: never an id to report or look up.
_NOT_IDS = frozenset({"", "null", "none", "nil", "undefined", "false", "nan"})


def usable_id(value: str | None) -> str | None:
    """``value`` if it can be a message id, else None (blank, ``"null"`` and the like)."""
    if value is None or value.strip().lower() in _NOT_IDS:
        return None
    return value


class Result(msgspec.Struct, kw_only=True, dict=True):
    """Base of every result: the API's ``success`` flag and the whole decoded answer."""

    success: bool

    @property
    def raw(self) -> dict[str, Any]:
        """The answer's JSON object as decoded, including what the SDK does not model."""
        cached = self.__dict__.get("_raw")
        if cached is None:
            decoded = msgspec.json.decode(self.__dict__.get("_content", b"{}"))
            cached = self.__dict__["_raw"] = decoded if isinstance(decoded, dict) else {}
        return cached


class ApiInfo(Result, kw_only=True):
    """``GET /api/``: the API's name, version and endpoints (an undocumented shape: loose)."""

    name: str | None = None
    version: str | None = None
    message: str | None = None
    #: As the server gives it: a map of name to route, or a list of route objects.
    endpoints: Any = None
    timestamp: datetime | None = None


class ConnectionTest(Result, kw_only=True):
    """``GET /api/test_connection``: proof the API is reachable."""

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


class SMSResult(Result, kw_only=True):
    """``POST /api/send_sms``: one accepted message.

    ``message_id`` is None when the API confirmed the send but gave no usable id: the SMS
    went out, there is just nothing to look up with :meth:`TexinClient.check_status`.
    """

    message_id: str | None = None
    recipient: str | None = None
    message: str | None = None
    sender_id: str | None = None
    units_used: int | None = None
    message_length: int | None = None
    cost: Decimal | None = None
    new_balance: Decimal | None = None
    simulation_mode: bool = False
    details: SMSDetails | None = None

    def __post_init__(self) -> None:
        self.message_id = usable_id(self.message_id)
        self.cost, self.new_balance = money(self.cost), money(self.new_balance)


class BulkStatistics(msgspec.Struct, kw_only=True):
    """Counts of a bulk send, as the server reports them."""

    total_attempted: int | None = None
    successful: int | None = None
    failed: int | None = None
    invalid_numbers: int | None = None


class BulkSMSResult(Result, kw_only=True):
    """``POST /api/send_bulk_sms``: per-number message ids, invalid and failed numbers.

    :meth:`message_id_for` answers in the caller's own terms: it maps each recipient string
    the caller gave to the number it was sent as.
    """

    message: str | None = None
    statistics: BulkStatistics | None = None
    sender_id: str | None = None
    units_used: int | None = None
    total_cost: Decimal | None = None
    new_balance: Decimal | None = None
    message_ids: dict[str, str] = msgspec.field(default_factory=dict)
    invalid_numbers: list[str] = msgspec.field(default_factory=list)
    failed_recipients: dict[str, Any] = msgspec.field(default_factory=dict)
    simulation_mode: bool = False

    def __post_init__(self) -> None:
        self.total_cost, self.new_balance = money(self.total_cost), money(self.new_balance)

    @property
    def requested(self) -> dict[str, str]:
        """Each recipient string the caller gave → the number it was sent as."""
        return self.__dict__.get("_requested", {})  # type: ignore[no-any-return]

    def message_id_for(self, recipient: str) -> str | None:
        """The message id of ``recipient`` as the caller wrote it, or None if it has none."""
        return usable_id(self.message_ids.get(self.requested.get(recipient, recipient)))


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


class MessageStatus(Result, kw_only=True):
    """``POST /api/check_status``: where a sent message stands."""

    message_id: str | None = None
    status: str | None = None
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

    def __post_init__(self) -> None:
        self.cost = money(self.cost)


class Balance(Result, kw_only=True):
    """``POST /api/get_balance``: credits left and account details.

    ``sms_balance`` is None when the answer held no usable amount.
    """

    sms_balance: Decimal | None = None
    user_id: int | None = None
    username: str | None = None
    email: str | None = None
    default_sender_id: str | None = None
    sms_cost_per_unit: Decimal | None = None
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        self.sms_balance, self.sms_cost_per_unit = (
            money(self.sms_balance),
            money(self.sms_cost_per_unit),
        )


_T = TypeVar("_T")
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decoder_for(model: type[_T]) -> msgspec.json.Decoder[_T]:
    """One reusable decoder per model: building a Decoder costs more than decoding."""
    try:
        return _DECODERS[model]
    except KeyError:
        decoder = _DECODERS[model] = msgspec.json.Decoder(model)
        return decoder
