"""Every rule of the contract's Input table, one record at a time (and across records)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import Settings
from pipeline.core.models import Problem, RawRecord, WorkOrder
from pipeline.validate import inputs, validate

from .conftest import order, write_csv, write_json

SOURCE = "exports/orders.csv"


def base(**fields: Any) -> dict[str, Any]:
    """A minimal valid record; ``None`` removes a field."""
    row: dict[str, Any] = {"service_ticket": "WO-1", "customer": "Acme",
                           "location": "1 Main St", "confirmed": "yes"}
    row.update(fields)
    return {key: value for key, value in row.items() if value is not None}


def record(*rows: dict[str, Any], line: int = 7, from_csv: bool | None = None) -> RawRecord:
    """A raw record whose rows sit on consecutive lines from ``line``.

    Unless told, rows of text only are CSV rows, as the CSV reader gives nothing else.
    """
    if from_csv is None:
        from_csv = all(isinstance(value, str) for row in rows for value in row.values())
    return RawRecord(SOURCE, line, tuple((line + n, row) for n, row in enumerate(rows)),
                     from_csv)


def good(*rows: dict[str, Any], currency: str = "USD") -> WorkOrder:
    result = validate(record(*rows), currency)
    assert isinstance(result, WorkOrder), result
    return result


def bad(*rows: dict[str, Any], line: int = 7) -> Problem:
    result = validate(record(*rows, line=line), "USD")
    assert isinstance(result, Problem), result
    assert result.source == SOURCE
    return result


# --- confirmed -----------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["yes", "YES", "Yes", " y ", "Y", "true", "TRUE", "True",
                                    "1", True, 1])
def test_confirmed_yes(answer: Any) -> None:
    assert good(base(confirmed=answer)).confirmed is True


@pytest.mark.parametrize("answer", ["no", "NO", "No", "n", "N ", "false", "FALSE", "0", False,
                                    0, "", "   ", None])
def test_confirmed_no_or_blank(answer: Any) -> None:
    row = base()
    row["confirmed"] = answer  # None: JSON null, a blank value
    assert good(row).confirmed is False


@pytest.mark.parametrize("answer", ["maybe", "done", "2", "yes!", "oui", [True], {"a": 1}, 2,
                                    Decimal("1.0")])
def test_confirmed_anything_else_is_rejected(answer: Any) -> None:
    problem = bad(base(confirmed=answer))
    assert (problem.line, problem.service_ticket) == (7, "WO-1")
    assert problem.reason.startswith("confirmed: ")


def test_confirmed_maybe_names_the_field_and_value() -> None:
    problem = bad(base(confirmed="maybe"))
    assert problem.reason == 'confirmed: "maybe" is not yes/no, y/n, true/false or 1/0'
    assert str(problem) == f"{SOURCE}:7: ticket WO-1: {problem.reason}"


def test_confirmed_key_missing_in_json_is_rejected() -> None:
    problem = bad(base(confirmed=None))
    assert problem.reason.startswith("confirmed: missing")
    assert "; " not in problem.reason  # "; " separates problems, never splits one


# --- required fields -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["customer", "location"])
@pytest.mark.parametrize("value", ["", "   ", None])
def test_required_field_blank_or_missing(field: str, value: Any) -> None:
    problem = bad(base(**{field: value}))
    assert (problem.source, problem.line, problem.service_ticket) == (SOURCE, 7, "WO-1")
    assert problem.reason == f"{field}: required, but blank or missing"


def test_blank_service_ticket_has_no_ticket() -> None:
    problem = bad(base(service_ticket=" "))
    assert (problem.line, problem.service_ticket) == (7, None)
    assert problem.reason == "service_ticket: required, but blank or missing"


def test_text_fields_are_stripped_and_json_numbers_become_text() -> None:
    work = good(base(service_ticket=10421, customer="  Acme  ", location=" 1 Main St\t"))
    assert (work.service_ticket, work.customer, work.location) == ("10421", "Acme",
                                                                   "1 Main St")


@pytest.mark.parametrize(("fields", "field"), [
    ({"customer": ["Acme"]}, "customer"),
    ({"location": {"street": "x"}}, "location"),
    ({"customer": True}, "customer"),
    ({"customer": "Acme\x00Corp"}, "customer"),
    ({"service_ticket": "WO-1\nWO-2"}, "service_ticket"),
    ({"share_id": "abc\ndef"}, "share_id"),
    ({"service_ticket": "W" * 101}, "service_ticket"),
    ({"notes": "n" * 4001}, "notes"),
])
def test_bad_text_is_rejected_naming_the_field(fields: dict[str, Any], field: str) -> None:
    problem = bad(base(**fields))
    assert problem.reason.startswith(f"{field}: ")
    assert "required, but blank" not in problem.reason  # one problem per field, not two


# --- tags ----------------------------------------------------------------------------------


def test_tags_json_list() -> None:
    assert good(base(tags=["HVAC", " Repair ", ""])).tags == ("HVAC", "Repair")


def test_tags_csv_pipe_separated() -> None:
    assert good(base(tags="HVAC| Repair ||Roof")).tags == ("HVAC", "Repair", "Roof")


@pytest.mark.parametrize("tags", ["", None, []])
def test_no_tags(tags: Any) -> None:
    assert good(base(tags=tags) if tags is not None else base()).tags == ()


@pytest.mark.parametrize("tags", [[1, 2], {"a": "b"}, 5, ["ok", None]])
def test_tags_not_a_list_of_strings(tags: Any) -> None:
    assert bad(base(tags=tags)).reason == "tags: expected a list of strings"


def test_json_tags_must_be_a_list_not_a_string() -> None:
    result = validate(record(base(tags="hvac|roof"), from_csv=False), "USD")
    assert isinstance(result, Problem) and result.reason == "tags: expected a list of strings"


# --- defaults ------------------------------------------------------------------------------


def test_defaults() -> None:
    work = good(base(service_ticket="WO-10421"))
    assert work.invoice_number == "INV-WO-10421"
    assert (work.bill_to_name, work.bill_to_address) == ("Acme", "1 Main St")
    assert work.bill_to_email == "" and work.share_id is None
    assert work.currency == "USD" and work.tax_rate == 0
    assert work.invoice_date is None and work.due_date is None
    assert work.line_items == () and work.total == Decimal(0)
    assert (work.source, work.line) == (SOURCE, 7)


def test_given_values_win_over_defaults() -> None:
    work = good(base(invoice_number="A-77", bill_to_name="Acme Holdings",
                     bill_to_address="PO Box 9", bill_to_email="ap@acme.test",
                     share_id=" k7Qm2xR9vT4pL8sN ", technician="Dana", po_number="PO-1",
                     notes="Gate code 1234"))
    assert (work.invoice_number, work.bill_to_name, work.bill_to_address) == \
        ("A-77", "Acme Holdings", "PO Box 9")
    assert work.bill_to_email == "ap@acme.test" and work.share_id == "k7Qm2xR9vT4pL8sN"
    assert (work.technician, work.po_number, work.notes) == ("Dana", "PO-1", "Gate code 1234")


def test_default_currency_comes_from_the_caller() -> None:
    assert good(base(), currency="EUR").currency == "EUR"
    assert good(base(currency=" gbp ")).currency == "GBP"


# --- dates ---------------------------------------------------------------------------------


def test_iso_dates() -> None:
    work = good(base(invoice_date="2026-11-28", due_date="2026-12-28"))
    assert (work.invoice_date, work.due_date) == (date(2026, 11, 28), date(2026, 12, 28))


@pytest.mark.parametrize("field", ["invoice_date", "due_date"])
@pytest.mark.parametrize("value", ["11/28/2026", "2026-02-30", "2026-13-01", "tomorrow",
                                   "28.11.2026"])
def test_invalid_dates(field: str, value: str) -> None:
    problem = bad(base(**{field: value}))
    assert (problem.line, problem.service_ticket) == (7, "WO-1")
    assert problem.reason == f"{field}: {value!r} is not an ISO date (YYYY-MM-DD)"


@pytest.mark.parametrize(("value", "shown"), [
    ("20261128", "'20261128'"), ("2026-W48-6", "'2026-W48-6'"), (20261128, "20261128"),
    (["2026-11-28"], "[\"2026-11-28\"]")])
def test_dates_only_as_yyyy_mm_dd_text(value: Any, shown: str) -> None:
    """fromisoformat takes the ISO basic and week forms; the contract's dates are YYYY-MM-DD."""
    problem = bad(base(invoice_date=value))
    assert problem.reason == f"invoice_date: {shown} is not an ISO date (YYYY-MM-DD)"


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"])
def test_dates_outside_any_invoice_are_rejected(value: str) -> None:
    """9999-12-31 plus the payment terms would overflow the calendar mid-run."""
    assert bad(base(invoice_date=value)).reason == f"invoice_date: {value!r} is not a " \
        "plausible invoice date (years 1900 to 2999)"


