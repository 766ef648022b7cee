"""What hooks are told: one frozen, slotted record per event, and the Hook protocol.

A *call* is one public method call (``send_sms``, ``get_balance``...); it makes one or more
*attempts* (HTTP requests), each after taking a slot of the key's rate-limit budget. A
batch (``send_batch``/``iter_batch``) makes many calls. Events of one call come in this
order::

    CallStarted
      AttemptStarted → AttemptDetails      (the first attempt)
      [PauseDetails]                        (it got a 429: the whole key pauses)
      RetryDetails                          (another attempt follows)
      AttemptStarted → AttemptDetails
    CallDetails

An attempt that fails before its slot is granted (the limiter itself failed) has an
``AttemptDetails`` and no ``AttemptStarted``. No event holds a phone number, a message text
or the API key; ``key_id`` names the key (a hash prefix).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

from .._lane import Priority
from .._retry import RetryDetails

if TYPE_CHECKING:
    from .._batch import BatchReport

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
]


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A public call begins, before it asks the key's limiter for its first slot."""

    #: The endpoint's name: ``"send_sms"``, ``"send_bulk_sms"``, ``"get_balance"``...
    endpoint: str
    #: The call's traffic class on the key's budget.
    priority: Priority
    #: The API key's id (a hash prefix), never the key.
    key_id: str
    #: How many numbers the call sends to: 1 for ``send_sms``, 0 for a read.
    recipients: int
    #: The API root the call goes to, e.g. ``"https://texin.hotspotbillingsystem.co.ke/api/"``.
    base_url: str


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    """An attempt got its slot of the key's budget and is about to leave."""

    endpoint: str
    priority: Priority
    key_id: str
    #: The attempt's number within its call, from 1.
    attempt: int
    #: Seconds from asking the limiter for a slot to getting it.
    wait: float


@dataclass(frozen=True, slots=True)
class AttemptDetails:
    """An attempt ended: its answer was read, or it failed."""

    endpoint: str
    priority: Priority
    key_id: str
    #: The attempt's number within its call, from 1.
    attempt: int
    #: Seconds from asking the limiter for a slot to getting it (0 if none was granted).
    wait: float
    #: Seconds from getting the slot to the answer (or the failure).
    elapsed: float
    #: The HTTP status of the answer; None when no answer came (or the request never left).
    status: int | None
    #: SMS units the API says this attempt used (the SDK's estimate if a confirmed send did
    #: not say); 0 for reads and for failures.
    units: int
    #: How many numbers the request was for (0 for reads).
    recipients: int
    #: True when the API may have processed a failed attempt: for a send, the SMS may have
    #: gone out (the error's ``maybe_sent``). False on success and on surely-not-sent errors.
    maybe_sent: bool
    #: The class name of the error (``"ServerError"``), None on success.
    error_type: str | None
    #: The error itself, None on success. Its message may quote the server, so do not
    #: record it where phone numbers must not go.
    error: BaseException | None

    @property
    def ok(self) -> bool:
        """Whether the attempt succeeded."""
        return self.error_type is None


@dataclass(frozen=True, slots=True)
class CallDetails:
    """A public call ended: its result, or the error it raised."""

    endpoint: str
    priority: Priority
    key_id: str
    #: How many attempts it made (retries included).
    attempts: int
    #: Seconds its attempts waited for the key's budget, added up.
    wait: float
    #: Seconds from the call's start to its end: waits, attempts and retries' backoff.
    elapsed: float
    #: The HTTP status of the last answer; None if no answer came.
    status: int | None
    #: SMS units the API says the call used (the SDK's estimate if a confirmed send did not
    #: say); 0 for reads and for failures, even maybe-sent ones.
    units: int
    #: How many numbers the call sends to (0 for reads).
    recipients: int
    #: True when the call failed and the API may have processed it (the raised error's
    #: ``maybe_sent``): the SMS may have gone out. False on success.
    maybe_sent: bool
    #: The class name of the raised error (``"CancelledError"`` if the call was cancelled),
    #: None on success.
    error_type: str | None
    #: The raised error, None on success.
    error: BaseException | None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error_type is None


@dataclass(frozen=True, slots=True)
class PauseDetails:
    """A 429 paused the whole key: every request of it waits ``wait`` seconds."""

    endpoint: str
    priority: Priority
    key_id: str
    #: Seconds the key pauses: the server's ``Retry-After``, capped by
    #: ``RetryPolicy.max_retry_after``.
    wait: float
    #: Seconds the server asked for.
    retry_after: float


@dataclass(frozen=True, slots=True)
class BatchStarted:
    """A batch (``send_batch`` or ``iter_batch``) begins."""

    key_id: str
    #: The batch's traffic class (BULK unless given).
    priority: Priority
    #: Items in the input when it is sized (a list), else None.
    total: int | None
    dry_run: bool


@dataclass(frozen=True, slots=True)
class BatchDetails:
    """A batch ended: its counts, whether it finished or stopped on an error."""

    key_id: str
    priority: Priority
    #: Outcomes per status, requests, units, cost and elapsed time, as the batch returns it
    #: (so far, if it stopped early).
    report: BatchReport
    #: The class name of the error that stopped it (``"CancelledError"`` if cancelled),
    #: None when it ran to its end.
    error_type: str | None
    error: BaseException | None

    @property
    def ok(self) -> bool:
        """Whether the batch ran to its end."""
        return self.error_type is None


#: Every event a hook may be told of.
Event: TypeAlias = (
    CallStarted
    | AttemptStarted
    | AttemptDetails
    | CallDetails
    | RetryDetails
    | PauseDetails
    | BatchStarted
    | BatchDetails
)


class Hook(Protocol):
    """A callable told of every event (ignore those you do not need).

    It runs synchronously on the event loop, so keep it quick; an exception it raises is
    logged (at most once a minute per hook) and never breaks a call. For the ``*Started``
    events it may return a context manager: it is entered at once and exited when that
    call, attempt or batch ends, after its ``*Details`` event, which is how a tracing hook
    makes its span current for the work inside (an HTTP library's own spans nest in it).
    What it returns for other events is ignored.
    """

    def __call__(self, event: Event, /) -> AbstractContextManager[object] | None: ...
