"""The API key, and the request body that carries it: held so that they are never shown.

The key travels only in request bodies. Nothing the SDK keeps shows it:

- :class:`Secret` and :class:`RequestBody` have redacted reprs, so a traceback's captured
  locals, a debugger or an error tracker sees ``<secret>``; a raw key is never a local of
  a frame that raises (:func:`secret_key` reports a bad key instead of raising);
- an answer that echoes the key (a server or proxy quoting the request) has it cut out
  before anything of it is read (:meth:`Secret.scrub_bytes`);
- an error out of the request path is cleansed (:meth:`Secret.cleanse`): the frames below,
  whose locals held the body, are cleared, and the key is cut from every text of every
  exception in its chain (a transport's parser error may quote the bytes it choked on).

Keys shorter than six characters (test keys such as ``"k"``) are not looked for in texts:
cutting them out would mangle ordinary words. Every real key is far longer.
"""

from __future__ import annotations

import inspect
import json
import traceback
import urllib.parse
from typing import Any

__all__ = ["REDACTED", "RequestBody", "Secret", "secret_key"]

#: What stands where an echoed key was.
REDACTED = "<api key>"
_MIN_SCRUBBED_LENGTH = 6


class Secret:
    """The API key; ``value`` for the request body, never in a repr."""

    __slots__ = ("_forms", "_raw_forms", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        forms: set[str] = set()
        if len(value) >= _MIN_SCRUBBED_LENGTH:
            # The key as it may come back: raw, JSON-escaped (and with PHP's escaped
            # slashes), percent-encoded in a URL.
            escaped = json.dumps(value)[1:-1]
            quoted = (urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value))
            forms = {value, escaped, escaped.replace("/", "\\/"), *quoted}
        self._forms = tuple(sorted(forms, key=len, reverse=True))
        self._raw_forms = tuple(form.encode() for form in self._forms)

    def __repr__(self) -> str:
        return "<secret>"

    def in_bytes(self, content: bytes) -> bool:
        """Whether ``content`` (an answer) holds the key in any form."""
        return any(form in content for form in self._raw_forms)

    def in_text(self, *texts: str | None) -> bool:
        """Whether any of ``texts`` holds the key in any form."""
        return any(form in text for text in texts if text for form in self._forms)

    def scrub_bytes(self, content: bytes) -> bytes:
        """``content`` with every form of the key replaced (JSON stays JSON)."""
        for form in self._raw_forms:
            content = content.replace(form, REDACTED.encode())
        return content

    def scrub(self, value: Any) -> Any:
        """``value`` (a string, bytes, or JSON-like dicts and lists of them) without the key."""
        if isinstance(value, str):
            for form in self._forms:
                value = value.replace(form, REDACTED)
            return value
        if isinstance(value, bytes | bytearray):
            return self.scrub_bytes(bytes(value))
        if type(value) is dict:
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if type(value) in (list, tuple):  # not a named tuple: it could not be rebuilt so
            return type(value)(self.scrub(item) for item in value)
        return value

    def cleanse(self, error: BaseException) -> None:
        """Make ``error`` and every exception chained to it safe to show and to keep.

        The finished frames of their tracebacks are cleared (a transport's frames held the
        request body as locals), and the key is cut from their args and their string
        attributes (``message``, ``body``...).
        """
        seen: set[int] = set()
        pending: list[BaseException | None] = [error]
        while pending:
            exc = pending.pop()
            if exc is None or id(exc) in seen:
                continue
            seen.add(id(exc))
            frames = exc.__traceback__
            if frames is not None and frames.tb_frame.f_code.co_flags & _RESUMABLE:
                # The coroutine or generator that caught it may be suspended in another task,
                # and clearing a suspended frame finalises it; those it left have finished.
                frames = frames.tb_next
            traceback.clear_frames(frames)  # the running frames stay as they are
            if self._forms and self._shows(exc):
                self._scrub_exception(exc)
            pending += [exc.__cause__, exc.__context__]

    def _shows(self, exc: BaseException) -> bool:
        try:
            shown = f"{exc!s} {exc.args!r} {getattr(exc, '__dict__', '')!r}"
        except Exception:  # a foreign exception's broken __str__
            return True
        return any(form in shown for form in self._forms)

    def _scrub_exception(self, exc: BaseException) -> None:
        """Cut the key from ``exc``'s args and attributes; what still shows it (an object
        of a foreign kind quoting it) is withheld altogether."""
        exc.args = self.scrub(exc.args)
        attributes = getattr(exc, "__dict__", {})
        for name, value in list(attributes.items()):
            attributes[name] = self.scrub(value)
        if self._shows(exc):
            exc.args = (_WITHHELD,)
            for name, value in list(attributes.items()):
                if self.in_text(repr(value)):
                    attributes[name] = _WITHHELD


_RESUMABLE = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
)
_WITHHELD = "(text withheld: it quoted the API key)"


def secret_key(given: object) -> Secret | str:
    """The key held as a :class:`Secret`, or what is wrong with it.

    It returns the problem rather than raising it, so that the caller can drop its own
    reference to the raw key first: no frame of the traceback then shows it.
    """
    if isinstance(given, Secret):
        return given
    if not isinstance(given, str) or not given.strip():
        kind = type(given).__name__
        return f"no usable API key (got {kind}): pass api_key= or set TEXIN_API_KEY"
    try:
        given.encode()
    except UnicodeEncodeError:
        return "the API key holds a lone surrogate, which UTF-8 cannot encode"
    return Secret(given)


class RequestBody:
    """An encoded request body and the key it holds: bytes for the transport, the key to
    cleanse its errors with, and a redacted repr for anyone looking at a frame's locals."""

    __slots__ = ("data", "secret")

    def __init__(self, data: bytes, secret: Secret) -> None:
        self.data, self.secret = data, secret

    def __repr__(self) -> str:
        return f"<request body: {len(self.data)} bytes, not shown: it holds the API key>"
