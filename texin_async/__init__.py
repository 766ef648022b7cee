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
    ClientStateError,
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
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ApiInfo",
    "AuthenticationError",
    "BadRequestError",
    "Balance",
    "BatchProgress",
    "BatchReport",
    "BulkSMSResult",
    "BulkStatistics",
    "COST_PER_UNIT",
    "ClientState",
    "ClientStateError",
    "ConnectionTest",
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
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
    "NotFoundError",
    "Outcome",
    "OutcomeStatus",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "Priority",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "RedisRateLimiter",
    "ResponseDecodeError",
    "RetryDetails",
    "RetryPolicy",
    "SMSDetails",
    "SMSResult",
    "ServerError",
    "SyncTexinClient",
    "TexinClient",
    "TexinError",
    "__version__",
    "count_units",
    "encoding_of",
    "estimate_cost",
    "normalize_recipient",
]

# Present public names as texin_async.X, not texin_async._module.X (reprs, docs, pickles).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type | _FunctionType) and _obj.__module__.startswith("texin_async._"):
        _obj.__module__ = "texin_async"
del _name, _obj
