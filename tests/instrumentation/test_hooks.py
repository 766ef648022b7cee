"""Instrumentation hooks (texin_async.instrumentation): what they are told of calls,
attempts, retries, 429 pauses and batches, and that none of them can break a send."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import types
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import httpx
import pytest
from mock_api import SENT, HookLimiter, client_for, json_answer
from mock_api import Recorder as Answers

from texin_async import (
    InvalidRequestError,
    OutcomeUnknownError,
    Priority,
    RetryDetails,
    RetryPolicy,
    SyncTexinClient,
    TexinClient,
)
from texin_async.instrumentation import (
    AttemptDetails,
    AttemptStarted,
    BatchDetails,
    BatchStarted,
    CallDetails,
    CallStarted,
    Event,
    PauseDetails,
    add_hook,
    get_hooks,
    set_hooks,
)
from texin_async.testing import Fault, TexinEmulator

from .conftest import CANARY_PHONE, CANARY_TEXT, QUICK, Recorder, leaks

pytestmark = [pytest.mark.anyio, pytest.mark.event_loops("asyncio", "trio")]

Make = Callable[..., TexinClient]
ONE_CALL = ["CallStarted", "AttemptStarted", "AttemptDetails", "CallDetails"]


def fields_of(event: Event) -> str:
    """Every field of an event but the error object, as text (to look for canaries)."""
    return repr(
        [(f.name, getattr(event, f.name)) for f in dataclasses.fields(event) if f.name != "error"]
    )


async def test_a_send_tells_its_call_and_attempt(emulated: Make) -> None:
    """A successful send_sms: its call and attempt, with status, units and the key's id."""
    hook = Recorder()
    client = emulated(hooks=hook)
    await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    assert hook.names() == ONE_CALL
    (started,) = hook.of(CallStarted)
    assert (started.endpoint, started.priority, started.recipients) == (
        "send_sms",
        Priority.INTERACTIVE,
        1,
    )
    assert (started.key_id, started.base_url) == (client.key_id, client.base_url)
    (attempt,) = hook.of(AttemptDetails)
    assert (attempt.attempt, attempt.status, attempt.units, attempt.error_type) == (1, 200, 1, None)
    assert attempt.ok
    assert not attempt.maybe_sent
    assert attempt.wait >= 0
    assert attempt.elapsed > 0
    (call,) = hook.of(CallDetails)
    assert (call.attempts, call.status, call.units, call.recipients, call.maybe_sent) == (
        1,
        200,
        1,
        1,
        False,
    )
    assert call.ok
    assert call.elapsed >= attempt.elapsed


async def test_no_event_holds_a_number_a_text_or_the_key(emulated: Make) -> None:
    """Every field of every event (but the error object) is free of the canaries."""
    hook = Recorder()
    client = emulated(hooks=hook)
    await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    await client.send_bulk_sms([CANARY_PHONE, "0712345678"], CANARY_TEXT)
    assert hook.of(CallDetails)[1].recipients == 2
    assert all(leaks(fields_of(event)) == [] for event in hook.events)


async def test_a_retried_read_tells_each_attempt_and_the_retry(
    emulated: Make, texin_emulator: TexinEmulator
) -> None:
    """A 500 then a success: two attempts, a RetryDetails between them, one call."""
    texin_emulator.faults.schedule(Fault.SERVER_ERROR, endpoint="get_balance")
    hook = Recorder()
    await emulated(hooks=hook).get_balance(priority=Priority.BACKGROUND)
    assert hook.names() == [
        "CallStarted",
        "AttemptStarted",
        "AttemptDetails",
        "RetryDetails",
        "AttemptStarted",
        "AttemptDetails",
        "CallDetails",
    ]
    first, second = hook.of(AttemptDetails)
    assert (first.attempt, first.status, first.error_type, first.maybe_sent) == (
        1,
        500,
        "ServerError",
        True,
    )
    assert (second.attempt, second.status, second.ok) == (2, 200, True)
    (retry,) = hook.of(RetryDetails)
    assert (retry.endpoint, retry.attempt, retry.priority) == (
        "get_balance",
        1,
        Priority.BACKGROUND,
    )
    (call,) = hook.of(CallDetails)
    assert (call.attempts, call.ok, call.units, call.priority) == (2, True, 0, Priority.BACKGROUND)


async def test_a_maybe_sent_send_tells_an_unknown_outcome(
    emulated: Make, texin_emulator: TexinEmulator
) -> None:
    """A send dropped after it was processed: the call ends maybe-sent, with no status."""
    texin_emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    hook = Recorder()
    with pytest.raises(OutcomeUnknownError):
        await emulated(hooks=hook).send_sms(CANARY_PHONE, CANARY_TEXT)
    (call,) = hook.of(CallDetails)
    assert (call.maybe_sent, call.error_type, call.status, call.units, call.attempts) == (
        True,
        "OutcomeUnknownError",
        None,
        0,
        1,
    )
    assert isinstance(call.error, OutcomeUnknownError)
    assert hook.of(RetryDetails) == []  # a maybe-sent send is never retried


