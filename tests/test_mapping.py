"""Mapping files as the library reads them: each rule of issue 14 on a small export."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import config
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, InputError
from pipeline.read import load_mapping
from pipeline.validate import check

HEAD = "service_ticket,customer,location,confirmed"


def checked(settings: Settings, tmp_path: Path, mapping: str, name: str,
            content: str | bytes) -> tuple[dict[str, object], list[str]]:
    """The work orders of one export read through ``mapping``, by ticket, and problems."""
    (tmp_path / "m.toml").write_text(mapping, encoding="utf-8")
    export = tmp_path / name
    if isinstance(content, bytes):
        export.write_bytes(content)
    else:
        export.write_text(content, encoding="utf-8")
    result = check([export], Settings(**{**settings.__dict__, "mapping": tmp_path / "m.toml"}))
    orders = {order.service_ticket: order for order in [*result.confirmed, *result.unconfirmed]}
    return orders, [f"{p.line}: {p.reason}" for p in result.problems]


def test_unmapped_fields_keep_our_names_and_constants_fill_in(settings: Settings,
                                                              tmp_path: Path) -> None:
    orders, problems = checked(
        settings, tmp_path, '[fields]\ncustomer = "Client"\n[values]\ncurrency = "CAD"\n'
        'technician = "Front desk"\n', "e.csv",
        "service_ticket,Client,location,confirmed,notes,item_description,item_unit_price\n"
        "T1,Ann,1 Main St,yes,Gate code 42,Visit,10.00\n")
    assert problems == []
    order = orders["T1"]
    assert (order.customer, order.notes, order.currency, order.technician) == \
        ("Ann", "Gate code 42", "CAD", "Front desk")


def test_a_list_of_columns_is_joined_blanks_skipped(settings: Settings, tmp_path: Path) -> None:
    orders, _ = checked(settings, tmp_path, '[fields]\nlocation = ["St", "Unit", "City"]\n',
                        "e.csv", "service_ticket,customer,confirmed,St,Unit,City\n"
                        "T1,Ann,yes, 1 Main St ,,Boise\nT2,Bob,yes,,,\n")
    assert orders["T1"].location == "1 Main St, Boise"
    assert "T2" not in orders


def test_a_json_path_picks_from_a_list_by_key(settings: Settings, tmp_path: Path) -> None:
    mapping = ('[fields]\nservice_ticket = "job.number"\ncustomer = "customer.name"\n'
               'location = "site"\nconfirmed = "customFields[name=XOi Completed].value"\n'
               'item_description = "sku.name"\nitem_unit_price = "price"\n'
               '[json]\nrecords = "page.data"\nline_items = "items"\n')
    export = ('{"page": {"data": [{"job": {"number": "J1"}, "customer": {"name": "Ann"}, '
              '"site": "1 Main St", "customFields": [{"name": "Other", "value": "no"}, '
              '{"name": "xoi completed", "value": "yes"}], "items": [{"sku": {"name": "Fan"}, '
              '"price": "12.5", "quantity": 2}]}]}}')
    orders, problems = checked(settings, tmp_path, mapping, "e.json", export)
    assert problems == []
    order = orders["J1"]
    assert order.confirmed and order.customer == "Ann" and order.total == 25
    assert [item.description for item in order.line_items] == ["Fan"]


def test_json_problems_name_the_item_path_with_ours(settings: Settings, tmp_path: Path) -> None:
    mapping = ('[fields]\nitem_unit_price = "price"\n[json]\nline_items = "items"\n')
    export = ('[{"service_ticket": "J1", "customer": "Ann", "location": "x", "confirmed": '
              '"yes", "items": [{"description": "Fan", "price": "lots"}]}]')
    _, problems = checked(settings, tmp_path, mapping, "e.json", export)
    assert problems == ["1: items[1].price (line_items[1].unit_price): 'lots' is not a number"]


def test_the_list_of_work_orders_at_no_such_path(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        checked(settings, tmp_path, '[json]\nrecords = "data"\n', "e.json", '{"items": []}')
    assert str(raised.value) == (f"{tmp_path / 'e.json'}:1: expected the list of work orders "
                                 "at 'data' ([json] records in the mapping)")


def test_dates_in_the_mappings_format_only(settings: Settings, tmp_path: Path) -> None:
    orders, problems = checked(
        settings, tmp_path, '[format]\ndate = "%d.%m.%Y"\n', "e.csv",
        f"{HEAD},invoice_date,due_date,item_description,item_unit_price\n"
        "T1,Ann,x,yes,28.11.2026,05.01.2027,Visit,1\nT2,Bob,x,yes,2026-11-28,,Visit,1\n")
    assert str(orders["T1"].invoice_date) == "2026-11-28"
    assert str(orders["T1"].due_date) == "2027-01-05"
    assert problems == ["3: invoice_date: '2026-11-28' is not a date like 28.11.2026 "
                        "(%d.%m.%Y)"]


def test_decimal_comma_and_cents(settings: Settings, tmp_path: Path) -> None:
    orders, problems = checked(
        settings, tmp_path, '[format]\ndecimal = ","\ncents = ["item_unit_price"]\n'
        'delimiter = ";"\n', "e.csv",
        "service_ticket;customer;location;confirmed;tax_rate;item_description;"
        "item_quantity;item_unit_price\n"
        "T1;Ann;x;yes;8,25;Visit;1.000;1250\nT2;Bob;x;yes;;Visit;1.5;100\n"
        "T3;Cy;x;yes;;Visit;1;12,5\n")
    order = orders["T1"]
    assert (order.tax_rate, order.line_items[0].quantity, order.line_items[0].unit_price) \
        == (8.25, 1000, 12.5)
    assert problems == [
        "3: item_quantity: '1.5' is not a number like 1.234,50",
        "4: item_unit_price: line item 1 12.5 is not a whole number of minor units (cents)"]


def test_cents_follow_the_currencys_minor_unit(settings: Settings, tmp_path: Path) -> None:
    orders, _ = checked(settings, tmp_path,
                        '[values]\ncurrency = "JPY"\n[format]\ncents = ["item_unit_price"]\n',
                        "e.csv", f"{HEAD},item_description,item_unit_price\nT1,A,x,yes,V,1250\n")
    assert orders["T1"].total == 1250


def test_more_words_for_yes_and_no(settings: Settings, tmp_path: Path) -> None:
    orders, problems = checked(
        settings, tmp_path, '[values]\nyes = ["Completed", "Done"]\nno = ["Pending"]\n',
        "e.csv", f"{HEAD},item_description,item_unit_price\nT1,A,x,DONE,V,1\n"
        "T2,B,x,pending,V,1\nT3,C,x,Yes,V,1\nT4,D,x,Later,V,1\n")
    assert (orders["T1"].confirmed, orders["T2"].confirmed, orders["T3"].confirmed) == \
        (True, False, True)
    assert problems == ['5: confirmed: "Later" is not yes/no, y/n, true/false or 1/0, '
                        "completed, done, pending"]


def test_another_encoding_and_its_error(settings: Settings, tmp_path: Path) -> None:
    text = f"{HEAD},item_description,item_unit_price\nT1,Zoë Müller,x,yes,V,1\n"
    orders, _ = checked(settings, tmp_path, '[format]\nencoding = "cp1252"\n', "e.csv",
                        text.encode("cp1252"))
    assert orders["T1"].customer == "Zoë Müller"
    with pytest.raises(InputError) as raised:
        checked(settings, tmp_path, '[format]\nencoding = "cp1252"\n', "e.csv",
                text.encode("cp1252") + b"T2,\x81,x,yes,V,1\n")
    assert str(raised.value).endswith(":3: not cp1252 (byte 0x81); is [format] encoding in "
                                      "the mapping right?")


def test_a_utf8_mapping_accepts_a_bom(settings: Settings, tmp_path: Path) -> None:
    orders, _ = checked(settings, tmp_path, '[format]\nencoding = "UTF-8"\n', "e.csv",
                        f"\ufeff{HEAD},item_description,item_unit_price\nT1,A,x,yes,V,1\n")
    assert list(orders) == ["T1"]


def test_the_mapping_setting_from_toml_and_environment(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf/x.toml").write_text('mapping = "m.toml"\n')
    assert config.resolve(config_file=tmp_path / "conf/x.toml", environ={}).mapping == \
        tmp_path / "conf/m.toml"
    assert config.resolve(environ={"XOI_MAPPING": "e.toml"}, cwd=tmp_path).mapping == \
        Path("e.toml")
    assert config.resolve({"mapping": "o.toml"}, environ={"XOI_MAPPING": "e.toml"},
                          cwd=tmp_path).mapping == Path("o.toml")


def test_a_mapping_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_mapping(tmp_path / "none.toml")
    assert str(raised.value) == f"{tmp_path / 'none.toml'}: cannot read the mapping: no " \
        "such file"
    (tmp_path / "m.toml").write_text('[fields]\ncustomer = "A"\n[values]\nyes = ["No"]\n')
    with pytest.raises(ConfigError) as raised:
        load_mapping(tmp_path / "m.toml")
    assert str(raised.value).endswith("m.toml:4: [values] yes: 'no' already means no")


def test_a_path_the_file_has_in_no_item(settings: Settings, tmp_path: Path) -> None:
    export = ('[{"service_ticket": "J1", "customer": "Ann", "location": "x", "confirmed": '
              '"yes", "items": [{"name": "Fan", "price": "1"}]}]')
    with pytest.raises(ConfigError) as raised:
        checked(settings, tmp_path, '[fields]\nitem_description = "nmae"\n'
                'item_unit_price = "price"\n[json]\nline_items = "items"\n', "e.json", export)
    assert str(raised.value).endswith(
        "e.json: the mapping m.toml names path 'nmae' (item_description; closest: 'name'), "
        "which no line item of this file has; its paths: name, price")
