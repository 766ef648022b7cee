"""Constants and helpers the tests share; fixtures live in conftest.py.

Tests import it by name (``from support import FAST``), as they do ``mock_api``: pytest
puts ``tests/`` on ``sys.path``. It imports only the standard library and texin_async, so
the crash tests' batch job (a subprocess that imports FAST) starts quickly.
"""

from __future__ import annotations

import socket

from texin_async import RateLimit, RetryPolicy

__all__ = ["EMULATOR_LIMIT", "FAST", "FOUR_A_SECOND", "LIMIT", "free_port"]

#: Retries 10 to 50 ms apart: quick, and a fault scheduled for one request has passed.
FAST = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0)
#: The documented 100 requests per 60 s scaled up for batches, on an emulator that allows
#: a little more (EMULATOR_LIMIT), so only the client's limiter sets the pace.
LIMIT = RateLimit(max_rate=300, time_period=1.0)
EMULATOR_LIMIT = "400/1"
#: A budget small enough to watch requests wait for it: 4 a second, no margin, no reserve,
#: on an emulator set to the same ``"4/1"``.
FOUR_A_SECOND = RateLimit(max_rate=4, time_period=1.0, margin=0.0, reserve=0)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
