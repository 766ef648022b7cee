"""Recipient normalisation: accepted forms, refusals and their messages, properties."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from texin_async._exceptions import InvalidRequestError
from texin_async._phone import normalize_recipient, try_normalize_recipient

CANONICAL = re.compile(r"254[17][0-9]{8}")

ACCEPTED = [
    ("0712345678", "254712345678"),
    ("0112345678", "254112345678"),
    ("254712345678", "254712345678"),
    ("254112345678", "254112345678"),
    ("+254712345678", "254712345678"),
    ("+254112345678", "254112345678"),
    ("712345678", "254712345678"),
    ("112345678", "254112345678"),
    ("+254 712-345 678", "254712345678"),
    ("0712 345 678", "254712345678"),
    ("0712-345-678", "254712345678"),
    ("254 712 345 678", "254712345678"),
    ("+254-112-345-678", "254112345678"),
    ("7 1 2 3 4 5 6 7 8", "254712345678"),
    ("0712345678\n", "254712345678"),
    ("  +254712345678\t", "254712345678"),
]

REJECTED = [
    "",
    "   ",
    "\n",
    "071234567",  # 9 digits after the trunk 0
    "07123456789",  # 11 digits
    "25471234567",
    "2547123456789",
    "71234567",
    "0812345678",  # not a mobile range
    "254212345678",
    "+255712345678",  # Tanzania
    "255712345678",
    "+1 712 345 678",
    "00254712345678",  # international prefix: refused, see the docstring
    "+0712345678",
    "2540712345678",  # trunk 0 kept after the country code
    "(0712) 345678",
    "0712.345.678",
    "0712  345678",  # two separators in a row
    "0712--345678",
    "-0712345678",
    "0712345678-",
    "07l2345678",  # letter l for digit 1
    "0712345678x",
    "phone: 0712345678",
    "\u0660\u0667\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic digits
    "\uff10\uff17\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # fullwidth digits
    "0712\u00a0345\u00a0678",  # no-break spaces
    "0" * 10_000,
]

NOT_STR: list[object] = [None, 254712345678, 712345678.0, b"0712345678", ["0712345678"], True]

# Every accepted way to write the 9-digit subscriber number ``s``.
FORMATS: list[Callable[[str], str]] = [
    lambda s: s,
    lambda s: "0" + s,
    lambda s: "254" + s,
    lambda s: "+254" + s,
    lambda s: f"+254 {s[:3]}-{s[3:6]} {s[6:]}",
    lambda s: f"0{s[:3]} {s[3:6]} {s[6:]}",
    lambda s: f"254-{s[:3]}-{s[3:6]}-{s[6:]}",
    lambda s: f" {s}\n",
]

subscribers = st.from_regex(r"[17][0-9]{8}", fullmatch=True)


@pytest.mark.parametrize(("given_", "expected"), ACCEPTED)
def test_accepted_forms_normalise_to_canonical(given_: str, expected: str) -> None:
    """Each documented input form yields the canonical 254 + 9-digit number."""
    assert normalize_recipient(given_) == expected


@pytest.mark.parametrize(("given_", "expected"), ACCEPTED)
def test_try_normalize_accepts_the_same_forms(given_: str, expected: str) -> None:
    """The non-raising variant returns the same canonical value."""
    assert try_normalize_recipient(given_) == expected


@pytest.mark.parametrize("bad", REJECTED + NOT_STR)
def test_rejected_input_raises_invalid_request_error(bad: object) -> None:
    """Refused input raises InvalidRequestError, which is also a ValueError."""
    with pytest.raises(InvalidRequestError) as info:
        normalize_recipient(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [b for b in REJECTED + NOT_STR if len(repr(b)) <= 64])
def test_error_message_names_the_value_and_accepted_forms(bad: object) -> None:
    """The message shows the value as given (its repr) and the accepted forms."""
    with pytest.raises(InvalidRequestError) as info:
        normalize_recipient(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)
    assert "07XXXXXXXX" in str(info.value)
    assert "2547XXXXXXXX" in str(info.value)


def test_error_message_for_non_str_names_the_type() -> None:
    """A non-str is reported with its type, so an int from a spreadsheet is obvious."""
    with pytest.raises(InvalidRequestError, match=r"must be a str, got int 254712345678"):
        normalize_recipient(254712345678)  # type: ignore[arg-type]


def test_error_message_truncates_huge_values() -> None:
    """A huge value is cut in the message, so one bad cell cannot flood the logs."""
    with pytest.raises(InvalidRequestError) as info:
        normalize_recipient("7" * 10_000)
    assert str(info.value).startswith("invalid recipient '7777")
    assert len(str(info.value)) < 400


@pytest.mark.parametrize("bad", REJECTED + NOT_STR)
def test_try_normalize_returns_none_for_rejected_input(bad: object) -> None:
    """The non-raising variant returns None wherever the raising one refuses."""
    assert try_normalize_recipient(bad) is None


def test_str_subclass_normalises_to_plain_str() -> None:
    """A str subclass is accepted and the result is a plain str."""

    class Number(str):
        pass

    result = normalize_recipient(Number("254712345678"))
    assert type(result) is str
    assert result == "254712345678"


@given(subscriber=subscribers)
def test_every_format_of_a_number_normalises_to_the_same_value(subscriber: str) -> None:
    """A subscriber number written in any accepted format normalises to 254 + it."""
    results = {normalize_recipient(fmt(subscriber)) for fmt in FORMATS}
    assert results == {"254" + subscriber}


@given(
    subscriber=subscribers, seps=st.lists(st.sampled_from(["", " ", "-"]), min_size=8, max_size=8)
)
def test_single_separators_anywhere_between_digits_are_ignored(
    subscriber: str, seps: list[str]
) -> None:
    """One space or dash between any two digits does not change the result."""
    spaced = subscriber[0] + "".join(
        sep + digit for sep, digit in zip(seps, subscriber[1:], strict=True)
    )
    assert normalize_recipient("+254 " + spaced) == "254" + subscriber


@given(subscriber=subscribers, fmt=st.sampled_from(FORMATS))
def test_normalisation_is_idempotent(subscriber: str, fmt: Callable[[str], str]) -> None:
    """Normalising a canonical number returns it unchanged."""
    once = normalize_recipient(fmt(subscriber))
    assert normalize_recipient(once) == once


@given(
    subscriber=subscribers,
    fmt=st.sampled_from(FORMATS),
    before=st.text(alphabet=" \t\n", max_size=4),
    after=st.text(alphabet=" \t\n", max_size=4),
)
def test_padding_around_any_format_still_gives_the_canonical_number(
    subscriber: str, fmt: Callable[[str], str], before: str, after: str
) -> None:
    """Whitespace around a number is dropped, whatever its length ('   712345678' too)."""
    assert normalize_recipient(before + fmt(subscriber) + after) == "254" + subscriber


@pytest.mark.parametrize("padded", ["   712345678", "  0712345678", "\t\t\t712345678"])
def test_padding_that_makes_twelve_characters_is_not_taken_as_canonical(padded: str) -> None:
    """Twelve characters with the digits starting at index 3 are not necessarily 254…."""
    assert normalize_recipient(padded) == "254712345678"


@given(text=st.text())
def test_random_text_is_refused_or_canonical(text: str) -> None:
    """Arbitrary text never crashes: it is refused or yields a canonical number."""
    try:
        result = normalize_recipient(text)
    except InvalidRequestError:
        return
    assert CANONICAL.fullmatch(result)


@given(text=st.text(alphabet="0123456789+- ()\n", max_size=20))
def test_try_normalize_agrees_with_normalize(text: str) -> None:
    """The two variants accept exactly the same input, with the same result."""
    try:
        expected: str | None = normalize_recipient(text)
    except InvalidRequestError:
        expected = None
    assert try_normalize_recipient(text) == expected
