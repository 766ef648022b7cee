"""A property over whatever a server may answer, on every endpoint and both backends.

Hypothesis draws an answer (status line, headers, body, framing, pace) and a raw loopback
server gives it to one call. Whatever it is, only a result or a TexinError comes out, the
call ends within its attempt's deadline, and a send is called "not sent" (maybe_sent
False) only when the server's answer really was a refusal: a 429, or a whole JSON body
saying ``"success": false`` under a status below 500; such a refusal, well formed and
whole, is always heard as one.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from hostile_server import chunk, hostile_server, reset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from texin_async import APIError, RetryPolicy, TexinClient, TexinError
from texin_async._exceptions import Fate
from texin_async._lenient import truth
from texin_async._models import Result

pytestmark = pytest.mark.anyio

TIMEOUT = 0.05  # each part; the attempt's deadline is 0.2 s
DEADLINE = 4 * TIMEOUT
SLACK = 0.5  # a loaded, shared machine; still far from "for ever"
CAP = 64 * 1024

Call = Callable[[TexinClient], Awaitable[Result]]
CALLS: dict[str, Call] = {
    "api_info": lambda c: c.api_info(),
    "test_connection": lambda c: c.test_connection(),
    "get_balance": lambda c: c.get_balance(),
    "check_status": lambda c: c.check_status("API-1"),
    "send_sms": lambda c: c.send_sms("0712345678", "hi"),
    "send_bulk_sms": lambda c: c.send_bulk_sms(["0712345678", "0722345678"], "hi"),
}


@dataclass(frozen=True)
class Answer:
    """What the server will do: its bytes, and how it delivers them."""

    status: int | None  # None: not a well-formed status line
    status_line: bytes
    headers: tuple[tuple[str, str], ...]
    body: bytes
    framing: str  # length | long | short | chunked | endless | close
    pace: str  # whole | dribble | stall | reset

    @property
    def refuses(self) -> bool:
        """Whether the answer, if it arrived whole, is the API's refusal: a JSON object
        saying ``success`` false under a status below 500, or a 429 not saying success.
        (Its pace or framing can only stop it from arriving whole, never turn something
        else into a refusal.)"""
        if self.status is None or self.status >= 500:
            return False
        success = truth(self.json.get("success")) if self.json is not None else None
        return success is False or (self.status == 429 and success is not True)

    @property
    def json(self) -> dict[str, Any] | None:
        """The body's JSON object, inflated as its Content-Encoding says; None if it is not."""
        codings = [value for name, value in self.headers if name == "Content-Encoding"]
        try:
            decoded = json.loads(zlib.decompress(self.body, 47) if codings else self.body)
        except (ValueError, RecursionError, zlib.error):
            return None
        return decoded if isinstance(decoded, dict) else None

    @property
    def clean(self) -> bool:
        """Whether the answer is well formed and arrives whole, at once, as HTTP/1.1 says."""
        return (
            self.status is not None
            and self.status not in (100, 204)
            and self.framing in ("length", "chunked", "close")
            and self.pace == "whole"
            and all(header == ("Content-Encoding", "gzip") for header in self.headers)
        )


def _json_body() -> st.SearchStrategy[bytes]:
    flags = st.sampled_from([True, False, 1, 0, "true", "false", "1", "0", "maybe", None])
    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(["NaN", "1e999999999", "[]", "{}", "0.30"]),
    )
    fields = st.dictionaries(
        st.sampled_from(
            ["message", "error", "message_id", "message_ids", "sms_balance", "cost", "units_used"]
        ),
        values,
        max_size=5,
    )
    return st.builds(
        lambda flag, extra, wide: (
            json.dumps({"success": flag, **extra}).encode()[:-1]
            + (b', "n": 1e400}' if wide else b"}")
        ),
        flags,
        fields,
        st.booleans(),
    )


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of ``choices``, each drawn about ``weight`` times in ten."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda index: table[index])


