"""TexinClient over real sockets against the emulator: endpoints, faults, rate limit, TLS."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mock_api import HookLimiter
from support import FAST, FOUR_A_SECOND, free_port

from texin_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    LocalRateLimiter,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    Priority,
    RateLimit,
    RetryDetails,
    RetryPolicy,
    ServerError,
    TexinClient,
    TexinError,
)
from texin_async._transport import TransportChoice
from texin_async.testing import Account, Fault, TexinEmulator, serve

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("asyncio", "trio")]

NUMBER = "254712345678"


@pytest.fixture
def client_options(backend: TransportChoice, dialect: str) -> dict[str, Any]:
    """The ``client`` fixture runs each test on both backends, against both dialects."""
    return {"transport": backend}


# -- endpoints -------------------------------------------------------------------------------


async def test_api_info_and_test_connection(client: TexinClient) -> None:
    """The two GET endpoints answer, api_info's endpoints as a map or a list as given."""
    info = await client.api_info()
    assert info.version == "2.0.1"
    routes = info.endpoints
    paths = routes.values() if isinstance(routes, dict) else [r["path"] for r in routes]
    assert any(path.endswith("/api/send_sms") for path in paths)
    assert (await client.test_connection()).success


async def test_send_sms_returns_typed_result(client: TexinClient) -> None:
    """A send gives its message id, units, cost as Decimal and the spaced details block."""
    result = await client.send_sms("0712345678", "Hello from RAYPROTECH System API!")
    assert result.recipient == NUMBER
    assert result.units_used == 1
    assert result.cost == Decimal("0.3")
    assert result.details is not None
    assert result.details.message_id == result.message_id


