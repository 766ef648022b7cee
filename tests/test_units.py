"""SMS unit counting, encoding detection and cost estimates."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from texin_async._exceptions import InvalidRequestError
from texin_async._units import COST_PER_UNIT, count_units, encoding_of, estimate_cost

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"
EMOJI = "\U0001f600"  # outside the BMP: a surrogate pair in UTF-16

UNITS = [
    # GSM-7: 160 septets in one unit, then 153 per unit.
    pytest.param("a", 1, id="gsm-1"),
    pytest.param("a" * 160, 1, id="gsm-160"),
    pytest.param("a" * 161, 2, id="gsm-161"),
    pytest.param("a" * 306, 2, id="gsm-306"),
    pytest.param("a" * 307, 3, id="gsm-307"),
    pytest.param("a" * 459, 3, id="gsm-459"),
    pytest.param("a" * 460, 4, id="gsm-460"),
    # Extension characters take two septets.
    pytest.param("{" * 80, 1, id="ext-80x2"),
    pytest.param("{" * 81, 2, id="ext-81x2"),
    pytest.param("a" * 158 + "€", 1, id="ext-euro-at-160"),
    pytest.param("a" * 159 + "€", 2, id="ext-euro-at-161"),
    pytest.param("a" * 304 + "~", 2, id="ext-tilde-at-306"),
    pytest.param("a" * 305 + "~", 3, id="ext-tilde-at-307"),
    pytest.param("\f" * 80, 1, id="ext-formfeed-80x2"),
    # UCS-2: 70 code units in one unit, then 67 per unit.
    pytest.param("ж" * 70, 1, id="ucs2-70"),
    pytest.param("ж" * 71, 2, id="ucs2-71"),
    pytest.param("ж" * 134, 2, id="ucs2-134"),
    pytest.param("ж" * 135, 3, id="ucs2-135"),
    pytest.param("a" * 69 + "ж", 1, id="one-cyrillic-at-70"),
    pytest.param("a" * 70 + "ж", 2, id="one-cyrillic-at-71"),
    # A character outside the BMP takes two code units.
    pytest.param(EMOJI * 35, 1, id="emoji-35x2"),
    pytest.param(EMOJI * 36, 2, id="emoji-36x2"),
    # A pair is never split, so a part of 67 code units holds 33 emoji.
    pytest.param(EMOJI * 66, 2, id="emoji-66x2"),
    pytest.param(EMOJI * 67, 3, id="emoji-67x2"),
    pytest.param("a" * 68 + EMOJI, 1, id="one-emoji-at-70"),
    pytest.param("a" * 69 + EMOJI, 2, id="one-emoji-at-71"),
]


@pytest.mark.parametrize(("message", "units"), UNITS)
def test_count_units_at_boundaries(message: str, units: int) -> None:
    """Unit counts match the GSM-7 and UCS-2 segment sizes at their boundaries."""
    assert count_units(message) == units


def test_extension_pair_is_not_split_across_segments() -> None:
    """An extension character that would straddle two parts starts the next one."""
    # 306 septets fit two parts of 153 only if "{" (ESC + char) is split at septet 153.
    assert count_units("a" * 152 + "{" + "a" * 152) == 3


def test_extension_pair_exactly_filling_a_part_is_not_moved() -> None:
    """An extension character ending exactly at a part boundary stays in that part."""
    assert count_units("a" * 151 + "{" + "a" * 153) == 2


def test_surrogate_pair_is_not_split_across_segments() -> None:
    """An emoji that would straddle two UCS-2 parts starts the next one."""
    # 134 code units fit two parts of 67 only if the pair is split at code unit 67.
    assert count_units("ж" * 66 + EMOJI + "ж" * 66) == 3


@pytest.mark.parametrize(
    ("message", "encoding"),
    [
        ("Hello, world!", "GSM-7"),
        ("café à Zürich", "GSM-7"),
        ("ΔΦΓΛΩΠΨΣΘΞ", "GSM-7"),
        ("price: 5€ [50% off] {now} ~ | ^ \\", "GSM-7"),
        ("line\nbreak\r\nand form\ffeed", "GSM-7"),
        ("ç", "UCS-2"),  # only the capital Ç is in the alphabet
        ("`", "UCS-2"),
        ("tab\there", "UCS-2"),
        ("\x1b", "UCS-2"),  # ESC only introduces an extension character
        ("it\u2019s", "UCS-2"),  # typographic apostrophe
        ("Habari " + EMOJI, "UCS-2"),
        ("Привет", "UCS-2"),
    ],
)
def test_encoding_of(message: str, encoding: str) -> None:
    """Messages fully in the GSM alphabet are GSM-7; anything else is UCS-2."""
    assert encoding_of(message) == encoding


def test_whole_gsm_alphabet_is_gsm7() -> None:
    """Every default and extension character is recognised as GSM-7."""
    assert encoding_of(GSM_BASIC + GSM_EXTENSION) == "GSM-7"


@pytest.mark.parametrize("function", [count_units, encoding_of, estimate_cost])
def test_empty_message_is_refused(function: object) -> None:
    """An empty message raises InvalidRequestError, since the API refuses it."""
    with pytest.raises(InvalidRequestError, match="message must not be empty") as info:
        function("")  # type: ignore[operator]
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [None, 160, b"hello", ["hello"]])
def test_non_str_message_is_refused(bad: object) -> None:
    """A non-str message raises InvalidRequestError naming its type and value."""
    with pytest.raises(InvalidRequestError, match="message must be a str") as info:
        count_units(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)
    assert type(bad).__name__ in str(info.value)


@given(message=st.text(alphabet=GSM_BASIC, min_size=1))
def test_plain_gsm_text_counts_one_septet_per_character(message: str) -> None:
    """Text in the default alphabet uses 160 per unit, then ceil(len / 153)."""
    expected = 1 if len(message) <= 160 else math.ceil(len(message) / 153)
    assert count_units(message) == expected


@given(
    message=st.text(alphabet=st.characters(min_codepoint=0x400, max_codepoint=0x4FF), min_size=1)
)
def test_bmp_ucs2_text_counts_one_code_unit_per_character(message: str) -> None:
    """BMP text outside the GSM alphabet uses 70 per unit, then ceil(len / 67)."""
    expected = 1 if len(message) <= 70 else math.ceil(len(message) / 67)
    assert count_units(message) == expected


@given(message=st.text(min_size=1), extra=st.characters())
def test_units_never_decrease_when_text_is_appended(message: str, extra: str) -> None:
    """Appending a character never lowers the unit count."""
    assert count_units(message + extra) >= count_units(message)


@given(message=st.text(min_size=1))
def test_units_lie_between_ideal_and_one_wasted_unit_per_part(message: str) -> None:
    """Parts are packed fully, except for at most one unit left by a two-unit character."""
    if encoding_of(message) == "GSM-7":
        size = len(message) + sum(message.count(c) for c in GSM_EXTENSION)
        single, part = 160, 153
    else:
        size = len(message) + sum(c > "\uffff" for c in message)
        single, part = 70, 67
    if size <= single:
        assert count_units(message) == 1
    else:
        assert math.ceil(size / part) <= count_units(message) <= math.ceil(size / (part - 1))


def test_cost_per_unit_is_the_documented_price() -> None:
    """The default price is KES 0.30 per unit, as documented."""
    assert Decimal("0.30") == COST_PER_UNIT


@pytest.mark.parametrize(
    ("message", "recipients", "price", "expected"),
    [
        ("Hello", 1, COST_PER_UNIT, Decimal("0.30")),
        ("Hello", 3, COST_PER_UNIT, Decimal("0.90")),
        ("a" * 161, 1000, COST_PER_UNIT, Decimal("600.00")),
        ("ж" * 71, 1, COST_PER_UNIT, Decimal("0.60")),
        ("Hello", 0, COST_PER_UNIT, Decimal("0.00")),
        ("Hello", 3, Decimal("0.25"), Decimal("0.75")),
        ("Hello", 1, Decimal("0.125"), Decimal("0.13")),  # half-up, not banker's
        ("Hello", 1, Decimal("0"), Decimal("0.00")),
    ],
)
def test_estimate_cost(message: str, recipients: int, price: Decimal, expected: Decimal) -> None:
    """Cost is units x recipients x price, rounded half-up to cents."""
    cost = estimate_cost(message, recipients, cost_per_unit=price)
    assert cost == expected
    assert cost.as_tuple().exponent == -2


@given(message=st.text(min_size=1), recipients=st.integers(min_value=0, max_value=10**7))
def test_estimate_cost_is_units_times_recipients_times_price(message: str, recipients: int) -> None:
    """The estimate equals the unit count times recipients times the default price."""
    assert estimate_cost(message, recipients) == count_units(message) * recipients * COST_PER_UNIT


@pytest.mark.parametrize("recipients", [-1, True, 1.5, "3", None])
def test_estimate_cost_refuses_bad_recipient_counts(recipients: object) -> None:
    """A recipient count that is not an int >= 0 raises, naming the value."""
    with pytest.raises(InvalidRequestError, match="recipients must be") as info:
        estimate_cost("Hello", recipients)  # type: ignore[arg-type]
    assert repr(recipients) in str(info.value)


@pytest.mark.parametrize(
    "price", [0.3, "0.30", Decimal("-0.01"), Decimal("NaN"), Decimal("Infinity")]
)
def test_estimate_cost_refuses_bad_prices(price: object) -> None:
    """A price that is not a finite Decimal >= 0 raises, naming the value."""
    with pytest.raises(InvalidRequestError, match="cost_per_unit must be") as info:
        estimate_cost("Hello", cost_per_unit=price)  # type: ignore[arg-type]
    assert repr(price) in str(info.value)
