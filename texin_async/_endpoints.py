"""The API's endpoints, as one table: path, method, result type, and whether it sends SMS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ._models import (
    ApiInfo,
    Balance,
    BulkSMSResult,
    ConnectionTest,
    MessageStatus,
    Result,
    SMSResult,
)

__all__ = [
    "API_INFO",
    "CHECK_STATUS",
    "ENDPOINTS",
    "GET_BALANCE",
    "SEND_BULK_SMS",
    "SEND_SMS",
    "TEST_CONNECTION",
    "Endpoint",
]

_R = TypeVar("_R", bound=Result)


@dataclass(frozen=True)
class Endpoint(Generic[_R]):
    """One API endpoint: how to call it, what it answers, and whether it sends SMS.

    A send costs money and reaches a phone, so it is retried only when it was surely not
    processed (``maybe_sent`` False); a read may always be asked again.
    """

    name: str
    path: str
    method: str
    model: type[_R]
    is_send: bool = False


API_INFO = Endpoint("api_info", "", "GET", ApiInfo)
TEST_CONNECTION = Endpoint("test_connection", "test_connection", "GET", ConnectionTest)
GET_BALANCE = Endpoint("get_balance", "get_balance", "POST", Balance)
CHECK_STATUS = Endpoint("check_status", "check_status", "POST", MessageStatus)
SEND_SMS = Endpoint("send_sms", "send_sms", "POST", SMSResult, is_send=True)
SEND_BULK_SMS = Endpoint("send_bulk_sms", "send_bulk_sms", "POST", BulkSMSResult, is_send=True)

#: Every endpoint, by name.
ENDPOINTS: dict[str, Endpoint[Result]] = {
    endpoint.name: endpoint  # type: ignore[misc]
    for endpoint in (API_INFO, TEST_CONNECTION, GET_BALANCE, CHECK_STATUS, SEND_SMS, SEND_BULK_SMS)
}