def test_due_date_before_invoice_date() -> None:
    problem = bad(base(invoice_date="2026-11-28", due_date="2026-11-01"))
    assert problem.reason.startswith("due_date: ")


# --- currency and tax ----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["US", "DOLLAR", "$", "ZZZ", "usd1"])
def test_invalid_currency(code: str) -> None:
    problem = bad(base(currency=code))
    assert problem.reason.startswith("currency: ") and "ISO 4217" in problem.reason


@pytest.mark.parametrize(("rate", "expected"), [("8.25", Decimal("8.25")), (" 0 ", 0),
                                                ("100", 100), (Decimal("7.5"), Decimal("7.5")),
                                                (5, 5), ("", 0), (None, 0)])
def test_tax_rate(rate: Any, expected: Decimal) -> None:
    row = base(tax_rate=rate) if rate is not None else base()
    assert good(row).tax_rate == expected


@pytest.mark.parametrize("rate", ["8.25%", "abc", "NaN", "Infinity", True, [8]])
def test_tax_rate_not_a_number(rate: Any) -> None:
    problem = bad(base(tax_rate=rate))
    assert problem.reason.startswith("tax_rate: ")
    assert "is not a number" in problem.reason or "is not a finite amount" in problem.reason


@pytest.mark.parametrize("rate", ["-1", "100.01", "825"])
def test_tax_rate_out_of_range(rate: str) -> None:
    problem = bad(base(tax_rate=rate))
    assert problem.reason.startswith("tax_rate: ") and "between 0 and 100" in problem.reason