async def test_send_charges_the_balance(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """new_balance and get_balance agree with the units charged."""
    before = (await client.get_balance()).sms_balance
    assert before is not None
    result = await client.send_sms(NUMBER, "x" * 161)  # two units
    assert result.new_balance == before - 2
    assert (await client.get_balance()).sms_balance == before - 2
    assert texin_emulator.processed(texin_api_key)[NUMBER] == 1


async def test_check_status_decodes_string_cost_and_timestamps(client: TexinClient) -> None:
    """check_status's cost string becomes Decimal, its timestamps datetime."""
    sent = await client.send_sms(NUMBER, "status please")
    assert sent.message_id is not None
    status = await client.check_status(sent.message_id)
    assert status.message_id == sent.message_id
    assert status.cost == Decimal("0.30")
    assert isinstance(status.created_at, datetime)
    assert status.gateway_response is not None
    assert status.gateway_response.transaction_id


async def test_bulk_maps_ids_back_to_callers_strings(client: TexinClient) -> None:
    """Each caller string finds its message id, whatever spelling it used."""
    given = ["0712345678", "254725095094", "+254 700 000 001"]
    result = await client.send_bulk_sms(given, "Special offer just for you!")
    assert result.statistics is not None
    assert result.statistics.successful == 3
    assert all(result.message_id_for(r) for r in given)
    assert len(set(result.message_ids.values())) == 3


async def test_bulk_duplicate_spellings_are_sent_once(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """Two spellings of one number in a bulk reach the API once: no id lost, no double SMS."""
    await client.send_bulk_sms(["0712345678", NUMBER], "once")
    assert texin_emulator.processed(texin_api_key)[NUMBER] == 1


async def test_server_side_invalid_and_failed_numbers_are_reported(
    client: TexinClient, texin_emulator: TexinEmulator
) -> None:
    """A 2541 number (the SDK accepts, the API does not) lands in invalid_numbers."""
    result = await client.send_bulk_sms([NUMBER, "0112345678"], "hi")
    assert result.invalid_numbers == ["254112345678"]
    assert result.message_id_for("0112345678") is None


# -- refusals --------------------------------------------------------------------------------


async def test_invalid_sender_id_is_refused_once(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """An unregistered sender id is a final APIError naming the reason."""
    with pytest.raises(APIError, match="SenderId is invalid"):
        await client.send_sms(NUMBER, "hi", sender_id="NOPE")
    assert sum(texin_emulator.requests(texin_api_key).values()) == 1


async def test_unknown_key_is_an_authentication_error(
    texin_emulator_url: str, backend: TransportChoice
) -> None:
    """A key the API does not know raises AuthenticationError."""
    async with TexinClient("wrong-key", base_url=texin_emulator_url, transport=backend) as client:
        with pytest.raises(AuthenticationError):
            await client.get_balance()


async def test_inactive_account_is_permission_denied(
    texin_emulator: TexinEmulator, texin_emulator_url: str, backend: TransportChoice
) -> None:
    """An inactive account raises PermissionDeniedError."""
    texin_emulator.add_account(Account(api_key="sleepy", active=False))
    async with TexinClient("sleepy", base_url=texin_emulator_url, transport=backend) as client:
        with pytest.raises(PermissionDeniedError):
            await client.send_sms(NUMBER, "hi")


async def test_unknown_message_id_is_not_found(client: TexinClient) -> None:
    """check_status of an id the API never issued raises NotFoundError."""
    with pytest.raises(NotFoundError):
        await client.check_status("API-0")


async def test_insufficient_balance_is_final_and_charges_nothing(
    texin_emulator: TexinEmulator, texin_emulator_url: str, backend: TransportChoice
) -> None:
    """Low balance is a BadRequestError, not retried, and nothing is sent."""
    texin_emulator.add_account(Account(api_key="poor", balance=1))
    url = texin_emulator_url
    async with TexinClient("poor", base_url=url, retry=FAST, transport=backend) as client:
        with pytest.raises(BadRequestError):
            await client.send_bulk_sms([NUMBER, "0700000001"], "hi")
    assert texin_emulator.processed("poor") == {}
    assert texin_emulator.account("poor").balance == 1
    assert sum(texin_emulator.requests("poor").values()) == 1


# -- faults: proved by what the emulator processed -------------------------------------------


@pytest.mark.parametrize(
    ("fault", "raised", "processed"),
    [
        (Fault.DROP_BEFORE, OutcomeUnknownError, 0),
        (Fault.DROP_AFTER, OutcomeUnknownError, 1),
        (Fault.HTML_502, ServerError, 0),
        (Fault.TRUNCATED_JSON, OutcomeUnknownError, 1),
        (Fault.SERVER_ERROR, ServerError, 0),
    ],
)
async def test_send_without_a_verdict_is_maybe_sent_and_never_resent(
    client: TexinClient,
    texin_emulator: TexinEmulator,
    texin_api_key: str,
    fault: Fault,
    raised: type[TexinError],
    processed: int,
) -> None:
    """No verdict from the API: maybe_sent, one request, never a second SMS."""
    texin_emulator.faults.schedule(fault, endpoint="send_sms")
    with pytest.raises(raised) as caught:
        await client.send_sms(NUMBER, "hi")
    assert caught.value.maybe_sent
    assert texin_emulator.processed(texin_api_key)[NUMBER] == processed
    assert sum(texin_emulator.requests(texin_api_key).values()) <= 1


async def test_slow_send_times_out_as_unknown(
    texin_emulator: TexinEmulator,
    texin_emulator_url: str,
    texin_api_key: str,
    backend: TransportChoice,
) -> None:
    """A send answered too late is an APITimeoutError, processed once, not resent."""
    texin_emulator.faults.schedule(Fault.SLOW_AFTER, endpoint="send_sms")
    async with TexinClient(
        texin_api_key, base_url=texin_emulator_url, timeout=0.3, transport=backend
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.send_sms(NUMBER, "hi")
    assert texin_emulator.processed(texin_api_key)[NUMBER] == 1


async def test_send_refused_by_a_429_is_retried_once_delivered(
    client: TexinClient, texin_emulator: TexinEmulator, texin_api_key: str
) -> None:
    """A 429 proves nothing was sent: the retry delivers exactly once."""
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    result = await client.send_sms(NUMBER, "hi")
    assert result.message_id
    assert texin_emulator.processed(texin_api_key)[NUMBER] == 1


async def test_gateway_failure_is_a_maybe_sent_server_error_not_retried(
    texin_api_key: str, backend: TransportChoice
) -> None:
    """A gateway failure (500) may come after sending: ServerError, maybe_sent, one request."""
    emulator = TexinEmulator(failing_numbers=[NUMBER])
    async with (
        serve(emulator) as url,
        TexinClient(texin_api_key, base_url=url, retry=FAST, transport=backend) as c,
    ):
        with pytest.raises(ServerError, match="Failed to send SMS") as caught:
            await c.send_sms(NUMBER, "hi")
    assert caught.value.maybe_sent
    assert emulator.requests(texin_api_key)["send_sms", 500] == 1


async def test_ambiguous_send_retry_opt_in_can_send_twice(
    texin_emulator: TexinEmulator,
    texin_emulator_url: str,
    texin_api_key: str,
    backend: TransportChoice,
) -> None:
    """retry_ambiguous_sends trades never-twice for never-lost, as documented."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    policy = RetryPolicy(attempts=2, wait_initial=0, wait_max=0, retry_ambiguous_sends=True)
    async with TexinClient(
        texin_api_key, base_url=texin_emulator_url, retry=policy, transport=backend
    ) as client:
        await client.send_sms(NUMBER, "hi")
    assert texin_emulator.processed(texin_api_key)[NUMBER] == 2


async def test_read_after_dropped_connection_is_retried(
    client: TexinClient, texin_emulator: TexinEmulator
) -> None:
    """Reads are repeated after a drop; the caller just gets the answer."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="get_balance")
    assert (await client.get_balance()).success


async def test_unreachable_api_is_a_connection_error(backend: TransportChoice) -> None:
    """Nothing listening: APIConnectionError, after the policy's attempts (sends too)."""
    port = free_port()
    retries: list[RetryDetails] = []
    policy = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, on_retry=retries.append)
    url = f"http://127.0.0.1:{port}/api/"
    async with TexinClient("k", base_url=url, retry=policy, transport=backend) as client:
        with pytest.raises(APIConnectionError):
            await client.send_sms(NUMBER, "hi")
    assert len(retries) == policy.attempts - 1


# -- pool and rate limit ---------------------------------------------------------------------


async def test_one_pool_reuses_its_connection(
    client: TexinClient, texin_emulator: TexinEmulator
) -> None:
    """Sequential calls share one keep-alive connection."""
    for _ in range(10):
        await client.get_balance()
    assert texin_emulator.connections_opened == 1


async def queue_requests(clients: list[TexinClient], per_client: int) -> None:
    """Queue per_client requests (sends and reads) on each client at once."""
    async with anyio.create_task_group() as tg:
        for client in clients:
            for i in range(per_client):
                tg.start_soon(_read_or_send, client, i % 2 == 0)


async def _read_or_send(client: TexinClient, send: bool) -> None:
    await (client.send_sms(NUMBER, "rate") if send else client.get_balance())


class DepartureLog(HookLimiter):
    """Wraps a limiter to record when each request was let go."""

    def __init__(self, inner: LocalRateLimiter) -> None:
        self.inner = inner
        self.times: list[float] = []

    @asynccontextmanager
    async def _slot(self, key_id: str, priority: Priority) -> AsyncIterator[None]:
        async with self.inner.slot(key_id, priority):
            self.times.append(time.perf_counter())
            yield

    async def pause(self, key_id: str, seconds: float) -> None:
        await self.inner.pause(key_id, seconds)

    def sustained_use(self, limit: RateLimit) -> float:
        """Share of the budget used once past the first window: the period over the median
        time the key's max_rate requests take to turn over (d[k + max_rate] - d[k]). The
        median, so that a load spike on a shared machine does not decide the figure."""
        d, n = sorted(self.times), limit.max_rate
        turnovers = sorted(d[k + n] - d[k] for k in range(n, len(d) - n))
        return limit.time_period / turnovers[len(turnovers) // 2]


# Seconds of real time: on trio, the limiter's rules run in test_ratelimit.py.
@pytest.mark.event_loops("asyncio")
@pytest.mark.slow
async def test_limiter_never_trips_a_strict_window_and_sustains_the_budget(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """60 queued requests at 20 per 4 s: zero 429s, never over 20 in a window, and the budget
    sustained (>= 95% here, on a shared machine; bench_limiter measures the real figure).

    4 s rather than 2 s keeps a loaded machine's loopback latency near its real share of
    the provider's window (a 300 ms round trip is 0.5% of 60 s).
    """
    limit = RateLimit(max_rate=20, time_period=4.0)
    texin_emulator.set_rate_limit("20/4")
    log = DepartureLog(LocalRateLimiter(limit))
    async with TexinClient(texin_api_key, base_url=texin_emulator_url, limiter=log) as c:
        await queue_requests([c], 60)
    assert texin_emulator.rate_limited(texin_api_key) == 0
    assert texin_emulator.max_in_window(texin_api_key) == 20
    assert log.sustained_use(limit) >= 0.95


# Seconds of real time: on trio, the limiter's rules run in test_ratelimit.py.
@pytest.mark.event_loops("asyncio")
async def test_clients_with_one_key_share_its_budget(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """Two clients with the same key in one loop draw on one window: no 429s."""
    limit = RateLimit(max_rate=10, time_period=1.0)
    texin_emulator.set_rate_limit("10/1")
    kw = {"base_url": texin_emulator_url, "rate_limit": limit}
    async with TexinClient(texin_api_key, **kw) as a, TexinClient(texin_api_key, **kw) as b:  # type: ignore[arg-type]
        await queue_requests([a, b], 15)
    assert texin_emulator.rate_limited(texin_api_key) == 0
    assert texin_emulator.max_in_window(texin_api_key) == 10


async def test_another_process_on_the_key_trips_429s_and_nothing_is_lost(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """Another process filling the key's window (raw posts here) makes ours meet 429s; the
    key pauses and retries, and every send is delivered exactly once."""
    texin_emulator.set_rate_limit("10/1")
    policy = RetryPolicy(attempts=8, wait_initial=0.05, wait_max=0.2)
    start = time.perf_counter()
    async with (
        httpx.AsyncClient(base_url=texin_emulator_url) as other,
        TexinClient(
            texin_api_key, base_url=texin_emulator_url, rate_limit="10/1", retry=policy
        ) as client,
        anyio.create_task_group() as tg,
    ):
        for j in range(10):
            body = {"api_key": texin_api_key, "recipient": f"070000001{j}", "message": "x"}
            tg.start_soon(partial(other.post, "send_sms", json=body))
        await anyio.sleep(0.05)
        for j in range(10):
            tg.start_soon(client.send_sms, f"070000000{j}", "hi")
    assert texin_emulator.rate_limited(texin_api_key) > 0
    processed = texin_emulator.processed(texin_api_key)
    assert len(processed) == 20
    assert set(processed.values()) == {1}
    assert time.perf_counter() - start < 10


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A trustme CA and a 127.0.0.1 server certificate, as files."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return ca_file, cert_file, key_file


async def test_https_with_a_trusted_ca(
    tls_files: tuple[Path, Path, Path], backend: TransportChoice
) -> None:
    """Over TLS with the CA trusted (as a bundle path or a context), calls succeed."""
    ca, cert, key = tls_files
    emulator = TexinEmulator()
    async with serve(emulator, tls_cert=str(cert), tls_key=str(key)) as url:
        assert url.startswith("https://")
        context = ssl.create_default_context(cafile=str(ca))
        for verify in (str(ca), context):
            async with TexinClient(
                "texin-test-key", base_url=url, verify=verify, transport=backend
            ) as client:
                assert (await client.get_balance()).success
                assert (await client.send_sms(NUMBER, "tls")).message_id


async def test_https_to_an_untrusted_certificate_is_refused(
    tls_files: tuple[Path, Path, Path], backend: TransportChoice
) -> None:
    """Verification is on by default: an unknown CA fails before anything is sent."""
    _, cert, key = tls_files
    emulator = TexinEmulator()
    served = serve(emulator, tls_cert=str(cert), tls_key=str(key))
    async with (
        served as url,
        TexinClient("texin-test-key", base_url=url, retry=FAST, transport=backend) as client,
    ):
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.send_sms(NUMBER, "tls")
    assert emulator.processed("texin-test-key") == {}


# Seconds of real time: on trio, the limiter's rules run in test_ratelimit.py.
@pytest.mark.event_loops("asyncio")
async def test_requests_a_busy_server_counts_late_never_trip_its_window(
    texin_emulator: TexinEmulator, texin_emulator_url: str, texin_api_key: str
) -> None:
    """Four sends time out while a busy server still has them queued; it counts them later.
    Their slots keep counting (two lifetimes), so the next four wait rather than meet 429s."""
    texin_emulator.set_rate_limit("4/1")
    texin_emulator.slow_seconds = 0.6
    texin_emulator.faults.schedule(Fault.SLOW_BEFORE, times=4, endpoint="send_sms")
    async with TexinClient(
        texin_api_key,
        base_url=texin_emulator_url,
        rate_limit=FOUR_A_SECOND,
        timeout=0.3,
        retry=FAST,
    ) as client:
        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(_lost, client, f"070000000{i}")
        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(client.send_sms, f"070000001{i}", "second wave")
    assert texin_emulator.rate_limited(texin_api_key) == 0
    assert sum(texin_emulator.processed(texin_api_key).values()) == 8


async def _lost(client: TexinClient, number: str) -> None:
    with pytest.raises(APITimeoutError):
        await client.send_sms(number, "first wave")
