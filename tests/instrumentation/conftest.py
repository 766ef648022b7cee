"""Fixtures of the instrumentation tests: a recording hook, canaries, a clean registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from texin_async import RetryPolicy, TexinClient
from texin_async.instrumentation import Event, set_hooks
from texin_async.instrumentation._hooks import _complained
from texin_async.testing import Account, TexinEmulator

#: What must never reach an event, a span, a metric or a log record.
CANARY_KEY = "canary-KEY-3f9d2c71b8"
CANARY_PHONE = "0799 314 159"
CANARY_NUMBERS = ("0799314159", "254799314159", "799314159", "0799 314 159")
CANARY_TEXT = "canary-TEXT-e1a4: your code is 271828"
#: Retries without waiting, and a 429's pause cut to a hundredth of a second.
QUICK = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, max_retry_after=0.01)


def leaks(text: str) -> list[str]:
    """The canaries found in ``text``."""
    return [c for c in (CANARY_KEY, CANARY_TEXT, *CANARY_NUMBERS) if c in text]


class Recorder:
    """A hook that keeps every event, and logs when the scopes it returns open and close."""

    def __init__(self, *, scoped: bool = False) -> None:
        self.events: list[Event] = []
        self.log: list[str] = []
        self.scoped = scoped

    def __call__(self, event: Event) -> AbstractContextManager[None] | None:
        self.events.append(event)
        name = type(event).__name__
        self.log.append(name)
        return self._scope(name) if self.scoped and name.endswith("Started") else None

    @contextmanager
    def _scope(self, name: str) -> Iterator[None]:
        self.log.append(f"enter {name}")
        try:
            yield
        except BaseException as exc:
            self.log.append(f"exit {name} {type(exc).__name__}")
            raise
        self.log.append(f"exit {name}")

    def of(self, kind: type[Any]) -> list[Any]:
        """The events of one kind, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


@pytest.fixture(autouse=True)
def _no_process_hooks() -> Iterator[None]:
    """Each test starts and ends with no process-wide hook and no complaint remembered."""
    set_hooks(None)
    _complained.clear()
    yield
    set_hooks(None)
    _complained.clear()


@pytest.fixture
def canary_key(texin_emulator: TexinEmulator) -> str:
    """An account on the emulator whose key is a canary."""
    texin_emulator.add_account(Account(api_key=CANARY_KEY))
    return CANARY_KEY


@pytest.fixture
async def emulated(texin_emulator_url: str, canary_key: str) -> AsyncIterator[Any]:
    """A factory of clients on the emulator (canary key, quick retries), closed after."""
    made: list[TexinClient] = []

    def make(**kw: Any) -> TexinClient:
        kw.setdefault("retry", QUICK)
        client = TexinClient(canary_key, base_url=texin_emulator_url, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
