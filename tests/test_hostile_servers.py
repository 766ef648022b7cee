"""Hostile servers on loopback, on both backends: every answer, however odd, slow or large,
ends as a result or a TexinError with the right ``maybe_sent``, within the attempt's
deadline, with memory near the answer cap, and the connection dropped, not held.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import time
import tracemalloc
import zlib

import anyio
import httpx
import pytest
from hostile_server import (
    JSON,
    HostileServer,
    Script,
    answer,
    chunk,
    dribble,
    forever,
    head,
    hostile_server,
    whole,
)

from texin_async import (
    APITimeoutError,
    BadRequestError,
    Message,
    OutcomeUnknownError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TexinClient,
    TexinError,
)
from texin_async._config import DEFAULT_TIMEOUT, attempt_deadline
from texin_async._exceptions import Fate
from texin_async._transport import TransportChoice

pytestmark = pytest.mark.anyio

ONCE = RetryPolicy(attempts=1)
KEY = "texin-hostile-key"


def client_of(url: str, backend: TransportChoice, **kw: object) -> TexinClient:
    """A client of the hostile server: one attempt, short timeouts, no client-side limit."""
    kw.setdefault("timeout", 0.2)
    return TexinClient(KEY, base_url=url, transport=backend, retry=ONCE, rate_limit=None, **kw)  # type: ignore[arg-type]


# -- refusals with numbers JSON allows and floats do not -------------------------------------

OUT_OF_RANGE = answer("400 Bad Request", b'{"success": false, "message": "x", "n": 1e400}', JSON)


async def test_a_refusal_with_1e400_is_a_bad_request_not_sent(backend: TransportChoice) -> None:
    """400 with an out-of-range number in its JSON: BadRequestError, maybe_sent False."""
    async with (
        hostile_server(whole(OUT_OF_RANGE)) as server,
        client_of(server.url, backend) as texin,
    ):
        with pytest.raises(BadRequestError) as caught:
            await texin.send_sms("0712345678", "hi")
    assert caught.value.maybe_sent is False


async def test_a_refusal_with_1e400_fails_a_batch_item_never_unknown(
    backend: TransportChoice,
) -> None:
    """The same refusal in a batch, bulk and single: every item FAILED, none UNKNOWN."""
    batch = [Message("0712345678", "one"), Message("0722345678", "one"), Message("0732345678", "2")]
    async with (
        hostile_server(whole(OUT_OF_RANGE)) as server,
        client_of(server.url, backend) as texin,
    ):
        report = await texin.send_batch(batch)
    assert (report.failed, report.unknown) == (3, 0)
    assert len(server.requests) == 2


# -- a deadline per attempt ------------------------------------------------------------------

TIMEOUT = 0.1  # every part: the attempt's deadline is 0.4 s
DEADLINE = 4 * TIMEOUT
SENT = answer("200 OK", b'{"success": true, "message_id": "API-1"}', JSON)
CHUNKED = head("200 OK", "Transfer-Encoding: chunked", JSON)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(dribble(SENT, TIMEOUT / 3), id="dribbled-answer"),
        pytest.param(forever(CHUNKED, chunk(b" "), interval=TIMEOUT / 3), id="endless-chunks"),
        pytest.param(forever(b"", head("100 Continue"), interval=TIMEOUT / 3), id="endless-1xx"),
    ],
)
async def test_an_answer_that_never_ends_ends_at_the_deadline(
    backend: TransportChoice, script: Script
) -> None:
    """Bytes that keep coming within the read timeout: APITimeoutError at the attempt's
    deadline (maybe sent), the connection dropped, the request's place freed."""
    async with (
        hostile_server(script) as server,
        client_of(server.url, backend, timeout=TIMEOUT, max_connections=1) as texin,
    ):
        started = time.perf_counter()
        with pytest.raises(APITimeoutError) as caught:
            await texin.send_sms("0712345678", "hi")
        elapsed = time.perf_counter() - started
        await wait_for_hangup(server)
        server.script = whole(SENT)
        with anyio.fail_after(2):  # the one place in flight was given back
            assert (await texin.send_sms("0712345678", "hi")).message_id == "API-1"
    assert caught.value.maybe_sent is True
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + 0.5


async def wait_for_hangup(server: HostileServer) -> None:
    """Wait (briefly) until the client has dropped its connection to ``server``."""
    with anyio.fail_after(1):
        await server.hung_up.wait()


def test_the_deadline_is_the_timeouts_added_up() -> None:
    """The documented rule: connect + write + read + pool; 95 s with the defaults."""
    assert attempt_deadline(DEFAULT_TIMEOUT) == 95.0
    assert attempt_deadline(httpx.Timeout(1.0, connect=0.5, pool=2.0)) == 4.5


# -- bounded answers -------------------------------------------------------------------------

CAP = 256 * 1024


@functools.cache
def bomb() -> bytes:
    """An answer of 40 MB of zeros gzipped into about 40 KB, made once, when first needed."""
    return answer(
        "200 OK", gzip.compress(b"0" * (40 * 1024 * 1024), 9), JSON, "Content-Encoding: gzip"
    )


