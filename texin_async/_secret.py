"""The API key, and the request body that carries it: held so that they are never shown.

The key travels only in request bodies. Nothing the SDK keeps shows it: :class:`Secret`
and :class:`RequestBody` have redacted reprs (so a traceback's captured locals, a debugger
or an error tracker sees ``<secret>``), and a server or proxy that echoes the request body
in its answer has the key scrubbed out of everything read from that answer before it is
stored or shown (:meth:`Secret.scrub`).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["REDACTED", "RequestBody", "Secret"]

#: What stands where an echoed key was.
REDACTED = "<api key>"
# Shorter keys are test keys ("k"): scrubbing them would mangle ordinary answers.
_SCRUBBED_FROM = 6


class Secret:
    """The API key; ``value`` for the request body, never in a repr."""

    __slots__ = ("_variants", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        # The key as it may come back: raw, JSON-escaped, and with PHP's escaped slashes.
        escaped = json.dumps(value)[1:-1]
        variants = (
            {value, escaped, escaped.replace("/", "\\/")} if len(value) >= _SCRUBBED_FROM else set()
        )
        self._variants = tuple(sorted(variants, key=len, reverse=True))

    def __repr__(self) -> str:
        return "<secret>"

    def in_bytes(self, content: bytes) -> bool:
        """Whether ``content`` (an answer) holds the key in any form."""
        return any(variant.encode() in content for variant in self._variants)

    def scrub_bytes(self, content: bytes) -> bytes:
        """``content`` with every form of the key replaced (JSON stays JSON)."""
        for variant in self._variants:
            content = content.replace(variant.encode(), REDACTED.encode())
        return content

    def scrub(self, value: Any) -> Any:
        """``value`` (a string, or JSON made of dicts, lists and strings) without the key."""
        if isinstance(value, str):
            for variant in self._variants:
                value = value.replace(variant, REDACTED)
            return value
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return value


class RequestBody:
    """An encoded request body (it holds the key): bytes for the transport, a redacted repr
    for anyone looking at a frame's locals."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<request body: {len(self.data)} bytes, not shown: it holds the API key>"
