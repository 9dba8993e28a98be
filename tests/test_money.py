"""Money: Decimal only, line amounts and tax rounded half-up to the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipeline import batch
from pipeline.core import money
from pipeline.core.config import Settings
from pipeline.core.models import RawRecord, WorkOrder
from pipeline.validate import inputs, validate

from .conftest import order, pdf_text, write_csv

Item = tuple[str, str]  # (quantity, unit price) as a CSV cell holds them


def priced(items: list[Item], tax_rate: str = "", currency: str = "USD") -> WorkOrder:
    rows = tuple(
        (2 + n, {"service_ticket": "WO-1", "customer": "Acme", "location": "1 Main St",
                 "confirmed": "yes", "currency": currency, "tax_rate": tax_rate,
                 "item_description": f"Item {n}", "item_quantity": quantity,
                 "item_unit_price": price})
        for n, (quantity, price) in enumerate(items))
    work = validate(RawRecord("in.csv", 2, rows), "USD")
    assert isinstance(work, WorkOrder), work
    return work


def exactly(value: Decimal, expected: str) -> None:
    """Same number and same scale: ``Decimal('50.00')``, not ``Decimal('50')`` or a float."""
    assert type(value) is Decimal
    assert str(value) == expected


# (items, tax rate, currency, line amounts, subtotal, tax, total)
CASES: list[tuple[list[Item], str, str, list[str], str, str, str]] = [
    ([("3", "0.335")], "", "USD", ["1.01"], "1.01", "0.00", "1.01"),              # 1.005
    ([("1.5", "33.33")], "", "USD", ["50.00"], "50.00", "0.00", "50.00"),         # 49.995
    ([("1", "10.10")], "8.25", "USD", ["10.10"], "10.10", "0.83", "10.93"),       # 0.83325
    ([("1", "0.06")], "8.25", "USD", ["0.06"], "0.06", "0.00", "0.06"),           # 0.00495
    ([("1", "0.50")], "7", "USD", ["0.50"], "0.50", "0.04", "0.54"),              # 0.035
    ([("1", "0.70")], "7.5", "USD", ["0.70"], "0.70", "0.05", "0.75"),            # 0.0525
    ([("2", "149.5")], "", "JPY", ["299"], "299", "0", "299"),
    ([("2", "149.5")], "10", "JPY", ["299"], "299", "30", "329"),                 # 29.9
    ([("2", "149.5")], "8", "JPY", ["299"], "299", "24", "323"),                  # 23.92
    ([("1", "0.5")], "", "JPY", ["1"], "1", "0", "1"),                            # 0.5 → 1
    ([("1", "1000")], "0.05", "JPY", ["1000"], "1000", "1", "1001"),              # 0.5 → 1
    ([("3", "0.3335")], "5", "KWD", ["1.001"], "1.001", "0.050", "1.051"),        # 1.0005
    ([("1", "12.3456")], "", "KWD", ["12.346"], "12.346", "0.000", "12.346"),
    ([("1", "0.0005")], "", "BHD", ["0.001"], "0.001", "0.000", "0.001"),
    # Each line is rounded before the sum: 3 x 0.01, not round(0.015).
    ([("1", "0.005"), ("1", "0.005"), ("1", "0.005")], "", "USD",
     ["0.01", "0.01", "0.01"], "0.03", "0.00", "0.03"),
    # A discount line: half-up rounds the half away from zero, like the positive lines.
    ([("1", "10"), ("1", "-0.005")], "", "USD", ["10.00", "-0.01"], "9.99", "0.00", "9.99"),
    ([("2.5", "95"), ("1", "1234.50")], "8.25", "USD", ["237.50", "1234.50"], "1472.00",
     "121.44", "1593.44"),
    ([("0.333333", "3")], "", "USD", ["1.00"], "1.00", "0.00", "1.00"),           # 0.999999
    ([("999999", "999999.99")], "", "USD", ["999998990000.01"], "999998990000.01", "0.00",
     "999998990000.01"),
    ([("1", "19.99")], "100", "EUR", ["19.99"], "19.99", "19.99", "39.98"),
]


@pytest.mark.parametrize(("items", "rate", "currency", "amounts", "subtotal", "tax", "total"),
                         CASES)
def test_rounding_table(items: list[Item], rate: str, currency: str, amounts: list[str],
                        subtotal: str, tax: str, total: str) -> None:
    work = priced(items, rate, currency)
    assert work.currency == currency
    assert [str(item.amount) for item in work.line_items] == amounts
    for item in work.line_items:
        exactly(item.amount, str(item.amount))
        assert type(item.quantity) is Decimal and type(item.unit_price) is Decimal
    exactly(work.subtotal, subtotal)
    exactly(work.tax, tax)
    exactly(work.total, total)
    assert work.total == work.subtotal + work.tax


def test_json_numbers_are_parsed_as_decimal_never_float(tmp_path: Path,
                                                        settings: Settings) -> None:
    # As floats, 0.1 * 3 is 0.30000000000000004 and 8.25% of it drifts too.
    path = tmp_path / "in.json"
    path.write_text('[{"service_ticket": "WO-1", "customer": "Acme", "location": "L",'
                    ' "confirmed": true, "tax_rate": 8.25, "line_items": ['
                    '{"description": "Washer", "quantity": 3, "unit_price": 0.1},'
                    '{"description": "Bolt", "quantity": 1.1, "unit_price": 1.1}]}]',
                    encoding="utf-8")
    (work,) = inputs.check([path], settings).confirmed
    assert [item.unit_price for item in work.line_items] == [Decimal("0.1"), Decimal("1.1")]
    assert [str(item.amount) for item in work.line_items] == ["0.30", "1.21"]
    exactly(work.subtotal, "1.51")
    exactly(work.tax, "0.12")  # 0.124575
    exactly(work.total, "1.63")
    assert work.tax_rate == Decimal("8.25")


def test_csv_file_totals(tmp_path: Path, settings: Settings) -> None:
    path = write_csv(tmp_path / "in.csv", [
        order("WO-1", tax_rate="8.25", item_quantity="3", item_unit_price="0.335"),
        order("WO-2", currency="JPY", item_quantity="2", item_unit_price="149.5",
              tax_rate="10"),
        order("WO-1", tax_rate="8.25", item_quantity="1.5", item_unit_price="33.33"),
    ])
    checked = inputs.check([path], settings)
    assert not checked.problems
    totals = {work.service_ticket: (str(work.subtotal), str(work.tax), str(work.total))
              for work in checked.confirmed}
    assert totals == {"WO-1": ("51.01", "4.21", "55.22"), "WO-2": ("299", "30", "329")}


@pytest.mark.parametrize("value", [0.1, 1e3, float("nan"), True, None, [1], {"a": 1}])
def test_to_decimal_refuses_floats_and_non_numbers(value: Any) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        money.to_decimal(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("12.50", "12.50"), (" 7 ", "7"), (3, "3"), (Decimal("0.1"), "0.1"), (".5", "0.5"),
    ("-4.25", "-4.25"), ("1E+3", "1E+3"), ("0.000001", "0.000001"), ("+2", "2"),
])
def test_to_decimal_accepts_text_ints_and_decimals(value: Any, expected: str) -> None:
    exactly(money.to_decimal(value), expected)


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e12", "-1000000000000", "1e-7",
                                   "0.0000001", "12,50", "$5", "", "1_000", "\u0663",
                                   "\uff11", "1 000", "0x10", "1e1000000",
                                   Decimal("-1e1000000")])
def test_to_decimal_rejects_what_no_invoice_holds(value: object) -> None:
    with pytest.raises(ValueError):
        money.to_decimal(value)


@pytest.mark.parametrize(("currency", "unit"), [("USD", "0.01"), ("EUR", "0.01"),
                                                ("JPY", "1"), ("KRW", "1"), ("KWD", "0.001"),
                                                ("BHD", "0.001")])
def test_minor_unit(currency: str, unit: str) -> None:
    assert money.minor_unit(currency) == Decimal(unit)


def test_helpers_round_half_up() -> None:
    exactly(money.line_amount(Decimal(3), Decimal("0.335"), "USD"), "1.01")
    exactly(money.tax_amount(Decimal("0.50"), Decimal(7), "USD"), "0.04")
    exactly(money.round_money(Decimal("2.5"), "JPY"), "3")
    exactly(money.round_money(Decimal("-2.5"), "JPY"), "-3")
    with pytest.raises(ValueError, match="not below"):
        money.line_amount(Decimal("999999999999"), Decimal("2"), "USD")


@pytest.mark.parametrize(("amount", "expected"), [
    (Decimal("1234.50"), "1234.50"), (Decimal("1E+3"), "1000"), (Decimal("0.00"), "0.00"),
    (Decimal("-5.10"), "-5.10"),
])
def test_plain_never_scientific(amount: Decimal, expected: str) -> None:
    assert money.plain(amount) == expected


def test_unit_prices_and_quantities_print_every_digit_amounts_the_minor_unit(
        tmp_path: Path, settings: Settings) -> None:
    """3 x $19.995 must not read as 3 x $20.00 = $59.99."""
    path = write_csv(tmp_path / "in.csv", [
        order("WO-1", item_quantity="3", item_unit_price="19.995", tax_rate="8.8755"),
        order("WO-1", item_description="Labor", item_quantity="2.3333", item_unit_price="90")])
    assert batch.run([path], settings).rendered == ["WO-1"]
    lines = pdf_text(settings.out / "invoices/INV-WO-1.pdf").splitlines()
    assert "Service call 3 $19.995 $59.99" in lines
    assert "Labor 2.3333 $90.00 $210.00" in lines
    assert any("8.8755" in line for line in lines)


def test_negative_zero_is_zero() -> None:
    assert str(money.to_decimal("-0")) == "0" and str(money.to_decimal("-0.00")) == "0.00"
    assert money.format_money(money.to_decimal("-0"), "USD", exact=True) == "$0.00"


def test_format_money() -> None:
    assert money.format_money(Decimal("1593.44"), "USD") == "$1,593.44"
    assert money.format_money(Decimal("19.995"), "USD", exact=True) == "$19.995"
    assert money.format_money(Decimal("20"), "USD", exact=True) == "$20.00"
    assert money.format_money(Decimal("329"), "JPY") == "¥329"
    assert money.format_money(Decimal("1234.5"), "EUR", "de_DE") == "1.234,50\xa0€"
