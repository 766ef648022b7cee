"""A real redis-server on loopback for the Redis limiter's tests and the Celery example.

The session fixtures in conftest.py start one; tests that need their own call
:func:`redis_server` directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis


@contextlib.contextmanager
def redis_server(port: int) -> Iterator[str]:
    """Run redis-server on ``port`` without persistence until the block ends; yield its URL.

    Without the binary the test skips, unless ``CI`` is set: then it fails, so CI never
    passes by skipping the Redis tests.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed, and CI is set: not skipping")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ping = redis.Redis(port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                ping.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.02)
        ping.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
