"""The documented rules of the real service: number formats, SMS units, cost, timestamps.

Deliberately strict: the emulator accepts exactly what the API documentation promises and
nothing more, so an SDK that relies on undocumented leniency fails here, not in production.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal

__all__ = [
    "COST_PER_UNIT",
    "NUMBER_FORMATS",
    "format_cost",
    "format_time",
    "money",
    "normalise_number",
    "units_for",
]

#: KES per SMS unit, as ``get_balance`` reports it.
COST_PER_UNIT = Decimal("0.30")
NUMBER_FORMATS = "2547XXXXXXXX (12 digits) or 07XXXXXXXX (10 digits)"

# The two documented forms, ASCII digits only; anything else (spaces, "+", 2541..., 01...)
# is refused, as the doc promises nothing about it.
_NUMBER = re.compile(r"(?:2547|07)[0-9]{8}")
_SINGLE_SMS = 160
_CONCATENATED_PART = 153


def normalise_number(number: object) -> str | None:
    """Return ``2547XXXXXXXX`` for a documented number form, None for anything else."""
    if not isinstance(number, str) or not _NUMBER.fullmatch(number):
        return None
    return "254" + number[1:] if number.startswith("07") else number


def units_for(text: str) -> int:
    """SMS units of a message: one up to 160 characters, then one per 153."""
    if len(text) <= _SINGLE_SMS:
        return 1
    return math.ceil(len(text) / _CONCATENATED_PART)


def money(units: int) -> float:
    """Cost of ``units`` as the JSON number the send endpoints give (``0.9``, not 0.899…)."""
    return float(COST_PER_UNIT * units)


def format_cost(units: int) -> str:
    """Cost of ``units`` with two decimals (``"0.30"``), as ``check_status`` gives it."""
    return f"{COST_PER_UNIT * units:.2f}"


def format_time(moment: datetime) -> str:
    """The API's timestamp form, ``YYYY-MM-DD HH:MM:SS`` in server-local time."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")
