"""The line items of one work order: JSON ``line_items`` objects or CSV item columns
(one row per item), each checked and priced as the contract says.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from ..core import money, units
from ..core.fields import ITEM_COLUMNS
from ..core.formats import OURS, Formats
from ..core.models import LineItem, RawRecord
from ..core.text import MAX_OTHER_TEXT, TextError, TooLong, clean_text


class Fail(Protocol):
    def __call__(self, field: str, reason: str, line: int | None = None, *,
                 term: str = "") -> None:
        """``line`` None: the record's; ``term``: the EN 16931 business term it states."""


def number(fail: Fail, field: str, value: Any, line: int | None = None, *,
           decimal: str | None = None) -> Decimal | None:
    try:
        return money.to_decimal(value, decimal)
    except ValueError as error:
        fail(field, str(error), line)
        return None


def line_items(record: RawRecord, fields: dict[str, Any], currency: str,
               fail: Fail, formats: Formats = OURS) -> tuple[LineItem, ...]:
    """The record's items, priced; each problem goes to ``fail(field, reason, line)``."""
    value = fields.get("line_items")
    if value is not None:
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            fail("line_items", "expected a list of objects", None)
            return ()
        rows = [(record.line, {f"item_{k.strip().lower()}": v for k, v in item.items()})
                for item in value]
        # A CSV row without an item is just a ticket row, but a listed JSON item that
        # names none of the fields (say {"name": ..., "price": ...}) would otherwise
        # vanish silently from the invoice and its total.
        for index, (_, row) in enumerate(rows, start=1):
            if not any(name in row for name in ITEM_COLUMNS):
                fail("line_items", f"line item {index} has none of description, "
                     "quantity, unit_price", None)
    else:
        rows = list(record.rows)
    items = []
    for index, (line, row) in enumerate(rows, start=1):
        item = _line_item(index, line, row, currency, value is not None, fail, formats)
        if item is not None:
            items.append(item)
    return tuple(items)


def _line_item(index: int, line: int, row: dict[str, Any], currency: str, listed: bool,
               fail: Fail, formats: Formats) -> LineItem | None:
    """One line item; ``listed``: from a JSON ``line_items`` list, not item columns."""
    cells = {name: row.get(name) for name in ITEM_COLUMNS}
    if all(cell is None or str(cell).strip() == "" for cell in cells.values()):
        return None
    # Named as the input names them: CSV columns, or the JSON item's own fields.
    name = {field: f"line_items[{index}].{field}" if listed else f"item_{field}"
            for field in ("description", "quantity", "unit_price", "unit")}
    where = "" if listed else f"line item {index} "
    raw = cells["item_description"]
    if type(raw) in (int, Decimal) and not raw:  # 0: no description, like a blank cell
        raw = None
    try:
        # A CR is a control character here, not a line break as in notes.
        description = clean_text(raw, limit=MAX_OTHER_TEXT, crlf=False)
    except TooLong as error:
        # The item is still priced: its other problems are told too.
        fail(name["description"], f"{where}is {error}", line)
        description = error.text
    except TextError as error:
        fail(name["description"], f"{where}{error}", line)
        return None
    if not description:
        fail(name["description"], f"{where}has no description", line)
    quantity = number(fail, name["quantity"], cells["item_quantity"]
                      if str(cells["item_quantity"] or "").strip() else "1", line,
                      decimal=formats.decimal)
    price = None
    if cells["item_unit_price"] is None or str(cells["item_unit_price"]).strip() == "":
        # Not "None is not a number": the clerk needs to hear the price is missing.
        fail(name["unit_price"], f"{where}has no unit price", line)
    else:
        price = number(fail, name["unit_price"], cells["item_unit_price"], line,
                       decimal=formats.decimal)
        if price is not None and "item_unit_price" in formats.cents:
            try:
                price = money.from_minor_units(price, currency)
            except ValueError as error:
                fail(name["unit_price"], f"{where}{error}", line)
                price = None
    unit = units.DEFAULT_UNIT
    if cells["item_unit"] is not None:
        try:
            unit = units.unit_code(str(cells["item_unit"]))
        except ValueError as error:
            fail(name["unit"], f"{where.strip()}: {error}" if where else str(error), line,
                 term="BT-130")
            return None
    if quantity is None or price is None or not description:
        return None
    if quantity <= 0:
        fail(name["quantity"], f"{where}quantity {quantity} is not positive", line)
        return None
    try:
        amount = money.line_amount(quantity, price, currency)
    except ValueError as error:
        fail(name["unit_price"], f"{where}{error}", line)
        return None
    return LineItem(description, quantity, price, amount, unit)
