"""Decode of a 1000-recipient bulk response: SDK path vs bare msgspec vs json vs pydantic.

The documented shape takes the SDK's fast path (one msgspec decode into the Struct); the
same answer in the emulator's php dialect (numbers as strings, 0/1 booleans, ``[]`` for an
empty map) takes the lenient fallback, whose cost is measured beside it.
"""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec

from benchmarks._common import best_of, table
from texin_async import BulkSMSResult
from texin_async._endpoints import SEND_BULK_SMS
from texin_async._response import read_response
from texin_async._secret import Secret
from texin_async._transport import RawResponse
from texin_async.testing._dialect import rewrite


def bulk_answer(n: int = 1000) -> dict[str, object]:
    numbers = [f"2547{i:08d}" for i in range(n)]
    return {
        "success": True,
        "message": f"Bulk SMS sent: {n} successful, 0 failed",
        "statistics": {
            "total_attempted": n,
            "successful": n,
            "failed": 0,
            "invalid_numbers": 0,
        },
        "sender_id": "Texin",
        "units_used": n,
        "total_cost": round(n * 0.3, 2),
        "new_balance": 100000 - n,
        "message_ids": {num: f"API-{1768206118 + i}" for i, num in enumerate(numbers)},
        "invalid_numbers": [],
        "failed_recipients": {},
        "simulation_mode": False,
    }


def main() -> None:
    answer = bulk_answer()
    body = json.dumps(answer).encode()
    php = json.dumps(rewrite(answer, "php", endpoint="send_bulk_sms")).encode()
    headers = {"Content-Type": "application/json"}
    response, php_response = RawResponse(200, headers, body), RawResponse(200, headers, php)
    key = Secret("bench-key-123456")
    runs: dict[str, object] = {
        "json.loads (untyped dicts)": lambda: json.loads(body),
        "msgspec untyped": lambda: msgspec.json.decode(body),
        "msgspec Struct (bare)": lambda: msgspec.json.decode(body, type=BulkSMSResult),
        "SDK path, documented shape (fast)": lambda: read_response(response, SEND_BULK_SMS, key),
        "SDK path, php dialect (lenient)": lambda: read_response(php_response, SEND_BULK_SMS, key),
    }
    try:
        import pydantic

        class Stats(pydantic.BaseModel):
            total_attempted: int
            successful: int
            failed: int
            invalid_numbers: int

        class Bulk(pydantic.BaseModel):
            success: bool
            message: str
            statistics: Stats
            sender_id: str
            units_used: int
            total_cost: Decimal
            new_balance: Decimal
            message_ids: dict[str, str]
            invalid_numbers: list[str]
            failed_recipients: dict[str, str]
            simulation_mode: bool

        runs["pydantic v2 model_validate_json"] = lambda: Bulk.model_validate_json(body)
    except ImportError:
        pass
    timings = {name: best_of(fn, repeat=7, number=50) for name, fn in runs.items()}  # type: ignore[arg-type]
    base, bare = timings["json.loads (untyped dicts)"], timings["msgspec Struct (bare)"]
    rows = [
        (name, f"{t * 1e6:.0f}", f"{t / base:.2f}x", f"{t / bare:.2f}x")
        for name, t in timings.items()
    ]
    table(
        "Decode a 1000-recipient bulk answer",
        ["decoder", "µs per decode", "vs json.loads", "vs bare msgspec Struct"],
        rows,
    )


if __name__ == "__main__":
    main()