BODIES = weighted(
    (6, _json_body().map(lambda body: ((), body))),
    (1, _json_body().map(lambda body: ((("Content-Encoding", "gzip"),), gzip.compress(body)))),
    (1, st.binary(max_size=200).map(lambda body: ((), body))),
    (
        1,
        st.sampled_from([b"<html>502 Bad Gateway</html>", b"[" * 5000, b""]).map(lambda b: ((), b)),
    ),
    (1, st.integers(CAP + 1, 3 * CAP).map(lambda n: ((), b" " * n))),  # over the cap
)
STATUS_LINES = weighted(
    (
        8,
        st.tuples(
            st.sampled_from([200, 200, 200, 400, 400, 429, 500, 100, 201, 204, 301, 401, 404, 502]),
            st.sampled_from(["OK", "", "Whatever"]),
        ).map(lambda p: (p[0], f"HTTP/1.1 {p[0]} {p[1]}".rstrip().encode())),
    ),
    (
        2,
        st.one_of(
            st.sampled_from(
                [b"", b"HTTP/1.1", b"HTTP/1.1 abc OK", b"ICY 200 OK", b"HTTP/9 200 OK"]
            ),
            st.binary(max_size=30),
        ).map(lambda line: (None, line)),
    ),
)
HEADERS = weighted(
    (6, st.just(())),
    (
        4,
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["Content-Type", "Content-Encoding", "Retry-After", "Location", "X-Junk"]
                ),
                st.one_of(
                    st.sampled_from(["application/json", "gzip", "br", "close", "10", "-1"]),
                    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
                    st.just("a" * 100_000),
                ),
            ),
            max_size=4,
        ).map(tuple),
    ),
)
FRAMINGS = weighted(
    (6, st.just("length")),
    (4, st.sampled_from(["long", "short", "chunked", "endless", "close"])),
)
PACES = weighted((7, st.just("whole")), (3, st.sampled_from(["dribble", "stall", "reset"])))


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    status, line = draw(STATUS_LINES)
    coding, body = draw(BODIES)
    return Answer(status, line, coding + draw(HEADERS), body, draw(FRAMINGS), draw(PACES))


def wire(answer: Answer) -> bytes:
    """The bytes the server writes, before the pace is applied."""
    body, framing = answer.body, answer.framing
    framed = {
        "length": [f"Content-Length: {len(body)}"],
        "long": [f"Content-Length: {len(body) + 10}"],
        "short": [f"Content-Length: {max(0, len(body) - 3)}"],
        "chunked": ["Transfer-Encoding: chunked"],
        "endless": ["Transfer-Encoding: chunked"],
        "close": [],
    }[framing]
    head = [answer.status_line.decode("latin-1"), *(f"{k}: {v}" for k, v in answer.headers)]
    data = "\r\n".join([*head, *framed, "", ""]).encode("latin-1")
    if framing == "chunked":
        return data + (chunk(body) if body else b"") + b"0\r\n\r\n"
    if framing == "endless":
        return data + chunk(body or b" ") * 3
    return data + body


def script_for(answer: Answer) -> Callable[[asyncio.StreamWriter], Awaitable[None]]:
    data = wire(answer)

    async def script(writer: asyncio.StreamWriter) -> None:
        if answer.pace == "dribble":
            for index in range(0, len(data), 7):
                writer.write(data[index : index + 7])
                await writer.drain()
                await anyio.sleep(TIMEOUT / 3)
        elif answer.pace == "stall":
            writer.write(data[: len(data) // 2])
            await writer.drain()
            await anyio.sleep_forever()
        else:
            writer.write(data)
            await writer.drain()
            if answer.pace == "reset":
                reset(writer)
            elif answer.framing in ("long", "endless"):
                await anyio.sleep_forever()

    return script


async def outcome(answer: Answer, name: str, backend: str | None) -> Result | TexinError:
    """The result of one call given ``answer``, or the TexinError it raised."""
    async with (
        hostile_server(script_for(answer)) as server,
        TexinClient(
            "texin-property-key",
            base_url=server.url,
            transport=backend,  # type: ignore[arg-type]
            rate_limit=None,
            retry=RetryPolicy(attempts=1),
            timeout=httpx.Timeout(TIMEOUT),
            max_answer_bytes=CAP,
        ) as client,
    ):
        try:
            return await CALLS[name](client)
        except TexinError as exc:
            return exc


@pytest.mark.parametrize("backend", [None, "aiohttp"], ids=["httpx", "aiohttp"])
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(answer=answers(), name=st.sampled_from(sorted(CALLS)))
async def test_any_answer_ends_in_time_as_a_result_or_a_texin_error_with_its_verdict(
    backend: str | None, answer: Answer, name: str
) -> None:
    """Only results and TexinErrors come out, within the deadline; "not sent" exactly when
    the server truly refused (a 429, or JSON saying success false below 500)."""
    started = time.perf_counter()
    with anyio.fail_after(DEADLINE + 2 * SLACK):  # a hang fails the example, not the run
        ended = await outcome(answer, name, backend)
    assert time.perf_counter() - started < DEADLINE + SLACK
    if isinstance(ended, TexinError) and not ended.maybe_sent and name.startswith("send"):
        assert isinstance(ended, APIError)
        assert ended.fate is Fate.REFUSED
        assert (ended.status_code, answer.refuses) == (answer.status, True)
    if answer.clean and answer.refuses:  # and the converse, for a refusal heard whole
        assert isinstance(ended, APIError)
        assert (ended.status_code, ended.maybe_sent) == (answer.status, False)
