"""The rate limit: a strict sliding window per API key, on an injected clock."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from texin_async.testing import DEFAULT_API_KEY, Account, Fault, TexinEmulator, serve_in_thread

from ._support import Api, error_of


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def limited_server() -> Iterator[tuple[TexinEmulator, FakeClock, str]]:
    """An emulator allowing 3 requests per 10 s per key, on a fake clock."""
    clock = FakeClock()
    accounts = [Account(api_key=DEFAULT_API_KEY), Account(api_key="other-key")]
    emulator = TexinEmulator(accounts, rate_limit="3/10", clock=clock)
    with serve_in_thread(emulator) as url:
        yield emulator, clock, url


@pytest.fixture
def limited(
    limited_server: tuple[TexinEmulator, FakeClock, str],
) -> Iterator[tuple[TexinEmulator, FakeClock, Api]]:
    """The limited emulator, reset, its clock, and an Api on it."""
    emulator, clock, url = limited_server
    emulator.reset()
    with httpx.Client(base_url=url) as client:
        yield emulator, clock, Api(client, DEFAULT_API_KEY)


def burst(api: Api, clock: FakeClock, times: int, step: float = 1.0) -> list[int]:
    """Send ``times`` get_balance requests ``step`` fake seconds apart; their statuses."""
    statuses = []
    for _ in range(times):
        statuses.append(api.post("get_balance").status_code)
        clock.now += step
    return statuses


def test_the_request_over_the_limit_gets_429(
    limited: tuple[TexinEmulator, FakeClock, Api],
) -> None:
    """The 4th request within 10 s gets the documented 429 envelope."""
    _, clock, api = limited
    assert burst(api, clock, 3) == [200, 200, 200]
    response = api.post("get_balance")
    assert response.status_code == 429
    assert error_of(response)["message"] == "Rate limit exceeded"


def test_retry_after_says_when_the_oldest_slot_frees(
    limited: tuple[TexinEmulator, FakeClock, Api],
) -> None:
    """Retry-After is the whole seconds until the oldest admitted request leaves."""
    _, clock, api = limited
    burst(api, clock, 3)  # at 0, 1, 2; now 3
    clock.now += 4.5  # 7.5 s after the first: 2.5 s to go
    assert api.post("get_balance").headers["retry-after"] == "3"


def test_a_refused_send_is_not_processed(limited: tuple[TexinEmulator, FakeClock, Api]) -> None:
    """A send refused with 429 sends and charges nothing."""
    emulator, clock, api = limited
    burst(api, clock, 3, step=0)
    assert api.send().status_code == 429
    assert emulator.processed(DEFAULT_API_KEY) == {}
    assert emulator.account(DEFAULT_API_KEY).balance == 10_000


def test_the_window_slides(limited: tuple[TexinEmulator, FakeClock, Api]) -> None:
    """Once the oldest request is a full period old, one more is admitted."""
    _, clock, api = limited
    burst(api, clock, 3)  # at 0, 1, 2
    clock.now += 7.0  # exactly 10 s after the first
    assert burst(api, clock, 2, step=0) == [200, 429]


def test_refused_requests_do_not_enter_the_window(
    limited: tuple[TexinEmulator, FakeClock, Api],
) -> None:
    """Retrying too early does not push the client's next slot further away."""
    _, clock, api = limited
    burst(api, clock, 3, step=0)
    assert burst(api, clock, 5, step=1.0) == [429] * 5
    clock.now += 5.0  # 10 s after the three admitted ones
    assert burst(api, clock, 3, step=0) == [200, 200, 200]


def test_max_in_window_and_rate_limited_count_what_happened(
    limited: tuple[TexinEmulator, FakeClock, Api],
) -> None:
    """max_in_window is the most admitted in one window; rate_limited counts the 429s."""
    emulator, clock, api = limited
    burst(api, clock, 6, step=4.0)  # at 0, 4, 8, 12, 16, 20: at most 3 in any 10 s
    burst(api, clock, 4, step=0)
    assert emulator.max_in_window(DEFAULT_API_KEY) == 3
    assert emulator.rate_limited(DEFAULT_API_KEY) == emulator.requests()["get_balance", 429]
    assert emulator.rate_limited(DEFAULT_API_KEY) >= 1


def test_each_key_has_its_own_window(limited: tuple[TexinEmulator, FakeClock, Api]) -> None:
    """One key's exhausted window does not limit another key."""
    _, clock, api = limited
    burst(api, clock, 4, step=0)
    other = Api(api.client, "other-key")
    assert burst(other, clock, 3, step=0) == [200, 200, 200]


def test_unknown_keys_get_401_and_use_no_window(
    limited: tuple[TexinEmulator, FakeClock, Api],
) -> None:
    """Requests with an unknown key are refused with 401, never 429, and count nowhere."""
    emulator, clock, api = limited
    stranger = Api(api.client, "unknown-key")
    assert set(burst(stranger, clock, 5, step=0)) == {401}
    assert burst(api, clock, 3, step=0) == [200, 200, 200]
    assert emulator.max_in_window(DEFAULT_API_KEY) == 3


def test_get_endpoints_are_not_limited(limited: tuple[TexinEmulator, FakeClock, Api]) -> None:
    """GET /api/ and test_connection carry no key and are never refused."""
    _, clock, api = limited
    burst(api, clock, 3, step=0)
    assert {api.client.get("test_connection").status_code for _ in range(5)} == {200}


def test_a_forced_429_does_not_enter_the_window(
    limited: tuple[TexinEmulator, FakeClock, Api],
) -> None:
    """An injected RATE_LIMIT fault is answered before the window and leaves it alone."""
    emulator, clock, api = limited
    emulator.faults.schedule(Fault.RATE_LIMIT, times=2)
    assert burst(api, clock, 5, step=0) == [429, 429, 200, 200, 200]
    assert emulator.rate_limited(DEFAULT_API_KEY) == 2


def test_set_rate_limit_changes_the_limit_at_run_time(
    limited: tuple[TexinEmulator, FakeClock, Api],
) -> None:
    """set_rate_limit("5/10") admits 5; set_rate_limit(None) lifts the limit."""
    emulator, clock, api = limited
    emulator.set_rate_limit("5/10")
    assert burst(api, clock, 6, step=0) == [200] * 5 + [429]
    emulator.set_rate_limit(None)
    assert set(burst(api, clock, 20, step=0)) == {200}


def test_the_default_limit_is_100_per_minute(api: Api) -> None:
    """By default the documented 100 requests per 60 s apply: the 101st is refused."""
    statuses = [api.post("get_balance").status_code for _ in range(101)]
    assert statuses == [200] * 100 + [429]
