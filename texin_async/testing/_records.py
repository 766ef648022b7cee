"""The emulator's data: accounts it serves, messages it sent and faults it injected."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._faults import Fault

__all__ = ["DEFAULT_API_KEY", "Account", "FaultEvent", "MessageRecord"]

#: The API key of the account an emulator serves when given none.
DEFAULT_API_KEY = "texin-test-key"


@dataclass(kw_only=True)
class Account:
    """One customer account of the emulated service; the emulator mutates ``balance``.

    ``balance`` is in credits, one per SMS unit. In ``simulation`` mode sends are recorded
    and get message ids but cost nothing, as the provider's simulation setting does.
    """

    api_key: str = field(repr=False)
    balance: int = 10_000
    active: bool = True
    simulation: bool = False
    sender_ids: frozenset[str] = frozenset({"Texin"})
    default_sender_id: str = "Texin"
    user_id: int = 1
    username: str = "testuser"
    email: str = "test@example.com"

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key:
            raise ValueError("api_key must be a non-empty string")
        self.sender_ids = frozenset(self.sender_ids)
        if self.default_sender_id not in self.sender_ids:
            raise ValueError(
                f"default_sender_id {self.default_sender_id!r} must be one of sender_ids"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    """One message the emulator sent (or simulated), as ``check_status`` reports it."""

    message_id: str
    recipient: str
    text: str
    sender_id: str
    units: int
    cost: Decimal
    simulated: bool
    created_at: datetime
    transaction_id: str
    username: str
    #: The key of the account that sent it; kept out of the repr like every key.
    api_key: str = field(repr=False)

    @property
    def status(self) -> str:
        """``"sent"``, or ``"simulated"`` for a simulation-mode account."""
        return "simulated" if self.simulated else "sent"


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """One injected fault: what the client saw is the fault, what happened is the rest.

    ``processed`` is True when the request took effect before the fault (a charge, a
    message), so tests can prove that nothing was lost and nothing was sent twice.
    ``recipients`` are the valid numbers the request named, normalised; ``message_ids``
    those of the messages it created.
    """

    fault: Fault
    endpoint: str
    processed: bool
    recipients: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
