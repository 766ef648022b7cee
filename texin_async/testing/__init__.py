"""An instrumented emulator of the Texin SMS API, for tests (work in progress)."""

from __future__ import annotations

__all__: list[str] = []
