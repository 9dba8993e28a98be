"""Money is :class:`~decimal.Decimal`, never float, rounded half-up to the currency's minor unit."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    list_currencies,
)

# Far beyond any invoice, small enough that arithmetic on it stays exact and instant.
LARGEST = Decimal("1e12")
HUNDRED = Decimal(100)


@cache
def currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def minor_unit(currency: str) -> Decimal:
    """``Decimal('0.01')`` for USD, ``Decimal('1')`` for JPY, ``Decimal('0.001')`` for KWD."""
    return Decimal(1).scaleb(-int(get_currency_precision(currency)))


def round_money(value: Decimal, currency: str) -> Decimal:
    rounded = value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
    return rounded or abs(rounded)  # -0.004 rounds to -0.00: print $0.00, not -$0.00


def to_decimal(value: object, decimal: str | None = None) -> Decimal:
    """A finite decimal of sane size from text or a JSON number; ``ValueError`` otherwise.

    ``decimal``: the export's decimal mark, as its mapping says (``","``: ``1.234,50``),
    its thousands separator the other one; None: a point and no separators.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{value!r} is not a number")
    text = str(value).strip()
    shown = repr(text if len(text) <= 40 else text[:37] + "...")  # one readable line
    if decimal is not None and isinstance(value, str):
        text = _plain(text, decimal, shown)
    # Decimal() alone also reads 1_000 and Arabic-Indic or full-width digits: in an export
    # those are typos or another convention, not amounts to bill.
    if isinstance(value, str) and (not text.isascii() or "_" in text):
        raise ValueError(f"{shown} is not a number (digits 0-9, a point for decimals)")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{shown} is not a number") from None
    # copy_abs(), not abs(): abs() rounds in the context and overflows on 1e1000000.
    if not number.is_finite() or number.copy_abs() >= LARGEST:
        raise ValueError(f"{shown} is not a finite amount below {LARGEST:,.0f}")
    if number.as_tuple().exponent < -6:  # type: ignore[operator]
        raise ValueError(f"{shown} has more than 6 decimal places")
    return number or number.copy_abs()  # "-0" is 0: never "-$0.00" on the invoice


_GROUPED = {mark: re.compile(rf"[-+]?(?:\d{{1,3}}(?:{re.escape(other)}\d{{3}})+|\d+)"
                             rf"(?:{re.escape(mark)}\d+)?", re.ASCII)
            for mark, other in ((".", ","), (",", "."))}


def _plain(text: str, decimal: str, shown: str) -> str:
    """``1.234,50`` as ``1234.50``: separators only between groups of three digits, so
    that ``1.5`` in a decimal-comma file is an error, not fifteen."""
    if not _GROUPED[decimal].fullmatch(text):
        example = "1,234.50" if decimal == "." else "1.234,50"
        raise ValueError(f"{shown} is not a number like {example}")
    return text.replace("." if decimal == "," else ",", "").replace(",", ".")


def from_minor_units(amount: Decimal, currency: str) -> Decimal:
    """``12950`` cents as ``129.50``; ``ValueError`` unless it is a whole number."""
    if amount != amount.to_integral_value():
        raise ValueError(f"{amount:f} is not a whole number of minor units (cents)")
    return amount.to_integral_value() * minor_unit(currency)


def line_amount(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    """The rounded amount; ``ValueError`` when it is not below :data:`LARGEST`.

    Below that bound the product (at most 24 digits) and any sum of such amounts stay exact
    in the default 28-digit context; above it quantize() fails with InvalidOperation.
    """
    amount = quantity * unit_price
    if abs(amount) >= LARGEST:
        raise ValueError(f"amount {amount:f} is not below {LARGEST:,.0f}")
    return round_money(amount, currency)


def tax_amount(subtotal: Decimal, rate_percent: Decimal, currency: str) -> Decimal:
    return round_money(subtotal * rate_percent / HUNDRED, currency)


def plain(amount: Decimal) -> str:
    """``1234.50``: the manifest's machine-readable form, never scientific notation."""
    return f"{amount:f}"


def format_money(amount: Decimal, currency: str, locale: str = "en_US", *,
                 exact: bool = False) -> str:
    """``$1,234.50`` in en_US, ``1.234,50 €`` in de_DE.

    ``exact`` keeps digits below the minor unit (a unit price of ``$19.995``): rounded,
    the printed price times the quantity would not give the printed amount.
    """
    text = str(format_currency(amount, currency, locale=locale,
                               decimal_quantization=not exact))
    return _spaced(text, str(get_currency_symbol(currency, locale=locale)))


def _spaced(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a symbol whose side toward the
    digits is a letter, not a sign, gets a no-break space there (``SAR\u00a04,647.15``,
    ``CHF\u00a012.00``) while ``$4,647.15`` and ``4.647,15\u00a0€`` stay as they are."""
    start = text.find(symbol)
    if not symbol or start < 0:
        return text
    end = start + len(symbol)
    if text[end:end + 1].isdigit() and _letter_like(symbol[-1]):
        return f"{text[:end]}\u00a0{text[end:]}"
    if text[start - 1:start].isdigit() and _letter_like(symbol[0]):
        return f"{text[:start]}\u00a0{text[start:]}"
    return text


def _letter_like(char: str) -> bool:
    """Neither a symbol (``$``, ``€``) nor a space: CLDR's ``[[:^S:]&[:^Z:]]``."""
    return unicodedata.category(char)[0] not in "SZ"
