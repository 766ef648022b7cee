"""Everything the emulator remembers: live accounts, sent messages, and what it observed."""

from __future__ import annotations

import dataclasses
import itertools
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from texin_async._config import RateLimit

from ._records import Account, FaultEvent, MessageRecord
from ._rules import COST_PER_UNIT, normalise_number
from ._window import RateWindows

__all__ = ["EmulatorState", "RequestKey"]

#: (API key of a known account or None, endpoint name, HTTP status or 0 for no answer).
RequestKey = tuple[str | None, str, int]

# Process-wide, from the current time in microseconds: ids never repeat within a process, even
# across emulators and resets, and a restarted emulator does not reissue an old id.
_MESSAGE_NUMBERS = itertools.count(time.time_ns() // 1000)


class EmulatorState:
    """The emulator's memory, guarded by one lock so tests may read it from another thread."""

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        rate_limit: RateLimit | None,
        clock: Callable[[], float],
        failing_numbers: Iterable[str],
        max_bulk_recipients: int,
        seed: int,
        key_prefix: str | None = None,
    ) -> None:
        self.lock = threading.RLock()
        #: Any key that starts with this is an account of its own, made on first use.
        self.key_prefix = key_prefix
        self._initial_accounts = tuple(dataclasses.replace(account) for account in accounts)
        keys = [account.api_key for account in self._initial_accounts]
        if len(set(keys)) != len(keys):
            raise ValueError("accounts must have distinct api_keys")
        self._initial_limit = rate_limit
        self._seed = seed
        self.failing_numbers = frozenset(_checked_number(n) for n in failing_numbers)
        self.max_bulk_recipients = max_bulk_recipients
        self.windows = RateWindows(rate_limit, clock)
        self.reset()

    def reset(self) -> None:
        """Back to the initial accounts and rate limit, with no messages and no statistics."""
        with self.lock:
            self.accounts = {a.api_key: dataclasses.replace(a) for a in self._initial_accounts}
            self.windows.limit = self._initial_limit
            self.windows.clear()
            self.messages: dict[str, MessageRecord] = {}
            self.processed: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self.requests: Counter[RequestKey] = Counter()
            self.rate_limited: Counter[str] = Counter()
            self.clients: set[object] = set()
            self.fault_log: list[FaultEvent] = []
            self._transactions = random.Random(self._seed)

    def account_for(self, api_key: object) -> Account | None:
        """The account an ``api_key`` value from a request names, if any (made on first
        use when it starts with ``key_prefix``)."""
        if not isinstance(api_key, str):
            return None
        account = self.accounts.get(api_key)
        prefix = self.key_prefix
        if account is None and prefix and api_key.startswith(prefix) and len(api_key) > len(prefix):
            account = self.accounts[api_key] = Account(api_key=api_key)
        return account

    def send(
        self, account: Account, recipient: str, text: str, sender_id: str, units: int
    ) -> MessageRecord:
        """Record one message as sent and charge for it, unless in simulation mode."""
        record = MessageRecord(
            message_id=f"API-{next(_MESSAGE_NUMBERS)}",
            recipient=recipient,
            text=text,
            sender_id=sender_id,
            units=units,
            cost=COST_PER_UNIT * units,
            simulated=account.simulation,
            created_at=datetime.now().replace(microsecond=0),
            transaction_id=str(self._transactions.randrange(10**17, 10**18)),
            username=account.username,
            api_key=account.api_key,
        )
        self.messages[record.message_id] = record
        self.processed[account.api_key][recipient] += 1
        if not account.simulation:
            account.balance -= units
        return record

    def record_request(self, api_key: str | None, endpoint: str, status: int) -> None:
        """Count one answered request (status 0: the connection was dropped instead)."""
        self.requests[api_key, endpoint, status] += 1
        if status == 429 and api_key is not None:
            self.rate_limited[api_key] += 1


def _checked_number(number: str) -> str:
    normalised = normalise_number(number)
    if normalised is None:
        raise ValueError(f"failing number {number!r} is not 2547XXXXXXXX or 07XXXXXXXX")
    return normalised