async def test_a_429_tells_the_key_wide_pause(
    emulated: Make, texin_emulator: TexinEmulator
) -> None:
    """A forced 429 (Retry-After: 1): the attempt's status, the pause, then a success."""
    texin_emulator.faults.schedule(Fault.RATE_LIMIT, endpoint="send_sms")
    hook = Recorder()
    client = emulated(hooks=hook)
    await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    first = hook.of(AttemptDetails)[0]
    assert (first.status, first.error_type, first.maybe_sent) == (429, "RateLimitError", False)
    (pause,) = hook.of(PauseDetails)
    assert (pause.endpoint, pause.key_id, pause.retry_after, pause.wait) == (
        "send_sms",
        client.key_id,
        1.0,
        0.01,  # capped by QUICK.max_retry_after
    )
    assert hook.names().index("PauseDetails") < hook.names().index("RetryDetails")
    assert hook.of(CallDetails)[0].ok


async def test_a_batch_tells_its_start_its_calls_and_its_report(emulated: Make) -> None:
    """send_batch: BatchStarted, a call per request, BatchDetails with the report's counts."""
    hook = Recorder()
    items = [(CANARY_PHONE, CANARY_TEXT), ("0712345678", CANARY_TEXT), ("not a number", "x")]
    report = await emulated(hooks=hook).send_batch(items)
    assert hook.names()[0] == "BatchStarted"
    assert hook.names()[-1] == "BatchDetails"
    (started,) = hook.of(BatchStarted)
    assert (started.total, started.priority, started.dry_run) == (3, Priority.BULK, False)
    (call,) = hook.of(CallDetails)  # both valid items coalesced into one bulk request
    assert (call.endpoint, call.recipients, call.units, call.priority) == (
        "send_bulk_sms",
        2,
        2,
        Priority.BULK,
    )
    (ended,) = hook.of(BatchDetails)
    assert ended.ok
    assert ended.report == report
    assert (ended.report.sent, ended.report.invalid, ended.report.requests) == (2, 1, 1)


