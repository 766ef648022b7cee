"""What every ``texin`` command shares: settings, the client, output, wording and the run loop.

A command runs its async work through :func:`run_async`, which turns an SDK error into one
line on stderr (a JSON object under ``--json``, a traceback too with ``--debug``) and the
documented exit code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as _json
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, NoReturn, TypeVar

import anyio
import msgspec
import typer
from rich.console import Console

from .._client import TexinClient
from .._config import DEFAULT_RATE_LIMIT, RateLimit
from .._exceptions import InvalidRequestError, TexinError
from ._errors import BadInput, error_document, exit_code_for, one_line

__all__ = [
    "DebugOption",
    "agree",
    "balance_text",
    "JsonOption",
    "Settings",
    "fail",
    "money",
    "plural",
    "print_json",
    "report_error",
    "run_async",
    "run_loop",
    "settings_of",
    "some_rows",
    "stderr",
    "stdout",
]

_T = TypeVar("_T")

#: ``--json`` and ``--debug``, accepted before the command name and after it.
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")]

stdout = Console(highlight=False, soft_wrap=True)  # long lines wrap in the terminal
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

# Only GET endpoints (api_info, test_connection) use this: they send no body, so no key.
_NO_KEY_NEEDED = "-"
#: Row numbers named in one message, before "and N more".
SHOWN_ROWS = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The global options, resolved once by the app's callback."""

    api_key: str | None
    base_url: str | None
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    allow_insecure_http: bool = False
    json: bool = False
    debug: bool = False

    def __repr__(self) -> str:  # Keep the key out of any --debug traceback's locals.
        return f"Settings(base_url={self.base_url!r}, json={self.json}, debug={self.debug})"

    def client(self, *, needs_key: bool = True, sender_id: str | None = None) -> TexinClient:
        """A client for this command; ``needs_key=False`` for endpoints that take no key.

        Raises:
            BadInput: No API key where one is needed, or plain http to a remote host.
        """
        key = self.api_key
        if not key or not key.strip():
            if needs_key:
                raise BadInput("no API key: set TEXIN_API_KEY or pass --api-key")
            key = _NO_KEY_NEEDED
        try:
            return TexinClient(
                key,
                base_url=self.base_url,
                rate_limit=self.rate_limit,
                sender_id=sender_id,
                allow_insecure_http=self.allow_insecure_http,
            )
        except InvalidRequestError as exc:
            # The SDK's advice names its own argument; the command line has an option.
            if "allow_insecure_http" not in str(exc):
                raise
            text = str(exc).partition(";")[0]
            raise BadInput(f"{text}; use https, or pass --allow-insecure-http") from None

    def given(self, *, json: bool, debug: bool) -> Settings:
        """These settings, with ``--json`` and ``--debug`` also given after the command."""
        return dataclasses.replace(self, json=self.json or json, debug=self.debug or debug)


def settings_of(ctx: typer.Context, json: bool = False, debug: bool = False) -> Settings:
    """The settings the app's callback stored, with a command's own ``--json``/``--debug``."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):  # Only when a command is invoked on its own.
        settings = Settings(api_key=None, base_url=None)
    settings = settings.given(json=json, debug=debug)
    configure_logging(settings.debug)
    return settings


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is now, so a captured stderr is never held on to."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _waits_only(record: logging.LogRecord) -> bool:
    """The limiter's notes that the key is waiting (for its budget, or a 429's pause)."""
    return hasattr(record, "texin_wait")


_DEBUG_HANDLER = _StderrHandler()
_DEBUG_HANDLER.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
# Without --debug, only why the command is waiting: a minute of silence looks like a hang.
_WAIT_HANDLER = _StderrHandler(logging.INFO)
_WAIT_HANDLER.setFormatter(logging.Formatter("texin: %(message)s"))
_WAIT_HANDLER.addFilter(_waits_only)


def configure_logging(debug: bool) -> None:
    """Everything on stderr with --debug; otherwise only notes that the key is waiting,
    so that an error stays one line."""
    logger = logging.getLogger("texin_async")
    logger.addHandler(_DEBUG_HANDLER if debug else _WAIT_HANDLER)
    logger.removeHandler(_WAIT_HANDLER if debug else _DEBUG_HANDLER)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)


def run_loop(work: Callable[..., Awaitable[_T]], *args: Any) -> _T:
    """``anyio.run(work, *args)``, where Ctrl-C always surfaces as KeyboardInterrupt.

    On Python 3.10 the runner cancels the main task on SIGINT but, lacking
    ``Task.uncancel``, lets the ``CancelledError`` out instead; at the top of the program
    a cancellation can only have come from the interrupt.
    """
    try:
        return anyio.run(work, *args)
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def run_async(settings: Settings, work: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``work`` in a fresh event loop; an SDK error exits with its code and one line."""
    try:
        return run_loop(work)
    except TexinError as exc:
        fail(settings, exc)


def report_error(settings: Settings, error: BaseException) -> int:
    """Report ``error`` on stderr (one line, or JSON with --json); its exit code."""
    if settings.debug:
        traceback.print_exception(error)
    secret = settings.api_key
    if settings.json:
        document = error_document(error, secret=secret)
        print(_json.dumps(document, ensure_ascii=False), file=sys.stderr)
    else:
        print(one_line(error, secret=secret), file=sys.stderr)
    return exit_code_for(error)


def fail(settings: Settings, error: BaseException) -> NoReturn:
    """Report ``error`` and exit with the code :func:`exit_code_for` gives it."""
    raise typer.Exit(report_error(settings, error))


def print_json(value: Any) -> None:
    """Print one JSON document on stdout: Structs, Decimals and datetimes included."""
    encoded = msgspec.json.encode(value, enc_hook=str)
    sys.stdout.write(msgspec.json.format(encoded, indent=2).decode() + "\n")
    sys.stdout.flush()


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``: the count and the noun, agreeing."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def agree(count: int, one: str, many: str) -> str:
    """The word that agrees with ``count``: ``agree(1, "was", "were")`` is ``was``."""
    return one if count == 1 else many


def balance_text(balance: Decimal | None) -> str:
    """``86 credits``, or ``unknown`` when the API's answer held no usable amount.

    The reader takes NaN, infinities and absurd amounts (``1e999999999``) as None, so a
    balance is never printed as "None" or as a billion digits.
    """
    if balance is None:
        return "unknown (the API's answer held no usable amount)"
    return f"{balance} credits"


def money(amount: Decimal | float | int | str) -> str:
    """An amount in KES, always two decimals: ``KES 0.30``."""
    return f"KES {Decimal(str(amount)):,.2f}"


def some_rows(numbers: Sequence[int], count: int) -> str:
    """``row 4``, ``rows 3, 8 and 11``, ``rows 1, 2, 3, 4, 5 and 12 more``."""
    shown = [str(number) for number in numbers[:SHOWN_ROWS]]
    more = count - len(shown)
    if more > 0:
        shown.append(f"{more:,} more")
    if len(shown) == 1:
        return f"row {shown[0]}"
    return f"rows {', '.join(shown[:-1])} and {shown[-1]}"
