"""The one verdict (texin_async._exceptions): every error says whether the API may have
processed the request, and retries and batch statuses all follow from it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest
from mock_api import SENT, client_for, error_body, json_answer

from texin_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InsufficientBalanceError,
    InvalidRequestError,
    JournalError,
    LimiterUnavailableError,
    Message,
    OutcomeStatus,
    OutcomeUnknownError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    TexinClient,
    TexinError,
)
from texin_async._batch._outcome import status_for
from texin_async._cli._errors import exit_code_for
from texin_async._exceptions import MAYBE_SENT, Fate
from texin_async._retry import is_retryable

STATUSES = (200, 201, 204, 301, 302, 400, 401, 403, 404, 413, 429, 500, 502, 503, 504)
BODIES: dict[str, Callable[[int], httpx.Response]] = {
    "json success": lambda s: json_answer(s, SENT),
    "json success 1": lambda s: json_answer(s, {**SENT, "success": 1}),
    "json refusal": lambda s: json_answer(s, error_body()),
    "json refusal 0": lambda s: json_answer(s, {**error_body(), "success": 0}),
    "json without success": lambda s: json_answer(s, {"message": "hm"}),
    "json list": lambda s: json_answer(s, [1, 2]),
    "html": lambda s: httpx.Response(s, text="<html>x</html>"),
    "empty": lambda s: httpx.Response(s),
    "cut off": lambda s: httpx.Response(s, text='{"success": tr'),
}
FAULTS: dict[str, Exception] = {
    "connect refused": httpx.ConnectError("refused"),
    "connect timeout": httpx.ConnectTimeout("slow"),
    "pool timeout": httpx.PoolTimeout("busy"),
    "write timeout": httpx.WriteTimeout("stuck"),
    "read timeout": httpx.ReadTimeout("slow"),
    "dropped": httpx.RemoteProtocolError("dropped"),
    "reset": httpx.ReadError("reset"),
}
ANSWERS: dict[str, Callable[[], httpx.Response | Exception]] = {
    **{
        f"{status} {kind}": (lambda s=status, b=body: b(s))  # type: ignore[misc]
        for status, (kind, body) in itertools.product(STATUSES, BODIES.items())
    },
    **{name: (lambda f=fault: f) for name, fault in FAULTS.items()},  # type: ignore[misc]
}
THRICE = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)


def test_the_verdict_table_covers_every_fate() -> None:
    """One entry per fate; only "not sent" and "refused" prove nothing was processed."""
    assert set(MAYBE_SENT) == set(Fate)
    assert {fate for fate, maybe in MAYBE_SENT.items() if not maybe} == {
        Fate.NOT_SENT,
        Fate.REFUSED,
    }


@pytest.mark.parametrize(
    ("error", "maybe_sent"),
    [
        (InvalidRequestError("bad"), False),
        (APIConnectionError("refused"), False),
        (LimiterUnavailableError("down"), False),
        (JournalError("locked"), False),
        (InsufficientBalanceError("low", needed_units=2, balance=None), False),
        (APIError("no", status_code=400), False),
        (ServerError("boom", status_code=500), True),
        (OutcomeUnknownError("lost"), True),
        (APITimeoutError("slow"), True),
        (ResponseDecodeError("odd", status_code=200, excerpt=""), True),
    ],
)
def test_each_class_stands_for_a_fate(error: TexinError, maybe_sent: bool) -> None:
    """An error made without a fate takes its class's, and maybe_sent follows."""
    assert error.maybe_sent is maybe_sent
    assert error.maybe_sent is MAYBE_SENT[error.fate]


def test_maybe_sent_is_read_only_and_shown_in_the_repr() -> None:
    """maybe_sent cannot be changed after the fact, and a repr says it."""
    error = ServerError("boom", status_code=500)
    with pytest.raises(AttributeError):
        error.maybe_sent = False  # type: ignore[misc]
    assert "maybe_sent=True" in repr(error)


class Script:
    """One answer, repeated, for every request until changed; counts requests."""

    def __init__(self) -> None:
        self.answer: Callable[[], httpx.Response | Exception] = lambda: json_answer(200, SENT)
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        answer = self.answer()
        if isinstance(answer, Exception):
            raise answer
        return answer


async def _call(client: TexinClient, script: Script, read: bool) -> tuple[object, int]:
    """(result or error, requests made) for one call."""
    script.requests = 0
    try:
        if read:
            return await client.get_balance(), script.requests
        return await client.send_sms("0712345678", "hi"), script.requests
    except TexinError as exc:
        return exc, script.requests


def test_retries_and_batch_statuses_agree_with_maybe_sent_for_every_answer() -> None:
    """Walk every (status, body kind) and transport fault, for a send and a read: only
    TexinErrors escape; a send is retried only if not maybe_sent; a read is retried when
    transient; the CLI exits 4 and a batch item is UNKNOWN exactly when maybe_sent."""
    script = Script()

    async def walk() -> None:
        async with client_for(script, retry=THRICE) as client:
            for name, answer in ANSWERS.items():
                script.answer = answer
                for read in (False, True):
                    result, requests = await _call(client, script, read)
                    if not isinstance(result, TexinError):
                        assert requests == 1, name
                        continue
                    retryable = is_retryable(result, is_send=not read, policy=THRICE)
                    assert (requests > 1) is retryable, (name, read, result)
                    assert (exit_code_for(result) == 4) is result.maybe_sent, name
                    if not read:
                        assert not (result.maybe_sent and requests > 1), name
                send, _ = await _call(client, script, read=False)
                batch = [o async for o in client.iter_batch([Message("0712345678", "hi")])]
                status = batch[0].status
                if isinstance(send, TexinError):
                    assert status is status_for(send), name
                    assert (status is OutcomeStatus.UNKNOWN) is send.maybe_sent, name
                else:
                    assert status is OutcomeStatus.SENT, name

    anyio.run(walk)


def readme_verdict_rows() -> list[list[str]]:
    """The cells of README's verdict table (the one under "Retries")."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split('## Retries, and what "maybe sent" means', 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header, rows = lines[0], lines[1:]
    assert "fate" in header
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


# One error per README row, in its order, as the SDK raises it.
README_EXAMPLES: list[TexinError] = [
    InvalidRequestError("bad number"),
    APIConnectionError("refused"),
    APIError("Failed to send SMS", status_code=200),
    ServerError("Failed to send SMS", status_code=500),
    APIError("redirect", status_code=302, fate=Fate.NO_VERDICT),
    OutcomeUnknownError("dropped"),
]


def test_readmes_verdict_table_is_the_codes() -> None:
    """Every fate is in README's table, and each row's maybe_sent, batch status and exit
    code are what the code does for such an error."""
    rows = readme_verdict_rows()
    assert {Fate[row[1].strip("`")] for row in rows} == set(Fate)
    assert len(rows) == len(README_EXAMPLES)
    for (_, fate, maybe, _, batch, exit_code), error in zip(rows, README_EXAMPLES, strict=True):
        assert error.fate is Fate[fate.strip("`")]
        assert ("yes" in maybe) is error.maybe_sent, fate
        assert status_for(error).value.upper() in batch, fate
        assert exit_code == str(exit_code_for(error)), fate
