"""texin_async: an async-first SDK for the Texin SMS API (RAYPROTECH v2.0.1)."""

from __future__ import annotations

from types import FunctionType as _FunctionType

from . import instrumentation as instrumentation  # public subpackage: set_hooks, events
from ._batch import BatchProgress, BatchReport, Message, Outcome, OutcomeStatus
from ._client import ClientState, TexinClient
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    RateLimit,
    RetryPolicy,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Fate,
    InsufficientBalanceError,
    InvalidRequestError,
    JournalError,
    JournalMismatchError,
    LimiterUnavailableError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TexinError,
)
from ._models import (
    ApiInfo,
    Balance,
    BulkSMSResult,
    BulkStatistics,
    ConnectionTest,
    GatewayResponse,
    MessageStatus,
    SMSDetails,
    SMSResult,
)
from ._phone import normalize_recipient
from ._ratelimit import LimiterPlan, LocalRateLimiter, Priority, RateLimiter
from ._redis import RedisRateLimiter  # imports redis-py on use
from ._retry import RetryDetails
from ._sync import SyncTexinClient
from ._units import COST_PER_UNIT, count_units, encoding_of, estimate_cost
from ._version import __version__

__all__ = [
    "COST_PER_UNIT",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "ApiInfo",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Balance",
    "BatchProgress",
    "BatchReport",
    "BulkSMSResult",
    "BulkStatistics",
    "ClientState",
    "ConnectionTest",
    "count_units",
    "encoding_of",
    "estimate_cost",
    "Fate",
    "GatewayResponse",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "JournalError",
    "JournalMismatchError",
    "LimiterPlan",
    "LimiterUnavailableError",
    "LocalRateLimiter",
    "Message",
    "MessageStatus",
    "normalize_recipient",
    "NotFoundError",
    "Outcome",
    "OutcomeStatus",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "Priority",
    "RateLimit",
    "RateLimiter",
    "RateLimitError",
    "RedisRateLimiter",
    "ResponseDecodeError",
    "RetryDetails",
    "RetryPolicy",
    "ServerError",
    "SMSDetails",
    "SMSResult",
    "SyncTexinClient",
    "TexinClient",
    "TexinError",
    "__version__",
]

# Present public names as texin_async.X, not texin_async._module.X (reprs, docs, pickles).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type | _FunctionType) and _obj.__module__.startswith("texin_async._"):
        _obj.__module__ = "texin_async"
del _name, _obj
