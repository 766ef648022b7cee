"""The ``texin`` Typer app: global options and the one-request commands.

``batch`` and ``demo`` live in their own modules and are registered here; :func:`run` is
what :func:`texin_async._cli.main` calls once typer and rich are known to be importable.
"""

from __future__ import annotations

import json as _json
import sys
import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from .._config import DEFAULT_RATE_LIMIT, RateLimit
from .._models import Balance, MessageStatus, SMSResult
from .._version import __version__
from ._batch import batch
from ._common import (
    DebugOption,
    JsonOption,
    Settings,
    balance_text,
    configure_logging,
    money,
    plural,
    print_json,
    report_error,
    run_async,
    settings_of,
    stdout,
)
from ._demo import demo
from ._errors import EXIT_CODES_HELP, EXIT_USAGE, Interrupted

try:  # typer >= 0.22 vendors click; older releases use click itself.
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[assignment]

__all__ = ["app", "run"]

app = typer.Typer(
    name="texin",
    help="Send SMS through the Texin API from your shell. "
    "New here? `texin demo` runs a whole batch against a local emulator, no key needed.",
    epilog="\b\n" + EXIT_CODES_HELP,  # \b: keep the table's lines as they are
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _rate_limit(spec: str) -> RateLimit:
    """``--rate-limit N/SECONDS`` as a RateLimit; a bad one is a usage error."""
    try:
        return RateLimit.parse(spec)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _show_version(value: bool) -> None:
    """``--version``: print ``texin <version>`` and exit before any command runs."""
    if value:
        print(f"texin {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="TEXIN_API_KEY",
            metavar="KEY",
            show_default=False,
            help="Your API key; prefer the TEXIN_API_KEY variable, which stays out of your "
            "shell history. Never printed.",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="TEXIN_BASE_URL", metavar="URL", show_default=False, help="The API root URL."
        ),
    ] = None,
    rate_limit: Annotated[
        str,
        typer.Option(
            envvar="TEXIN_RATE_LIMIT",
            metavar="N/SECONDS",
            help="Requests per seconds allowed for your key; raise it only if the provider "
            "raised yours.",
        ),
    ] = f"{DEFAULT_RATE_LIMIT.max_rate}/{DEFAULT_RATE_LIMIT.time_period:g}",
    allow_insecure_http: Annotated[
        bool,
        typer.Option(
            "--allow-insecure-http",
            help="Allow plain http to a host other than this machine: the key travels unencrypted.",
        ),
    ] = False,
    json: JsonOption = False,
    debug: DebugOption = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    configure_logging(debug)
    ctx.obj = Settings(
        api_key=api_key,
        base_url=base_url,
        rate_limit=_rate_limit(rate_limit),
        allow_insecure_http=allow_insecure_http,
        json=json,
        debug=debug,
    )


@app.command()
def info(ctx: typer.Context, json: JsonOption = False, debug: DebugOption = False) -> None:
    """Show the API's name, version and endpoints (no key needed)."""
    settings = settings_of(ctx, json, debug)

    async def work() -> Any:
        async with settings.client(needs_key=False) as client:
            return await client.api_info()

    result = run_async(settings, work)
    if settings.json:
        print_json(result)
        return
    stdout.print(f"{result.name or 'Texin SMS API'} {result.version or ''}".rstrip())
    for name, route in result.endpoints.items():
        stdout.print(f"  {name:<16} {route}")


@app.command()
def ping(ctx: typer.Context, json: JsonOption = False, debug: DebugOption = False) -> None:
    """Check that the API answers (no key needed)."""
    settings = settings_of(ctx, json, debug)

    async def work() -> tuple[Any, float]:
        async with settings.client(needs_key=False) as client:
            started = time.perf_counter()
            answer = await client.test_connection()
            return answer, time.perf_counter() - started

    answer, seconds = run_async(settings, work)
    if settings.json:
        print_json({"success": answer.success, "message": answer.message, "seconds": seconds})
        return
    stdout.print(f"{answer.message or 'API reachable'} ({seconds * 1000:.0f} ms)")


