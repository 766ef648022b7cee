"""``python -m texin_async.testing``: serve an emulator until SIGINT or SIGTERM.

The base URL is the first line on stdout, so scripts can read it and start talking; people
read stderr, which says how to try it. The port is 8001 unless given (``--port 0`` picks a
free one), so an app on the usual 8000 can talk to it::

    $ python -m texin_async.testing --port 0 --account demo-key:500 --faults drop_after=0.05
    http://127.0.0.1:40123/api/
    $ curl -X POST http://127.0.0.1:40123/api/get_balance -d '{"api_key":"demo-key"}'
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import sys
from collections.abc import Callable

from ._dialect import DIALECTS
from ._emulator import TexinEmulator
from ._faults import parse_fault_rates
from ._records import DEFAULT_API_KEY, Account
from ._server import serve

__all__ = ["DEFAULT_PORT", "banner", "build_parser", "emulator_from_args", "main", "parse_account"]

#: The port served when none is given: README's examples run their apps on 8000.
DEFAULT_PORT = 8001
_NO_LIMIT = ("none", "off", "unlimited")


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), serve until signalled, return the exit code.

    ``prog`` names the command in usage and errors, for a command line that embeds this one.
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        emulator = emulator_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(_serve_until_signalled(emulator, args))
    except OSError as exc:  # A port in use, an unreadable certificate (ssl.SSLError too).
        print(f"{parser.prog}: error: {_os_error(exc, args)}", file=sys.stderr)
        return 1
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line's options, for reuse by other command lines."""
    parser = argparse.ArgumentParser(
        prog=prog or "python -m texin_async.testing",
        description="Serve an emulator of the Texin SMS API v2.0.1 for tests. "
        "Prints the base URL as the first line on stdout, then on stderr the key to use "
        "and a request to try.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: loopback)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default: {DEFAULT_PORT}); 0 picks a free port",
    )
    parser.add_argument(
        "--rate-limit", default="100/60", help="requests/seconds per API key, or 'none'"
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="KEY[:BALANCE[:sim]]",
        help=f"an account to serve (repeatable; default: one with key {DEFAULT_API_KEY!r})",
    )
    parser.add_argument(
        "--key-prefix",
        metavar="PREFIX",
        help="also serve any key that starts with PREFIX, each an account of its own (for "
        "load tests with many accounts)",
    )
    parser.add_argument(
        "--faults", default="", metavar="SPEC", help="rates, like 'drop_after=0.05,html_502=0.02'"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    parser.add_argument(
        "--failing-number",
        action="append",
        default=[],
        metavar="NUMBER",
        help="a number the simulated gateway fails to deliver to (repeatable)",
    )
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of slow_after")
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="documented",
        help="how answers are written: as the documentation's examples (default), or as a "
        "PHP backend on MySQL plausibly would: 0/1 booleans, numbers as strings, [] for an "
        "empty map, GET /api/'s endpoints as a list",
    )
    parser.add_argument("--tls-cert", help="PEM certificate (chain): serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key, if not in --tls-cert")
    return parser


def emulator_from_args(args: argparse.Namespace) -> TexinEmulator:
    """The emulator the parsed options describe.

    Raises:
        ValueError: an option's value is malformed; the message says which and how.
    """
    if args.tls_key and not args.tls_cert:
        raise ValueError("--tls-key needs --tls-cert")
    accounts = [parse_account(spec) for spec in args.account] or None
    limit = None if args.rate_limit.lower() in _NO_LIMIT else args.rate_limit
    return TexinEmulator(
        accounts,
        rate_limit=limit,
        faults=parse_fault_rates(args.faults),
        seed=args.seed,
        failing_numbers=args.failing_number,
        slow_seconds=args.slow_seconds,
        dialect=args.dialect,
        key_prefix=args.key_prefix,
    )


def parse_account(spec: str) -> Account:
    """Read ``KEY[:BALANCE[:sim]]``: ``"demo:500:sim"`` is a 500-credit simulation account.

    Raises:
        ValueError: an empty key, a balance that is not an integer, or a third part not "sim".
    """
    key, _, rest = spec.partition(":")
    balance, _, mode = rest.partition(":")
    if not key or mode not in ("", "sim"):
        raise ValueError("--account must look like KEY, KEY:BALANCE or KEY:BALANCE:sim")
    try:
        credits = int(balance) if balance else Account.balance
    except ValueError:
        raise ValueError("--account balance must be an integer, as in KEY:500") from None
    return Account(api_key=key, balance=credits, simulation=mode == "sim")


async def _serve_until_signalled(emulator: TexinEmulator, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    _on_stop_signals(asyncio.get_running_loop(), stop.set)
    async with serve(
        emulator, host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key
    ) as url:
        print(url, flush=True)
        print(banner(url, len(args.account)), file=sys.stderr, flush=True)
        await stop.wait()


def banner(url: str, given_accounts: int) -> str:
    """What stderr shows once serving: where, with which key, and a request to try.

    With no ``--account`` (``given_accounts`` 0) the default account's well-known test key
    is shown; otherwise only how many accounts were given, never their keys.
    """
    if given_accounts:
        noun = "account" if given_accounts == 1 else "accounts"
        key, who = "KEY", f"Serving {given_accounts} {noun} given with --account"
    else:
        key, who = DEFAULT_API_KEY, f"API key: {DEFAULT_API_KEY}"
    try_it = f"""curl -X POST {url}get_balance -d '{{"api_key": "{key}"}}'"""
    return f"Texin emulator at {url} (Ctrl-C to stop)\n{who}\nTry: {try_it}"


def _os_error(exc: OSError, args: argparse.Namespace) -> str:
    """One line for an error while starting: a port in use says how to get another."""
    if exc.errno != errno.EADDRINUSE:
        return str(exc)
    where = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
    return f"{where} is already in use; choose another --port (--port 0 picks a free one)"


def _on_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` on SIGINT or SIGTERM, so both stop the server cleanly (exit 0)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, callback)
        except NotImplementedError:  # Windows: no loop signal handlers.
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(callback))
