"""Unit codes: exactly the codes the CEN schematron's BR-CL-23 accepts, a clerk's word
refused with the code to use, and the quantity cell in words."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from pipeline.core import units
from pipeline.core.units import DEFAULT_UNIT, quantity_words, unit_code

EXAMPLES = "(e.g. HUR hour, C62 one, H87 piece, MTR metre)"


def test_the_list_is_the_schematrons() -> None:
    """2162 codes in validation-1.3.16 (the Factur-X 1.09.2 code list has the same set)."""
    codes = units.codes()
    assert len(codes) == 2162
    assert all(re.fullmatch(r"[0-9A-Z]{2,3}", code) for code in codes)
    assert {"C62", "HUR", "H87", "MTR", "XPP", "EA", "KWH", "1I", "XZZ"} <= codes
    assert not any(code.startswith("#") for code in codes)  # the header line is skipped
    assert DEFAULT_UNIT in codes


@pytest.mark.parametrize(("value", "code"), [
    ("HUR", "HUR"), (" H87 ", "H87"), ("C62", "C62"), ("XPP", "XPP"), ("1I", "1I"),
    ("KWH", "KWH"), ("MTK", "MTK"), ("", "C62"), ("   ", "C62"),
    ("STK", "STK"),  # stick, cigarette: valid, so the validator takes it and so do we
])
def test_valid_codes(value: str, code: str) -> None:
    assert unit_code(value) == code


@pytest.mark.parametrize(("value", "use"), [
    ("hours", "HUR (hour)"), ("hour", "HUR (hour)"), ("hr", "HUR (hour)"), ("h", "HUR (hour)"),
    ("Std.", "HUR (hour)"), ("minute", "MIN (minute)"), ("min", "MIN (minute)"),
    ("days", "DAY (day)"), ("piece", "H87 (piece)"), ("pcs", "H87 (piece)"),
    ("pc", "H87 (piece)"), ("Stück", "H87 (piece)"), ("Stk.", "H87 (piece)"),
    ("stk", "H87 (piece)"),  # not STK (stick, cigarette): why codes are case-sensitive
    ("each", "EA (each)"), ("ea", "EA (each)"), ("unit", "C62 (one)"),
    ("HOURS", "HUR (hour)"), ("PCE", "H87 (piece)"),
    ("metre", "MTR (metre)"), ("meter", "MTR (metre)"), ("m", "MTR (metre)"),
    ("ft", "FOT (foot)"), ("foot", "FOT (foot)"), ("kg", "KGM (kilogram)"),
    ("litre", "LTR (litre)"), ("l", "LTR (litre)"), ("set", "SET (set)"),
    ("pair", "PR (pair)"), ("kWh", "KWH (kilowatt hour)"), ("kw", "KWT (kilowatt)"),
    ("m2", "MTK (square metre)"), ("m²", "MTK (square metre)"), ("sqm", "MTK (square metre)"),
    ("sq ft", "FTK (square foot)"), ("m3", "MTQ (cubic metre)"), ("gal", "GLL (US gallon)"),
    ("hur", "HUR (hour)"), ("mtr", "MTR (metre)"),
    ("xpp", "XPP (codes are upper case)"),
])
def test_a_word_gets_its_code(value: str, use: str) -> None:
    with pytest.raises(ValueError) as raised:
        unit_code(value)
    assert str(raised.value) == f"{value!r} is not a UN/ECE Rec 20 unit code: use {use}"


@pytest.mark.parametrize("value", ["foo", "H 87", "ZZZ", "Q9", "x" * 60, "a; b", "1,5"])
def test_anything_else_gets_examples(value: str) -> None:
    with pytest.raises(ValueError) as raised:
        unit_code(value)
    message = str(raised.value)
    assert message.endswith(f" is not a UN/ECE Rec 20 unit code {EXAMPLES}")
    assert "; " not in message  # it separates a record's problems
    assert len(message) <= 125  # one line: a long value is cut short


def test_exact_message() -> None:
    with pytest.raises(ValueError, match=re.escape(
            f"'Furlong' is not a UN/ECE Rec 20 unit code {EXAMPLES}")):
        unit_code("Furlong")


@pytest.mark.parametrize(("quantity", "code", "count", "shown"), [
    ("2", "C62", "2", "2"), ("1", "C62", "1", "1"), ("2.5", "C62", "2.5", "2.5"),
    ("3", "EA", "3", "3"),
    ("1", "HUR", "1", "1 hour"), ("2.5", "HUR", "2.5", "2.5 hours"),
    ("2.3333", "HUR", "2.3333", "2.3333 hours"),  # the caller's digits, never rounded
    ("-1", "HUR", "-1", "-1 hour"), ("2", "LH", "2", "2 hours"),
    ("30", "MIN", "30", "30 minutes"), ("1", "DAY", "1", "1 day"), ("2", "WEE", "2", "2 weeks"),
    ("3", "MON", "3", "3 months"),
    ("1,234.5", "MTR", "1234.5", "1,234.5 m"), ("12", "MTK", "12", "12 m²"),
    ("40", "FTK", "40", "40 sq ft"), ("2", "MTQ", "2", "2 m³"), ("5", "LTR", "5", "5 L"),
    ("5", "GLL", "5", "5 gal"), ("3", "KGM", "3", "3 kg"), ("3", "LBR", "3", "3 lb"),
    ("120", "KWH", "120", "120 kWh"), ("10", "FOT", "10", "10 ft"),
    ("1", "H87", "1", "1 pc"), ("3", "H87", "3", "3 pcs"), ("1", "SET", "1", "1 set"),
    ("2", "PR", "2", "2 pairs"), ("1", "LS", "1", "1 lump sum"),
    ("3", "XPP", "3", "3 XPP"), ("1", "STK", "1", "1 STK"),
])
def test_english(quantity: str, code: str, count: str, shown: str) -> None:
    assert quantity_words(quantity, code, "en_US", Decimal(count)) == shown


@pytest.mark.parametrize(("quantity", "code", "count", "shown"), [
    ("2", "C62", "2", "2"), ("2,5", "C62", "2.5", "2,5"),
    ("1", "HUR", "1", "1 Stunde"), ("2,5", "HUR", "2.5", "2,5 Stunden"),
    ("1", "DAY", "1", "1 Tag"), ("3", "DAY", "3", "3 Tage"),
    ("1.234,5", "MTR", "1234.5", "1.234,5 m"), ("12", "MTK", "12", "12 m²"),
    ("5", "LTR", "5", "5 l"), ("120", "KWH", "120", "120 kWh"),
    ("1", "H87", "1", "1 Stk."), ("3", "H87", "3", "3 Stk."),
    ("1", "SET", "1", "1 Satz"), ("2", "SET", "2", "2 Sätze"), ("1", "LS", "1", "1 pauschal"),
    ("3", "XPP", "3", "3 XPP"),
])
def test_german(quantity: str, code: str, count: str, shown: str) -> None:
    assert quantity_words(quantity, code, "de_DE", Decimal(count)) == shown


def test_french_and_spanish() -> None:
    # CLDR's French patterns keep a no-break space between number and unit.
    assert quantity_words("2,5", "HUR", "fr_FR", Decimal("2.5")) == "2,5\u00a0heures"
    assert quantity_words("1,5", "H87", "fr_FR", Decimal("1.5")) == "1,5 pièce"  # fr: 1.5 is one
    assert quantity_words("3", "H87", "fr_FR", Decimal(3)) == "3 pièces"
    assert quantity_words("2,5", "HUR", "es_ES", Decimal("2.5")) == "2,5 horas"
    assert quantity_words("2", "PR", "es_ES", Decimal(2)) == "2 pares"
    assert quantity_words("12", "MTK", "es_ES", Decimal(12)) == "12 m²"


def test_other_languages() -> None:
    """CLDR units in any locale; our own words in English there, with English plurals."""
    assert quantity_words("2,5", "HUR", "nl_NL", Decimal("2.5")) == "2,5 uur"
    assert quantity_words("1", "H87", "ja_JP", Decimal(1)) == "1 pc"
    assert quantity_words("3", "H87", "ja_JP", Decimal(3)) == "3 pcs"


def test_every_valid_code_prints() -> None:
    for locale in ("en_US", "de_DE", "fr_FR", "es_ES"):
        for code in units.codes():
            shown = quantity_words("2", code, locale, Decimal(2))
            assert shown.startswith("2"), (locale, code, shown)
    assert all(code in units.codes() for code in (*units.KNOWN, *units.WORDS))