@app.command()
def balance(ctx: typer.Context, json: JsonOption = False, debug: DebugOption = False) -> None:
    """Show your credits and account details."""
    settings = settings_of(ctx, json, debug)

    async def work() -> Balance:
        async with settings.client() as client:
            return await client.get_balance()

    result = run_async(settings, work)
    if settings.json:
        print_json(result)
        return
    stdout.print(f"Balance: {balance_text(result.sms_balance)}")
    if result.sms_balance is not None and result.sms_cost_per_unit is not None:
        worth = result.sms_balance * result.sms_cost_per_unit
        stdout.print(f"Worth:   {money(worth)} at {money(result.sms_cost_per_unit)} per unit")
    if result.username:
        stdout.print(f"Account: {result.username} <{result.email or '-'}>")
    if result.default_sender_id:
        stdout.print(f"Sender:  {result.default_sender_id} (default)")


@app.command()
def send(
    ctx: typer.Context,
    recipient: Annotated[
        str, typer.Argument(metavar="RECIPIENT", help="07XXXXXXXX or 2547XXXXXXXX.")
    ],
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The message.")],
    sender_id: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Sender id; your account's default if not given."),
    ] = None,
    json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Send one SMS; prints its message id."""
    settings = settings_of(ctx, json, debug)

    async def work() -> SMSResult:
        async with settings.client() as client:
            return await client.send_sms(recipient, text, sender_id=sender_id)

    result = run_async(settings, work)
    if settings.json:
        print_json(result)
        return
    sent_as = result.message_id or "none given: the API confirmed the send without one"
    stdout.print(f"Sent to {result.recipient or recipient}: message id {sent_as}")
    units = plural(result.units_used, "unit") if result.units_used is not None else "sent"
    cost = f", {money(result.cost)}" if result.cost is not None else ""
    left = f", {result.new_balance} credits left" if result.new_balance is not None else ""
    stdout.print(f"{units}{cost}{left}")


@app.command()
def status(
    ctx: typer.Context,
    message_id: Annotated[
        str, typer.Argument(metavar="MESSAGE_ID", help="The id `texin send` printed.")
    ],
    json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Show where a sent message stands."""
    settings = settings_of(ctx, json, debug)

    async def work() -> MessageStatus:
        async with settings.client() as client:
            return await client.check_status(message_id)

    result = run_async(settings, work)
    if settings.json:
        print_json(result)
        return
    table = Table.grid(padding=(0, 2))
    rows = {
        "Message": result.message_id,
        "Status": result.status,
        "Recipient": result.recipient,
        "Sender": result.sender_id,
        "Units": result.units_used,
        "Cost": None if result.cost is None else money(result.cost),
        "Created": result.created_at,
        "Sent": result.sent_at,
        "Delivered": result.delivered_at,
        "Error": result.error_message,
        "Preview": result.message_preview,
    }
    for label, value in rows.items():
        if value is not None:
            table.add_row(label, str(value))
    stdout.print(table)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def emulator(ctx: typer.Context) -> None:
    """Serve the Texin emulator for tests and demos (`texin emulator --help` for options)."""
    from ..testing._cli import main as serve_emulator

    try:
        code = serve_emulator(list(ctx.args), prog="texin emulator")
    except SystemExit as exc:  # argparse exits after --help and on a usage error
        code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
    raise typer.Exit(code)


app.command()(batch)
app.command()(demo)


def run(argv: Sequence[str]) -> int:
    """Run the app on ``argv`` and return the exit code; usage errors are one line too."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=list(argv), prog_name="texin", standalone_mode=False)
    except ClickException as exc:
        return _usage_error(exc, json="--json" in argv)
    except (KeyboardInterrupt, typer.Abort):
        settings = Settings(api_key=None, base_url=None, json="--json" in argv)
        return report_error(settings, Interrupted("interrupted"))
    return result if isinstance(result, int) else 0


def _usage_error(error: ClickException, *, json: bool) -> int:
    """A usage error as one line pointing at --help (or as the JSON error object)."""
    ctx = getattr(error, "ctx", None)  # Usage errors know their command; others do not.
    where = f"{ctx.command_path} " if ctx is not None else "texin "
    code = error.exit_code if error.exit_code else EXIT_USAGE
    message, hint = error.format_message(), f"see: {where}--help"
    if json:
        document = {
            "error": {"type": "UsageError", "message": message, "exit_code": code, "hint": hint}
        }
        print(_json.dumps(document, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"texin: error: {message} ({hint})", file=sys.stderr)
    return code
