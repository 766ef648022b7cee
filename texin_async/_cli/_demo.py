"""``texin demo``: a realistic batch against an emulator in this process, no key needed.

It shows what the SDK does with a real-world list: bulk requests for shared texts, one
request per personalised text, bad numbers caught before sending, numbers the gateway fails
on, all under a rate limit scaled down from the provider's 100 requests a minute so the
demo takes seconds, not minutes. It never contacts the real service.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Annotated

import msgspec
import typer

from .._batch import BatchProgress, BatchReport, Message
from .._client import TexinClient
from .._config import DEFAULT_RATE_LIMIT, RateLimit
from .._exceptions import TexinError
from .._lane import Priority, sustained_seconds
from ._common import (
    DebugOption,
    JsonOption,
    fail,
    plural,
    print_json,
    run_loop,
    settings_of,
    stderr,
    stdout,
)
from ._errors import BadInput, Interrupted
from ._progress import ProgressDisplay, run_beside
from ._summary import print_report

__all__ = ["demo", "demo_messages"]

_DEMO_KEY = "texin-demo-key"
_SEED = 2026
_SHARED = "Flash sale: 20% off everything at Duka Bora this weekend. Reply STOP to opt out."
_LONG = (
    "Reminder: your Duka Bora loyalty points expire on 31 December. Visit any branch or "
    "dial *384*55# to redeem them for vouchers, airtime or free delivery on your next order."
)  # Over 160 characters: two SMS units each.
_TEMPLATE = "Hi {name}, your Duka Bora verification code is {code}."
_NAMES = ("Achieng", "Wanjiru", "Kamau", "Otieno", "Njeri", "Kiprop", "Mwangi", "Akinyi")
_INVALID = ("0800 123 456", "12345", "+44 7911 123456", "07123", "0712-ABC-678", "")
#: Numbers the emulated gateway refuses to deliver to (they fail inside bulk requests).
_FAILING = ("0799000001", "0799000002", "0799000003", "0799000004", "0799000005")


def demo_messages(size: int, *, seed: int = _SEED) -> Iterator[Message]:
    """``size`` messages like a real list: mostly a shared text, some long ones, a tenth
    personalised, about 2% unusable numbers and a handful the gateway fails on."""
    chance = random.Random(seed)
    failing = iter(_FAILING)
    for index in range(size):
        draw = chance.random()
        number = _number(chance)
        if draw < 0.02:
            yield Message(chance.choice(_INVALID), _SHARED, ref=index)
        elif draw < 0.12:
            name, code = chance.choice(_NAMES), chance.randrange(100_000, 1_000_000)
            yield Message(number, _TEMPLATE.format(name=name, code=code), ref=index)
        elif draw < 0.22:
            yield Message(number, _LONG, ref=index)
        elif draw < 0.24:
            yield Message(next(failing, number), _SHARED, ref=index)
        else:
            yield Message(number, _SHARED, ref=index)


def _number(chance: random.Random) -> str:
    """A Kenyan mobile number, written one of the ways people write them."""
    subscriber = f"7{chance.randrange(10**8):08d}"
    form = chance.randrange(4)
    if form == 0:
        return "0" + subscriber
    if form == 1:
        return "254" + subscriber
    if form == 2:
        return "+254" + subscriber
    return f"0{subscriber[:3]} {subscriber[3:6]} {subscriber[6:]}"


def demo(
    ctx: typer.Context,
    size: Annotated[
        int, typer.Option(min=10, max=100_000, help="Recipients in the generated batch.")
    ] = 3000,
    rate_limit: Annotated[
        str,
        typer.Option(
            metavar="N/SECONDS",
            help="The emulator's rate limit per key; the real API allows 100/60.",
        ),
    ] = "100/5",
    json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Run a realistic batch on a local emulator: progress bar, then the report.

    Never contacts the real service and needs no API key. The emulator runs in this
    process on 127.0.0.1 with a rate limit scaled up from the real 100 requests per 60 s,
    so a few thousand messages take seconds.
    """
    settings = settings_of(ctx, json, debug)
    try:
        limit = RateLimit.parse(rate_limit)
    except ValueError as exc:
        fail(settings, BadInput(f"--rate-limit: {exc}"))
    try:
        report = run_loop(_run_demo, size, limit, settings.json)
    except TexinError as exc:
        fail(settings, exc)
    except KeyboardInterrupt:
        fail(settings, Interrupted("demo interrupted (it sends only to its own emulator)"))
    if settings.json:
        print_json(msgspec.to_builtins(report))
        return
    print_report(report, title=f"Demo: {plural(size, 'recipient')}")
    _explain(report, size)


async def _run_demo(size: int, limit: RateLimit, quiet: bool) -> BatchReport:
    from ..testing import Account, TexinEmulator, serve

    account = Account(api_key=_DEMO_KEY, balance=3 * size, username="demo")
    emulator = TexinEmulator([account], rate_limit=limit, failing_numbers=_FAILING)
    async with serve(emulator) as base_url:
        if not quiet:
            _introduce(base_url, size, limit)
        async with TexinClient(_DEMO_KEY, base_url=base_url, rate_limit=limit) as client:
            progress = BatchProgress(expected_items=size)
            display = ProgressDisplay(progress, stderr, total=size, enabled=not quiet)

            async def send() -> BatchReport:
                return await client.send_batch(demo_messages(size), progress=progress)

            with display:
                return await run_beside(display.run, send)


def _introduce(base_url: str, size: int, limit: RateLimit) -> None:
    real = DEFAULT_RATE_LIMIT
    speedup = (limit.max_rate / limit.time_period) / (real.max_rate / real.time_period)
    stderr.print(
        f"Texin demo: an emulator of the API on {base_url} (this never contacts the real "
        f"service). Sending {plural(size, 'message')}: a shared offer, a long reminder (2 units), "
        "personalised codes from a template, some bad numbers and a few the gateway fails on.",
        highlight=False,
    )
    stderr.print(
        f"Rate limit: {plural(limit.max_rate, 'request')} per {limit.time_period:g} s, "
        f"{speedup:.0f}x the real API's {real.max_rate} per {real.time_period:g} s, so minutes "
        "become seconds.",
        highlight=False,
    )


def _explain(report: BatchReport, size: int) -> None:
    seconds = sustained_seconds(DEFAULT_RATE_LIMIT, Priority.BULK, 0, report.requests, False)
    minutes = round(seconds / 60)
    stdout.print(
        f"{plural(size, 'message')} took {plural(report.requests, 'request')}: shared texts "
        "go out in bulk requests of up to 100 numbers; each personalised text needs its own."
    )
    stdout.print(
        f"Invalid: bad numbers caught before sending. Failed: the gateway refused them. "
        f"At the real rate limit this batch would take about {plural(minutes, 'minute')}."
    )
    stdout.print(
        "Next: `texin emulator --port 8001` serves the emulator for your own tries; "
        "`texin batch your.csv --template 'Hi {name}' --dry-run` checks a real list."
    )
