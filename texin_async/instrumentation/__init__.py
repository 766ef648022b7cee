"""See what the SDK is doing: hooks told of every call, attempt, retry, 429 pause and batch.

A hook is any callable taking one event; register it for one client
(``TexinClient(..., hooks=[hook])``) or for the whole process (:func:`set_hooks`,
:func:`add_hook`). Events are frozen records with documented fields: the endpoint, the
traffic class, the attempt, the seconds waited for the key's budget, the HTTP status,
elapsed time, units, recipient count, ``maybe_sent``, the error's type and the key's
``key_id``; never a phone number, a message text or the API key.

Example::

    from texin_async.instrumentation import CallDetails, Event, set_hooks

    def count_unknown(event: Event) -> None:
        if isinstance(event, CallDetails) and event.maybe_sent:
            statsd.increment("sms.unknown", tags=[f"endpoint:{event.endpoint}"])

    set_hooks([count_unknown])

OpenTelemetry spans and metrics are one such hook:
:class:`texin_async.instrumentation.otel.OpenTelemetryHooks` (the ``otel`` extra). Nothing
from OpenTelemetry is imported until that module is.
"""

from __future__ import annotations

from types import FunctionType as _FunctionType

from ._events import (
    AttemptDetails,
    AttemptStarted,
    BatchDetails,
    BatchStarted,
    CallDetails,
    CallStarted,
    Event,
    Hook,
    PauseDetails,
    RetryDetails,
)
from ._hooks import add_hook, get_hooks, set_hooks

__all__ = [
    "AttemptDetails",
    "AttemptStarted",
    "BatchDetails",
    "BatchStarted",
    "CallDetails",
    "CallStarted",
    "Event",
    "Hook",
    "PauseDetails",
    "RetryDetails",
    "add_hook",
    "get_hooks",
    "set_hooks",
]

# Present public names as texin_async.instrumentation.X (reprs, docs). RetryDetails keeps
# texin_async.RetryDetails, where it was first exported.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type | _FunctionType) and _obj.__module__.startswith(__name__ + "._"):
        _obj.__module__ = __name__
del _name, _obj