# --- line items ----------------------------------------------------------------------------


def item(description: str = "Labor", quantity: Any = "1", price: Any = "10") -> dict[str, Any]:
    return {"item_description": description, "item_quantity": quantity,
            "item_unit_price": price}


def test_csv_line_items_one_per_row() -> None:
    work = good(base(**item("Labor", "2.5", "95")), base(**item("Filter", "", "12.40")))
    assert [(i.description, i.quantity, i.unit_price, i.amount) for i in work.line_items] == [
        ("Labor", Decimal("2.5"), Decimal("95"), Decimal("237.50")),
        ("Filter", Decimal("1"), Decimal("12.40"), Decimal("12.40")),   # blank quantity = 1
    ]
    assert work.subtotal == work.total == Decimal("249.90")


def test_json_line_items() -> None:
    work = good(base(line_items=[{"description": "Labor", "quantity": Decimal("2"),
                                  "unit_price": Decimal("95.5")},
                                 {" Description ": "Part", "Unit_Price": 3}]))
    assert [(i.description, i.amount) for i in work.line_items] == \
        [("Labor", Decimal("191.00")), ("Part", Decimal("3.00"))]


def test_row_without_item_is_just_a_ticket_row() -> None:
    work = good(base(), base(**item("Labor")))
    assert [i.description for i in work.line_items] == ["Labor"]


@pytest.mark.parametrize(("field", "cells"), [
    ("item_quantity", item(quantity="two")),
    ("item_quantity", item(quantity="1,5")),
    ("item_quantity", item(quantity="0")),
    ("item_quantity", item(quantity="-1")),
    ("item_unit_price", item(price="$10")),
    ("item_unit_price", item(price="")),
    ("item_unit_price", item(price="1e400")),
    ("item_unit_price", item(price="0.0000001")),
    ("item_description", item(description="")),
])
def test_csv_line_item_problem_names_the_field_and_the_line_of_its_row(
        field: str, cells: dict[str, Any]) -> None:
    problem = bad(base(**item("Labor")), base(**item("Filter")), base(**cells), line=20)
    assert (problem.source, problem.line, problem.service_ticket) == (SOURCE, 22, "WO-1")
    assert problem.reason.startswith(f"{field}: ")


@pytest.mark.parametrize(("description", "reason"), [
    ("  ", "line item 1 has no description"),
    ("x" * 1001, "line item 1 is longer than 1000 characters")])
def test_line_item_description_problems_say_which(description: str, reason: str) -> None:
    assert bad(base(**item(description=description))).reason == f"item_description: {reason}"


