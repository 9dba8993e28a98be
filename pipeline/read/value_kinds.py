"""What a sample of an export's values says about a column, for ``mapping draft``: yes/no
answers, money, dates, quantities, or text.

A name alone misleads (``Unit $`` is a price, not the unit of an address); the values
settle it. Only what every non-blank value of the sample agrees on counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..core.fields import NO, YES

YES_NO, MONEY, DATE, QUANTITY, TEXT = "yes/no", "money", "date", "quantity", "text"
ZERO_ONE = "0/1"  # 1 and 0 alone are as likely a count as an answer
NUMBERS = frozenset({MONEY, QUANTITY, ZERO_ONE})

_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ][\d:.+Z-]*)?|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")
_CURRENCY = "$€£¥"
# 1234.50, 1,234.50, 1.234,50, 12,50, $80, -25.00 €: digits with separators and a sign
_NUMBER = re.compile(rf"[-+]?[{_CURRENCY}]?\s?[-+]?(?:\d{{1,3}}(?:[,. ']\d{{3}})+|\d+)"
                     rf"(?:[.,]\d+)?\s?[{_CURRENCY}]?")
_CENTS = re.compile(r".*\d[.,]\d\d\D*")
_MONEY_WORDS = ("price", "amount", "cost", "total", "rate", "fee", "charge")
_ANSWERS = 5  # other answers of a yes/no column named in a draft
# What the column of each field may hold (see kind; None: no value seen to tell by).
_NUMBER_FIELDS = ("item_quantity", "item_unit_price", "tax_rate")
_DATE_FIELDS = ("invoice_date", "due_date")
_IDENTIFIERS = ("service_ticket", "invoice_number", "po_number", "share_id")


def fits(ours: str, seen: str | None) -> bool:
    """Whether a column whose values are of kind ``seen`` can be ``ours``."""
    if seen is None:
        return True
    if ours in _NUMBER_FIELDS:
        return seen in NUMBERS
    if ours in _DATE_FIELDS:
        return seen == DATE
    if ours == "confirmed":
        return seen in (YES_NO, ZERO_ONE, TEXT)  # TEXT: words for [values] yes / no
    if ours in _IDENTIFIERS:
        return seen in (TEXT, QUANTITY)
    return seen == TEXT


def part_fits(is_zip: bool, seen: str | None) -> bool:
    """Whether a column of values of kind ``seen`` can be part of an address: text, or
    digits for the postal code; never a price, a date or an answer."""
    return seen in (None, TEXT) or (is_zip and seen in NUMBERS)


def column_values(rows: list[list[Any]], names: list[str]) -> dict[str, list[str]]:
    """Each name → the values under it as text (``rows``: one value per name)."""
    values: dict[str, list[str]] = {name: [] for name in names}
    for row in rows:
        for name, value in zip(names, row, strict=False):
            text = sample_text(value)
            if text is not None:
                values[name].append(text)
    return values


def other_answers(values: Iterable[str]) -> list[str]:
    """The answers of a yes/no column that are no built-in word (``Completed``,
    ``Pending``), as first written: for the mapping's [values] yes / no."""
    found: dict[str, str] = {}
    for value in values:
        word = value.strip()
        if word and word.lower() not in YES | NO:
            found.setdefault(word.lower(), word)
    return list(found.values())[:_ANSWERS]


def sample_text(value: Any) -> str | None:
    """A JSON or CSV value as the text the checks read; ``None`` for a list or object."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return None
    return "" if value is None else str(value)


def kind(name: str, values: Iterable[str]) -> str | None:
    """:data:`YES_NO`, :data:`ZERO_ONE`, :data:`MONEY`, :data:`DATE`, :data:`QUANTITY`,
    :data:`TEXT`, or ``None`` when no value was seen to tell by."""
    seen = [value.strip() for value in values if value.strip()]
    if not seen:
        return None
    words = {value.lower() for value in seen}
    if words <= {"0", "1"}:
        return ZERO_ONE
    if words <= YES | NO:
        return YES_NO
    if all(_DATE.fullmatch(value) for value in seen):
        return DATE
    if not all(_NUMBER.fullmatch(value) for value in seen):
        return TEXT
    lowered = name.lower()
    if any(sign in name for sign in _CURRENCY) or any(word in lowered for word in _MONEY_WORDS) \
            or any(sign in value for value in seen for sign in _CURRENCY) \
            or all(_CENTS.fullmatch(value) for value in seen):
        return MONEY
    return QUANTITY


def formats(values: list[str]) -> list[str]:
    """The [format] lines the values call for: dates written day or month first, a
    decimal comma."""
    lines = []
    if any(re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value.strip()) for value in values):
        lines.append('date = "%m/%d/%Y"          # dates like 11/28/2026 seen; or %d/%m/%Y?')
    elif any(re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", value.strip()) for value in values):
        lines.append('date = "%d.%m.%Y"          # dates like 28.11.2026 seen')
    if any(re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d{1,2}", value.strip()) for value in values):
        lines.append('decimal = ","              # amounts like 1.234,50 seen')
    return lines