async def test_a_hook_that_raises_never_breaks_a_send(
    emulated: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken hook: every send still succeeds, and it is logged once a minute, not per call."""

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    recorder = Recorder()
    client = emulated(hooks=[broken, recorder])
    with caplog.at_level(logging.WARNING, logger="texin_async"):
        for _ in range(3):
            result = await client.send_sms(CANARY_PHONE, CANARY_TEXT)
            assert result.message_id
    complaints = [r for r in caplog.records if "raised RuntimeError" in r.getMessage()]
    assert len(complaints) == 1
    assert len(recorder.of(CallDetails)) == 3  # the hooks after it are still told


async def test_a_hook_whose_repr_raises_too_never_breaks_a_send(
    emulated: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook broken twice over (its call and its repr raise): the log names its class."""

    class TwiceBroken:
        def __call__(self, event: Event) -> None:
            raise RuntimeError("hook bug")

        def __repr__(self) -> str:
            raise ValueError("repr bug")

    client = emulated(hooks=TwiceBroken())
    with caplog.at_level(logging.WARNING, logger="texin_async"):
        assert (await client.send_sms(CANARY_PHONE, CANARY_TEXT)).message_id
    (complaint,) = [r for r in caplog.records if "raised RuntimeError" in r.getMessage()]
    assert "TwiceBroken object" in complaint.getMessage()


async def test_an_async_hook_is_refused_without_a_never_awaited_warning(
    emulated: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """An ``async def`` hook's coroutine is closed, and the log says to use a plain def."""

    async def coroutine_hook(event: Event) -> None:
        """Never runs."""

    with caplog.at_level(logging.WARNING, logger="texin_async"):
        await emulated(hooks=coroutine_hook).get_balance()
    assert "use a plain def" in caplog.text


async def test_a_scope_opens_before_the_work_and_closes_after_its_details(emulated: Make) -> None:
    """The context manager a hook returns for a *Started event wraps the call or attempt."""
    hook = Recorder(scoped=True)
    await emulated(hooks=hook).get_balance()
    assert hook.log == [
        "CallStarted",
        "enter CallStarted",
        "AttemptStarted",
        "enter AttemptStarted",
        "AttemptDetails",
        "exit AttemptStarted",
        "CallDetails",
        "exit CallStarted",
    ]


async def test_a_cancelled_call_closes_its_scopes_and_says_so() -> None:
    """Cancelled mid-request: the attempt and call end as the loop's cancellation
    (CancelledError on asyncio, Cancelled on trio), scopes closed."""
    cancelled = anyio.get_cancelled_exc_class().__name__
    hook = Recorder(scoped=True)
    arrived = anyio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await anyio.sleep_forever()
        raise AssertionError

    async with client_for(hang, hooks=hook) as client, anyio.create_task_group() as tg:
        tg.start_soon(client.send_sms, CANARY_PHONE, CANARY_TEXT)
        await arrived.wait()
        tg.cancel_scope.cancel()
    (call,) = hook.of(CallDetails)
    assert (call.error_type, call.maybe_sent) == (cancelled, True)
    assert hook.log[-2:] == ["CallDetails", f"exit CallStarted {cancelled}"]
    assert f"exit AttemptStarted {cancelled}" in hook.log


async def test_the_limiter_wait_is_told_per_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """AttemptStarted and AttemptDetails say how long the attempt waited for its slot."""
    now = [100.0]
    monkeypatch.setattr(
        "texin_async._client.time",
        types.SimpleNamespace(perf_counter=lambda: now[0], monotonic=lambda: now[0]),
    )

    class Slow(HookLimiter):
        async def acquire(self, key_id: str, priority: Priority) -> None:
            now[0] += 2.5  # the budget is spent: 2.5 s until a slot frees

    hook = Recorder()
    async with client_for(Answers(json_answer(200, SENT)), limiter=Slow(), hooks=hook) as client:
        await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    assert hook.of(AttemptStarted)[0].wait == 2.5
    assert hook.of(AttemptDetails)[0].wait == 2.5
    assert hook.of(CallDetails)[0].wait == 2.5


async def test_process_wide_hooks_are_told_before_a_clients_own() -> None:
    """set_hooks/add_hook reach every client; a client's hooks= come after them."""
    order: list[str] = []

    def named(name: str) -> Callable[[Event], None]:
        def hook(event: Event) -> None:
            if isinstance(event, CallStarted):
                order.append(name)

        return hook

    first, second = named("process 1"), named("process 2")
    set_hooks([first])
    add_hook(second)
    assert get_hooks() == (first, second)
    async with client_for(Answers(json_answer(200, SENT)), hooks=named("client")) as client:
        await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    assert order == ["process 1", "process 2", "client"]
    set_hooks([])
    async with client_for(Answers(json_answer(200, SENT))) as client:
        await client.send_sms(CANARY_PHONE, CANARY_TEXT)
    assert len(order) == 3


@pytest.mark.parametrize("hooks", [[42], "not callable", [print, None]])
def test_a_hook_that_is_not_callable_is_refused_at_construction(hooks: Sequence[Any]) -> None:
    """hooks= takes callables only, and says how to pass them."""
    with pytest.raises(InvalidRequestError, match="a hook must be a callable"):
        TexinClient("k", base_url="http://127.0.0.1/api/", hooks=hooks)


async def test_on_retry_is_a_hook_that_hears_only_retries(caplog: pytest.LogCaptureFixture) -> None:
    """RetryPolicy(on_retry=...) is told each RetryDetails; if it raises, the call goes on."""
    seen: list[RetryDetails] = []

    def flaky(details: RetryDetails) -> None:
        seen.append(details)
        raise ValueError("on_retry bug")

    policy = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, on_retry=flaky)
    answers = Answers(httpx.ConnectError("refused"), json_answer(200, SENT))
    async with client_for(answers, retry=policy) as client:
        await client.send_sms(CANARY_PHONE, CANARY_TEXT, priority=Priority.BULK)
    assert [(d.attempt, d.key_id, d.priority) for d in seen] == [(1, client.key_id, Priority.BULK)]
    assert "raised ValueError" in caplog.text


def test_a_sync_client_tells_its_hooks(texin_emulator_url: str, canary_key: str) -> None:
    """SyncTexinClient(hooks=...) is told as TexinClient's is."""
    hook = Recorder()
    with SyncTexinClient(canary_key, base_url=texin_emulator_url, retry=QUICK, hooks=[hook]) as c:
        c.send_sms(CANARY_PHONE, CANARY_TEXT)
    assert hook.names() == ONE_CALL


def test_sync_client_constructor_matches_texin_client() -> None:
    """SyncTexinClient's constructor takes the same arguments as TexinClient's, hooks included."""

    def parameters(cls: type) -> list[tuple[str, Any, Any, Any]]:
        signature = inspect.signature(cls.__init__)  # type: ignore[misc]
        return [(p.name, p.kind, p.default, p.annotation) for p in signature.parameters.values()]

    assert parameters(SyncTexinClient) == parameters(TexinClient)


async def test_an_iter_batch_stopped_early_tells_its_counts_so_far() -> None:
    """Breaking out of iter_batch ends the batch: BatchDetails says it was cancelled."""
    answered = 0

    async def first_only(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        answered += 1
        if answered > 1:
            await anyio.sleep_forever()  # the others never answer: the batch cannot end
        return json_answer(200, SENT)

    hook = Recorder(scoped=True)
    items = [(CANARY_PHONE, f"text {i}") for i in range(5)]
    client = client_for(first_only, hooks=hook)
    async with client, contextlib.aclosing(client.iter_batch(items)) as outcomes:
        async for _ in outcomes:
            break
    cancelled = anyio.get_cancelled_exc_class().__name__
    (ended,) = hook.of(BatchDetails)
    assert ended.error_type == cancelled
    assert (ended.report.total, ended.report.sent) == (1, 1)
    assert hook.log[-1] == f"exit BatchStarted {cancelled}"
