"""An instrumented emulator of the Texin SMS API v2.0.1, for tests: moto for Texin.

Faithful to the API documentation, strict where the real service is strict, able to inject
the faults real networks produce, and recording what it did::

    from texin_async.testing import DEFAULT_API_KEY, Fault, TexinEmulator, serve

    emulator = TexinEmulator(rate_limit="20/2")
    emulator.faults.schedule(Fault.DROP_AFTER, endpoint="send_sms")
    async with serve(emulator) as base_url:  # "http://127.0.0.1:PORT/api/"
        ...
    assert emulator.processed(DEFAULT_API_KEY)["254712345678"] == 1

Serving needs the ``testing`` extra (uvicorn); the emulator itself runs in process with
``httpx.ASGITransport(app=emulator)``. ``python -m texin_async.testing`` serves one from the
command line, and the ``texin_emulator`` pytest fixture serves one per test session.
"""

from __future__ import annotations

from types import FunctionType

from ._emulator import TexinEmulator
from ._faults import Fault, FaultPlan
from ._records import DEFAULT_API_KEY, Account, FaultEvent, MessageRecord
from ._server import serve, serve_in_thread

__all__ = [
    "DEFAULT_API_KEY",
    "Account",
    "Fault",
    "FaultEvent",
    "FaultPlan",
    "MessageRecord",
    "TexinEmulator",
    "serve",
    "serve_in_thread",
]

# Present public names as texin_async.testing.X, not texin_async.testing._module.X.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type | FunctionType) and _obj.__module__.startswith(__name__ + "._"):
        _obj.__module__ = __name__
del _name, _obj
