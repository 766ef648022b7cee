"""Number formats, SMS units, bulk bookkeeping and gateway failures, as documented."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from texin_async.testing import DEFAULT_API_KEY, TexinEmulator, serve_in_thread

from ._support import LOCAL_NUMBER, NUMBER, Api, error_of

FAILING = "254799999999"


@pytest.fixture(scope="module")
def failing_server() -> Iterator[tuple[TexinEmulator, str]]:
    """An emulator whose gateway fails to deliver to FAILING."""
    emulator = TexinEmulator(failing_numbers=["0799999999"])
    with serve_in_thread(emulator) as url:
        yield emulator, url


@pytest.fixture
def failing(failing_server: tuple[TexinEmulator, str]) -> Iterator[tuple[TexinEmulator, Api]]:
    """The failing-gateway emulator, reset, and an Api on it."""
    emulator, url = failing_server
    emulator.reset()
    with httpx.Client(base_url=url) as client:
        yield emulator, Api(client, DEFAULT_API_KEY)


def test_a_07_number_is_sent_as_254(api: Api, texin_emulator: TexinEmulator) -> None:
    """07XXXXXXXX is converted to 2547XXXXXXXX, in the answer and the record."""
    assert api.send(recipient=LOCAL_NUMBER).json()["recipient"] == NUMBER
    assert texin_emulator.processed(DEFAULT_API_KEY) == {NUMBER: 1}


@pytest.mark.parametrize(
    "number",
    [
        "+254712345678",
        "254 712 345 678",
        "254112345678",
        "0112345678",
        "712345678",
        "25471234567",
        "2547123456789",
        "07123456789",
        "07l2345678",
        "\u0660712345678",
        "",
    ],
)
def test_send_sms_refuses_an_undocumented_number_form(
    api: Api, texin_emulator: TexinEmulator, number: str
) -> None:
    """Only 2547XXXXXXXX and 07XXXXXXXX are accepted: anything else is 400, not sent."""
    response = api.send(recipient=number)
    assert response.status_code == 400
    error_of(response)
    assert texin_emulator.processed(DEFAULT_API_KEY) == {}


@pytest.mark.parametrize(("length", "units"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_units_follow_160_then_153(api: Api, length: int, units: int) -> None:
    """One unit up to 160 characters, then one per 153 characters."""
    body = api.send(message="x" * length).json()
    assert (body["units_used"], body["new_balance"]) == (units, 10_000 - units)


def test_bulk_lists_invalid_numbers_and_sends_the_rest(
    api: Api, texin_emulator: TexinEmulator
) -> None:
    """Invalid numbers are listed as given; the valid ones are still sent."""
    body = api.bulk([LOCAL_NUMBER, "+254700000001", "12345"]).json()
    assert body["invalid_numbers"] == ["+254700000001", "12345"]
    assert body["statistics"]["invalid_numbers"] == 2
    assert list(body["message_ids"]) == [NUMBER]
    assert texin_emulator.processed(DEFAULT_API_KEY) == {NUMBER: 1}


def test_bulk_with_no_valid_number_gets_400(api: Api, texin_emulator: TexinEmulator) -> None:
    """A bulk send with no valid number at all is refused and nothing is charged."""
    response = api.bulk(["+254700000001", "0112345678"])
    assert response.status_code == 400
    error_of(response)
    assert texin_emulator.account(DEFAULT_API_KEY).balance == 10_000


def test_bulk_sends_a_repeated_number_each_time(api: Api, texin_emulator: TexinEmulator) -> None:
    """A number given twice is sent and charged twice, but keeps only its last message id."""
    body = api.bulk([LOCAL_NUMBER, NUMBER]).json()
    assert body["statistics"]["successful"] == 2
    assert texin_emulator.processed(DEFAULT_API_KEY) == {NUMBER: 2}
    assert body["new_balance"] == 9_998
    assert len(texin_emulator.messages) == 2
    assert body["message_ids"] == {NUMBER: list(texin_emulator.messages)[-1]}


def test_bulk_refuses_more_recipients_than_allowed(api: Api) -> None:
    """More than max_bulk_recipients numbers in one request is a 400."""
    response = api.bulk([NUMBER] * 1001)
    assert response.status_code == 400
    error_of(response)


def test_send_sms_to_a_failing_number_is_a_500_that_costs_nothing(
    failing: tuple[TexinEmulator, Api],
) -> None:
    """The gateway's failure is a documented 500 "Failed to send SMS"; nothing charged."""
    emulator, api = failing
    response = api.send(recipient=FAILING)
    assert response.status_code == 500
    body = error_of(response)
    assert body["message"] == "Failed to send SMS"
    assert body["error"].startswith("API Error: ")
    assert emulator.account(DEFAULT_API_KEY).balance == 10_000
    assert emulator.processed(DEFAULT_API_KEY) == {}


def test_bulk_lists_failed_recipients_by_number(failing: tuple[TexinEmulator, Api]) -> None:
    """A bulk send reports gateway failures in failed_recipients and charges only the rest."""
    emulator, api = failing
    body = api.bulk([NUMBER, "0799999999"]).json()
    assert list(body["failed_recipients"]) == [FAILING]
    assert isinstance(body["failed_recipients"][FAILING], str)
    assert (body["statistics"]["successful"], body["statistics"]["failed"]) == (1, 1)
    assert list(body["message_ids"]) == [NUMBER]
    assert body["new_balance"] == 9_999
    assert emulator.processed(DEFAULT_API_KEY) == {NUMBER: 1}


def test_failing_numbers_must_be_documented_forms() -> None:
    """A failing number the API could never accept is a mistake, caught at construction."""
    with pytest.raises(ValueError, match="failing number"):
        TexinEmulator(failing_numbers=["+254799999999"])