async def gzip_bomb(writer: asyncio.StreamWriter) -> None:
    """Send the bomb, then hold the connection."""
    await whole(bomb(), then="hold")(writer)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            whole(head("200 OK", "Content-Length: 10000000000", JSON), then="hold"),
            id="declared-10GB",
        ),
        pytest.param(forever(CHUNKED, chunk(b"x" * 65536)), id="endless-fast-chunks"),
        pytest.param(forever(head("200 OK", JSON), b"y" * 65536), id="endless-until-close"),
        pytest.param(gzip_bomb, id="gzip-bomb"),
    ],
)
async def test_an_answer_over_the_cap_is_unusable_and_memory_stays_flat(
    backend: TransportChoice, script: Script
) -> None:
    """Tens of MB offered: reading stops at max_answer_bytes, the send is maybe sent (no
    verdict), a read is a decode error, the connection is dropped, memory stays a few MB."""
    async with (
        hostile_server(script) as server,
        client_of(server.url, backend, timeout=1.0, max_answer_bytes=CAP) as texin,
    ):
        bomb()  # made before tracing: the server's own 40 MB are not the client's
        tracemalloc.start()
        try:
            with pytest.raises(OutcomeUnknownError) as send:
                await texin.send_sms("0712345678", "hi")
            with pytest.raises(ResponseDecodeError) as read:
                await texin.get_balance()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        await wait_for_hangup(server)
    assert (send.value.fate, send.value.maybe_sent) == (Fate.NO_VERDICT, True)
    assert "larger than max_answer_bytes (262,144 bytes)" in str(send.value)
    assert read.value.fate is Fate.NO_VERDICT
    assert peak < 3 * 1024 * 1024  # aiohttp inflates 256 KiB at a time and buffers a few


async def test_an_error_status_over_the_cap_keeps_what_its_status_says(
    backend: TransportChoice,
) -> None:
    """A 429 too large to read is still a rate limit (not sent); a 500 a server error."""
    cases: list[tuple[str, type[TexinError], bool]] = [
        ("429 Too Many", RateLimitError, False),
        ("500 Boom", ServerError, True),
    ]
    for status, cls, maybe_sent in cases:
        script = forever(head(status, "Transfer-Encoding: chunked"), chunk(b"z" * 65536))
        async with (
            hostile_server(script) as server,
            client_of(server.url, backend, max_answer_bytes=CAP) as texin,
        ):
            with pytest.raises(cls) as caught:
                await texin.send_sms("0712345678", "hi")
        assert caught.value.maybe_sent is maybe_sent


async def test_a_compressed_answer_within_the_cap_is_read(backend: TransportChoice) -> None:
    """gzip and deflate answers are inflated (within the cap) and read as usual."""
    body = b'{"success": true, "message_id": "API-7", "padding": "' + b"p" * 5000 + b'"}'
    for coding, data in [("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))]:
        sent = answer("200 OK", data, JSON, f"Content-Encoding: {coding}")
        async with (
            hostile_server(whole(sent)) as server,
            client_of(server.url, backend, max_answer_bytes=5200) as texin,
        ):
            assert (await texin.send_sms("0712345678", "hi")).message_id == "API-7"
    assert b"accept-encoding: gzip, deflate" in server.requests[0].lower()


# -- odd answers: each a maybe-sent error for a send, never anything else ----------------------

ODD_ANSWERS = [
    pytest.param(whole(b'{"success": true, "message_id": "API-1"}\n'), id="no-status-line"),
    pytest.param(whole(b"\x00\xffSMS/9.9 7 garbage\r\n\r\n"), id="garbage"),
    pytest.param(whole(b"HTTP/1.1 200\r\n\r\n"), id="no-reason-no-length"),
    pytest.param(whole(head("200 OK", "X-Big: " + "a" * 200_000), then="hold"), id="huge-header"),
    pytest.param(whole(head("200 OK", *[f"X-{i}: v" for i in range(5000)])), id="many-headers"),
    pytest.param(
        whole(head("200 OK", "Content-Length: 999", JSON) + b'{"success": true', then="hold"),
        id="length-lies-long",
    ),
    pytest.param(
        whole(head("200 OK", "Content-Length: 5", JSON) + b'{"success": true}', then="hold"),
        id="length-lies-short",
    ),
    pytest.param(whole(head("200 OK", "Content-Length: 40") + b'{"succ', then="reset"), id="reset"),
    pytest.param(whole(CHUNKED + b"zz\r\nnot hex\r\n", then="hold"), id="bad-chunk"),
    pytest.param(whole(head("200 OK", "Content-Length: -1")), id="negative-length"),
    pytest.param(whole(head("200 OK", "Content-Encoding: br") + b"\x1b"), id="unasked-coding"),
]


@pytest.mark.parametrize("script", ODD_ANSWERS)
async def test_an_odd_answer_to_a_send_is_maybe_sent_within_the_deadline(
    backend: TransportChoice, script: Script
) -> None:
    """No status line, garbage, huge headers, lying lengths, a reset, a bad chunk: a
    TexinError that says the SMS may have gone out, within the deadline, nothing held."""
    async with (
        hostile_server(script) as server,
        client_of(server.url, backend, timeout=TIMEOUT) as texin,
    ):
        started = time.perf_counter()
        with pytest.raises(TexinError) as caught:
            await texin.send_sms("0712345678", "hi")
        assert time.perf_counter() - started < DEADLINE + 0.5
    assert caught.value.maybe_sent is True
    assert len(server.requests) == 1
