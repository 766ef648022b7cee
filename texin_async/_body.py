"""Reading an answer's body within a byte cap, on either backend.

The API's largest real answer, a 1,000-number bulk send, is about 60 KB. A broken or hostile
server can stream gigabytes, or a few kilobytes of gzip that inflate to gigabytes; read
whole, either would take the process's memory. So a body whose declared length is over the
cap is not read at all, and reading stops as soon as what arrived (inflated) passes the
cap: memory stays near the cap whatever the server sends. ``None`` means "over the cap";
the transport then drops the connection, and the reader calls the answer unusable.

httpx inflates each network chunk whole, so an httpx body is inflated here instead, with
zlib's ``max_length`` bounding every step; aiohttp already inflates in bounded steps.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ACCEPT_ENCODING", "read_aiohttp", "read_httpx"]

#: The codings requested (and inflated within the cap); a server sending others gets an
#: unusable answer rather than an unbounded decoder.
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
_IDENTITY = ("", "identity")


async def read_httpx(response: httpx.Response, cap: int) -> bytes | None:
    """The body of a streamed httpx response, inflated; None once it passes ``cap`` bytes.

    Raises:
        httpx.DecodingError: A coding other than gzip or deflate, or a corrupt one.
    """
    if _declared_over(response.headers.get("Content-Length"), cap):
        return None
    if response.is_stream_consumed:  # built in memory (httpx.MockTransport): read already
        return response.content if len(response.content) <= cap else None
    inflate = _Inflater.for_coding(response.headers.get("Content-Encoding"))
    parts: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        part = raw if inflate is None else inflate(raw, cap - size + 1)
        size += len(part)
        if size > cap:
            return None
        parts.append(part)
    return b"".join(parts)


async def read_aiohttp(response: aiohttp.ClientResponse, cap: int) -> bytes | None:
    """The body of an aiohttp response, inflated; None (connection closed) past ``cap``."""
    length = response.content_length
    if length is not None and length > cap:
        response.close()
        return None
    if length is not None and response.headers.get("Content-Encoding", "") in _IDENTITY:
        return await response.read()  # the parser stops at Content-Length: within the cap
    parts: list[bytes] = []
    size = 0
    while part := await response.content.readany():
        size += len(part)
        if size > cap:
            response.close()
            return None
        parts.append(part)
    return b"".join(parts)


def _declared_over(length: str | None, cap: int) -> bool:
    """Whether a Content-Length header declares more than ``cap`` bytes."""
    return length is not None and length.isdigit() and (len(length) > 18 or int(length) > cap)


class _Inflater:
    """Inflates a gzip or deflate body a chunk at a time, never more than asked per chunk."""

    __slots__ = ("_zlib",)

    def __init__(self, wbits: int) -> None:
        self._zlib = zlib.decompressobj(wbits)

    @classmethod
    def for_coding(cls, coding: str | None) -> _Inflater | None:
        """The inflater for a Content-Encoding; None for identity.

        Raises:
            httpx.DecodingError: A coding this reader does not inflate.
        """
        name = (coding or "").strip().lower()
        if name in _IDENTITY:
            return None
        if name not in _WBITS:
            raise httpx.DecodingError(f"unsupported Content-Encoding {name[:40]!r}")
        return cls(_WBITS[name])

    def __call__(self, data: bytes, limit: int) -> bytes:
        """At most ``limit`` bytes inflated from ``data`` (exactly ``limit`` if it holds more).

        Raises:
            httpx.DecodingError: The data is not valid for its coding.
        """
        try:
            return self._zlib.decompress(data, limit)
        except zlib.error as exc:
            raise httpx.DecodingError(f"corrupt compressed body ({exc})") from None
