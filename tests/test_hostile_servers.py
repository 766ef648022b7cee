"""Hostile servers on loopback, on both backends: every answer, however odd, slow or large,
ends as a result or a TexinError with the right ``maybe_sent``, within the attempt's
deadline, with memory near the answer cap, and the connection dropped, not held.
"""

from __future__ import annotations

import pytest
from hostile_server import JSON, answer, hostile_server, whole

from texin_async import (
    BadRequestError,
    Message,
    RetryPolicy,
    TexinClient,
)
from texin_async._transport import TransportChoice

pytestmark = pytest.mark.anyio

ONCE = RetryPolicy(attempts=1)
KEY = "texin-hostile-key"


@pytest.fixture(params=[pytest.param(None, id="httpx"), pytest.param("aiohttp", id="aiohttp")])
def backend(request: pytest.FixtureRequest) -> TransportChoice:
    """Each test runs on the default httpx backend and on native aiohttp."""
    choice: TransportChoice = request.param
    return choice


def client(url: str, backend: TransportChoice, **kw: object) -> TexinClient:
    """A client of the hostile server: one attempt, short timeouts, no client-side limit."""
    kw.setdefault("timeout", 0.2)
    return TexinClient(KEY, base_url=url, transport=backend, retry=ONCE, rate_limit=None, **kw)  # type: ignore[arg-type]


# -- refusals with numbers JSON allows and floats do not -------------------------------------

OUT_OF_RANGE = answer("400 Bad Request", b'{"success": false, "message": "x", "n": 1e400}', JSON)


async def test_a_refusal_with_1e400_is_a_bad_request_not_sent(backend: TransportChoice) -> None:
    """400 with an out-of-range number in its JSON: BadRequestError, maybe_sent False."""
    async with hostile_server(whole(OUT_OF_RANGE)) as server, client(server.url, backend) as texin:
        with pytest.raises(BadRequestError) as caught:
            await texin.send_sms("0712345678", "hi")
    assert caught.value.maybe_sent is False


async def test_a_refusal_with_1e400_fails_a_batch_item_never_unknown(
    backend: TransportChoice,
) -> None:
    """The same refusal in a batch, bulk and single: every item FAILED, none UNKNOWN."""
    batch = [Message("0712345678", "one"), Message("0722345678", "one"), Message("0732345678", "2")]
    async with hostile_server(whole(OUT_OF_RANGE)) as server, client(server.url, backend) as texin:
        report = await texin.send_batch(batch)
    assert (report.failed, report.unknown) == (3, 0)
    assert len(server.requests) == 2
