"""The SDK's logger, and the structured fields its records carry.

Every record of ``logging.getLogger("texin_async")`` that concerns a request, a key or a
hook carries its facts as ``extra=`` attributes named ``texin_<field>`` (``texin_endpoint``,
``texin_attempt``, ``texin_status``, ``texin_elapsed``, ``texin_key_id``,
``texin_priority``, ``texin_wait``...), so a JSON log formatter picks them up without
parsing messages. Values are numbers, short names and the key's ``key_id``: never a phone
number, a message text or the API key.
"""

from __future__ import annotations

import logging

__all__ = ["fields", "logger"]

logger = logging.getLogger("texin_async")


def fields(**values: object) -> dict[str, object]:
    """``extra=`` for a record: each value under its ``texin_`` name (None kept, so every
    record of a kind has the same attributes)."""
    return {f"texin_{name}": value for name, value in values.items()}