@pytest.mark.parametrize(("description", "reason"), [
    ({"x": 1}, 'expected text, got {"x": 1}'), (["a"], 'expected text, got ["a"]'),
    (True, "expected text, got true"), ("bell\x07", "holds control characters")])
def test_json_line_item_description_must_be_text(description: object, reason: str) -> None:
    """Not str() of it: the customer would read a Python repr on the invoice."""
    row = base(line_items=[{"description": "Visit", "quantity": 1, "unit_price": 5},
                           {"description": description, "quantity": 1, "unit_price": 5}])
    assert bad(row).reason == f"line_items[2].description: {reason}"


@pytest.mark.parametrize("price", ["", "  ", None])
def test_missing_unit_price_says_so(price: Any) -> None:
    cells = item(price=price)
    problem = bad(base(**cells) if price is not None else base(item_description="Labor"))
    assert problem.reason == "item_unit_price: line item 1 has no unit price"


def test_json_line_item_problem_names_the_field() -> None:
    problem = bad(base(line_items=[{"description": "Labor", "quantity": "x",
                                    "unit_price": 5}]))
    assert (problem.line, problem.service_ticket) == (7, "WO-1")
    assert problem.reason == "line_items[1].quantity: 'x' is not a number"


@pytest.mark.parametrize("items", ["Labor", [1, 2], {"description": "x"}, [["Labor"]]])
def test_line_items_not_a_list_of_objects(items: Any) -> None:
    assert bad(base(line_items=items)).reason == "line_items: expected a list of objects"


def test_json_line_item_with_none_of_the_fields_is_not_dropped_silently() -> None:
    problem = bad(base(line_items=[{"description": "Labor", "unit_price": 5},
                                   {"name": "Compressor", "price": 900}]))
    assert problem.reason.startswith("line_items: line item 2 ")


def test_amounts_beyond_any_invoice_are_rejected_not_crashing() -> None:
    huge = item(quantity="999999999999", price="999999999999")
    problem = bad(base(**huge, currency="KWD"))
    assert problem.reason.startswith("item_unit_price: line item 1 amount")
    many = [base(**item(quantity="9", price="99999999999")) for _ in range(20)]
    assert bad(*many).reason.startswith("line_items: subtotal")


# --- CSV rows of one ticket ----------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "other"), [
    ("customer", "Acme", "Acme Inc"), ("location", "1 Main St", "2 Main St"),
    ("confirmed", "yes", "no"), ("currency", "USD", "EUR"), ("tax_rate", "8.25", "8.5"),
    ("invoice_number", "A-1", "A-2"), ("share_id", "k7Qm2xR9vT4pL8sN", "k7Qm2xR9vT4pL8sX"),
    ("tags", "hvac|roof", "hvac"), ("invoice_date", "2026-11-28", "2026-11-29"),
])
def test_rows_of_one_ticket_must_agree(field: str, value: str, other: str) -> None:
    first = base(**item("Labor"), **{field: value})
    second = base(**item("Filter"), **{field: value})
    third = base(**item("Visit"), **{field: other})
    problem = bad(first, second, third, line=10)
    assert (problem.source, problem.line, problem.service_ticket) == (SOURCE, 12, "WO-1")
    assert problem.reason == f"{field}: {other!r} on line 12 disagrees with {value!r} on " \
        "line 10 of the same ticket"


def test_customer_disagreement_is_reported_on_the_line_of_the_row() -> None:
    problem = bad(base(**item("Labor")), base(**item("Filter"), customer="Acme Inc"), line=4)
    assert (problem.source, problem.line, problem.service_ticket) == (SOURCE, 5, "WO-1")
    assert problem.reason == "customer: 'Acme Inc' on line 5 disagrees with 'Acme' on line 4 " \
        "of the same ticket"


def test_repeats_agree_as_the_record_reads_them() -> None:
    work = good(base(**item("Labor"), confirmed="YES", tags="hvac|roof", currency="eur"),
                base(**item("Filter"), confirmed="yes", tags=" hvac | roof|", currency="EUR"))
    assert work.confirmed and work.tags == ("hvac", "roof") and work.currency == "EUR"


