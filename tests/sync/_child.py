"""Programs the sync client's process tests run in a child interpreter.

``python _child.py interrupt URL KEY``: a send the emulator answers slowly; the parent sends
SIGINT. On the interrupt, a second send must go through (the first let go of its rate-limit
slot and its connection), then the interrupt goes on.

``python _child.py batch URL KEY JOURNAL``: a journaled batch interrupted while one send
waits on a slow answer.

``python _child.py exit URL KEY``: clients left open (one unused, one on a host name) when the
interpreter exits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from texin_async import SyncTexinClient


def interrupt(url: str, key: str) -> None:
    """Block in a slow send until interrupted; then prove nothing is held, and re-raise."""
    # One connection and one request per 0.5 s: a leaked slot or connection blocks the resend.
    client = SyncTexinClient(key, base_url=url, rate_limit="1/0.5", max_connections=1)
    print("sending", flush=True)
    try:
        client.send_sms("0712345678", "slow")
    except KeyboardInterrupt:
        client.send_sms("0712345679", "again")
        print("sent again", flush=True)
        raise


def interrupt_batch(url: str, key: str, journal: str) -> None:
    """Run a journaled batch of three texts, one answered slowly, until interrupted."""
    client = SyncTexinClient(key, base_url=url)
    client.send_batch(BATCH, journal=journal)


#: Three texts, so three send_sms requests.
BATCH = [("0712345671", "One"), ("0712345672", "Two"), ("0712345673", "Three")]


def leave_open(url: str, key: str) -> None:
    """Send on two clients, open a third, close none of them."""
    used = SyncTexinClient(key, base_url=url)
    used.send_sms("0712345678", "Hi")
    by_name = SyncTexinClient(key, base_url=url.replace("127.0.0.1", "localhost"))
    by_name.get_balance()  # a host name: the loop resolves it in its default executor
    SyncTexinClient(key, base_url=url)
    print("leaving", flush=True)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    programs: dict[str, Callable[..., None]] = {
        "interrupt": interrupt,
        "batch": interrupt_batch,
        "exit": leave_open,
    }
    programs[command](*args)