def test_disagreement_quotes_long_values_cut_short() -> None:
    problem = bad(base(**item("Labor"), notes="n" * 300), base(**item("Filter"), notes="m"))
    assert problem.reason == f"notes: 'm' on line 8 disagrees with '{'n' * 55}...' on line 7 " \
        "of the same ticket"


@pytest.mark.parametrize("value", ["Acme\x00", "Acme\x1b[31m", "Acme \u202eTNUOMA\u202c",
                                   "\u202aAcme"])
def test_control_and_bidi_override_characters_are_rejected(value: str) -> None:
    """An override shows text in another order than it is stored: a spoofed name."""
    assert bad(base(customer=value)).reason == "customer: holds control characters"


@pytest.mark.parametrize("tags", ["abc\u202edef|x", ["ab\u2066cd"], "bell\x07"])
def test_tags_with_control_or_bidi_characters_are_rejected(tags: object) -> None:
    assert bad(base(tags=tags)).reason == "tags: holds control characters or is not UTF-8 text"


def test_right_to_left_names_need_no_override() -> None:
    assert good(base(customer="شركة الرياض \u200fللتكييف")).customer == \
        "شركة الرياض \u200fللتكييف"


def test_blank_repeats_agree() -> None:
    work = good(base(**item("Labor"), tax_rate="8.25"),
                base(**item("Filter"), customer="", location="", tax_rate=""))
    assert len(work.line_items) == 2 and work.tax_rate == Decimal("8.25")


def test_csv_file_rows_disagreeing_on_customer(tmp_path: Path, settings: Settings) -> None:
    path = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2"),
                                           order("WO-1", customer="Someone Else")])
    checked = inputs.check([path], settings)
    assert [o.service_ticket for o in checked.confirmed] == ["WO-2"]
    (problem,) = checked.problems
    assert (problem.source, problem.line, problem.service_ticket) == (str(path), 4, "WO-1")
    assert problem.reason.startswith("customer: 'Someone Else' on line 4 disagrees")


# --- across records ------------------------------------------------------------------------


def test_ticket_in_two_records_rejects_both(tmp_path: Path, settings: Settings) -> None:
    csv_path = write_csv(tmp_path / "a.csv", [order("WO-1"), order("WO-2")])
    json_path = write_json(tmp_path / "b.json", [
        {"service_ticket": "WO-3", "customer": "C", "location": "L", "confirmed": "yes"},
        {"service_ticket": "WO-2", "customer": "C", "location": "L", "confirmed": "yes"},
    ])
    checked = inputs.check([csv_path, json_path], settings)
    assert [o.service_ticket for o in checked.confirmed] == ["WO-1", "WO-3"]
    assert checked.read == 4
    first, again = checked.problems
    assert (first.source, first.line, first.service_ticket) == (str(csv_path), 3, "WO-2")
    assert first.reason == f"service_ticket: also on {json_path}:8; a ticket may appear in " \
        "one record only"
    assert (again.source, again.line, again.service_ticket) == (str(json_path), 8, "WO-2")
    assert again.reason == f"service_ticket: also on {csv_path}:3; a ticket may appear in " \
        "one record only"


def test_unconfirmed_and_rejected_are_sorted_apart(tmp_path: Path, settings: Settings) -> None:
    path = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", confirmed=""),
                                           order("WO-3", confirmed="maybe")])
    checked = inputs.check([path], settings)
    assert [o.service_ticket for o in checked.confirmed] == ["WO-1"]
    assert [o.service_ticket for o in checked.unconfirmed] == ["WO-2"]
    assert [(p.line, p.service_ticket) for p in checked.problems] == [(4, "WO-3")]


def test_several_problems_in_one_record_all_named_in_one_reason() -> None:
    problem = bad(base(customer="", confirmed="maybe", tags=[1], invoice_date="yesterday",
                       currency="XYZ", tax_rate="lots", **item(quantity="many")))
    assert (problem.line, problem.service_ticket) == (7, "WO-1")
    fields = [reason.split(":")[0] for reason in problem.reason.split("; ")]
    assert fields == ["customer", "confirmed", "tags", "invoice_date", "currency", "tax_rate",
                      "item_quantity"]


def test_problem_line_is_the_earliest_bad_row() -> None:
    problem = bad(base(**item()), base(**item(price="x")), base(**item(quantity="y")),
                  line=30)
    assert problem.line == 31
    assert [r.split(":")[0] for r in problem.reason.split("; ")] == ["item_unit_price",
                                                                     "item_quantity"]
