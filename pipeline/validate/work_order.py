"""Check one raw record against the contract and turn it into a priced :class:`WorkOrder`.

Every problem of a record is collected (a clerk fixes them all in one go) and the record
becomes one :class:`Problem` naming each bad field; a good record becomes a frozen
:class:`WorkOrder` with amounts rounded as the contract says.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

from ..core import money
from ..core.company import Company
from ..core.errors import ConfigError
from ..core.fields import NO, REQUIRED, SHARED_FIELDS, TEXT_FIELDS, YES
from ..core.formats import OURS, Formats
from ..core.models import LineItem, Problem, RawRecord, WorkOrder
from ..core.text import CONTROL, MAX_OTHER_TEXT, TextError, clean_text, utf8
from .einvoice_fields import einvoice_facts
from .line_items import line_items, number
from .rows_agree import rows_agree

# What a launch page carries: checked alone when launch pages are written.
LAUNCH_TEXT = ("service_ticket", "customer", "location", "share_id")
LAUNCH_FIELDS = (*LAUNCH_TEXT, "tags")
MAX_TEXT = {"service_ticket": 100, "share_id": 200, "invoice_number": 100, "notes": 4000}
FIRST_YEAR, LAST_YEAR = 1900, 2999
_SINGLE_LINE = ("service_ticket", "share_id", "invoice_number")
# Else two tickets, or two invoice numbers, would print alike.
_ALL_VISIBLE = ("service_ticket", "invoice_number")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class _Record:
    """Collects the problems of one record while its fields are converted."""

    def __init__(self, record: RawRecord, formats: Formats = OURS) -> None:
        self.record = record
        self.formats = formats
        self.fields = record.rows[0][1]
        self.problems: list[tuple[int, str]] = []
        self.failed: set[str] = set()

    def fail(self, field: str, reason: str, line: int | None = None, *,
             term: str = "") -> None:
        """``term``: the EN 16931 business term the field states, named after it."""
        self.failed.add(field)
        named = self.formats.label(field)
        if term:  # a mapped field reads "Land (bill_to_country)": "Land (bill_to_country, BT-55)"
            named = f"{named[:-1]}, {term})" if named.endswith(")") else f"{named} ({term})"
        self.problems.append((line or self.record.line, f"{named}: {reason}"))

    def texts(self, names: tuple[str, ...]) -> dict[str, str]:
        """These text fields, the others blank; the loop inlines the common case (a fifth
        of ``validate``'s time)."""
        texts = dict.fromkeys(TEXT_FIELDS, "")
        fields = self.fields
        for field in names:
            value = fields.get(field)
            # Printable ASCII: no control, line break or NFC change is possible.
            if type(value) is str and value.isascii() and value.isprintable() \
                    and len(value) <= MAX_TEXT.get(field, MAX_OTHER_TEXT):
                texts[field] = value.strip()
            else:
                texts[field] = self.text(field)
        return texts

    def text(self, field: str) -> str:
        value = self.fields.get(field)
        if (isinstance(value, Decimal) and field in ("service_ticket", "invoice_number")
                and not str(value).isdigit()):
            # Reading wrote a whole ticket number in digits; this is 1.5, -3 or 1e400.
            self.fail(field, f"{value} is not a whole number of up to 64 digits: "
                             "give it as text")
            return ""
        try:
            return clean_text(value, limit=MAX_TEXT.get(field, MAX_OTHER_TEXT),
                              single_line=field in _SINGLE_LINE,
                              all_visible=field in _ALL_VISIBLE)
        except TextError as error:
            self.fail(field, str(error))
            return ""

    def confirmed(self, strict: bool = True) -> bool:
        if not strict:  # a launch page: the technician has not answered yet
            value = self.fields.get("confirmed")
            return isinstance(value, str | int | bool) and str(value).strip().lower() in YES
        if "confirmed" not in self.fields:
            # No "; " in a message: it separates the problems of one record.
            self.fail("confirmed", "missing (the column is required, though its value may "
                      "be blank)")
            return False
        value = self.fields["confirmed"]
        if value is None or isinstance(value, bool):
            return bool(value)
        answer = str(value).strip().lower() if isinstance(value, str | int | Decimal) else None
        if answer == "" or answer in NO or answer in self.formats.no:
            return False
        if answer in YES or answer in self.formats.yes:
            return True
        extra = "".join(f", {word}" for word in sorted(self.formats.yes | self.formats.no))
        self.fail("confirmed", f"{json.dumps(value, default=str):.40} is not yes/no, y/n, "
                  f"true/false or 1/0{extra}")
        return False

    def tags(self) -> tuple[str, ...]:
        value = self.fields.get("tags")
        if value is None or value == "":
            return ()
        # CSV has one cell for them, split at "|"; JSON has a list (the contract's types).
        items = value.split("|") if isinstance(value, str) and self.record.from_csv else value
        if not isinstance(items, list) or not all(isinstance(tag, str) for tag in items):
            self.fail("tags", "expected a list of strings")
            return ()
        joined = "".join(items)
        if not utf8(joined) or CONTROL.search(joined):
            self.fail("tags", "holds control characters or is not UTF-8 text")
            return ()
        return tuple(tag.strip() for tag in items if tag.strip())

    def day(self, field: str) -> date | None:
        value = self.fields.get(field)
        if value is None or value == "":
            return None
        text = self.text(field) if isinstance(value, str) else ""
        if isinstance(value, str) and not text:  # blank, or text() said what is wrong
            return None
        if self.formats.dates is not None:
            return self._formatted_day(field, value, text)
        try:
            # The pattern first: fromisoformat alone also takes 20261129 and 2026-W48-7.
            if _ISO_DATE.fullmatch(text):
                return self._plausible(field, text, date.fromisoformat(text))
        except ValueError:
            pass
        shown = repr(text) if isinstance(value, str) else json.dumps(value, default=str)
        self.fail(field, f"{shown:.40} is not an ISO date (YYYY-MM-DD)")
        return None

    def _formatted_day(self, field: str, value: object, text: str) -> date | None:
        """A date in the format the export's mapping names (``%m/%d/%Y``): no guessing."""
        try:
            day = self.formats.day(text)
        except ValueError:
            shown = repr(text) if isinstance(value, str) else json.dumps(value, default=str)
            self.fail(field, f"{shown:.40} is not a date like {self.formats.example()} "
                      f"({self.formats.dates})")
            return None
        return self._plausible(field, text, day)

    def _plausible(self, field: str, text: str, day: date) -> date | None:
        """``day``, if its year is one an invoice can have: 9999-12-31 plus the payment
        terms is no date at all, an overflow later."""
        if FIRST_YEAR <= day.year <= LAST_YEAR:
            return day
        self.fail(field, f"{text!r} is not a plausible invoice date (years "
                  f"{FIRST_YEAR} to {LAST_YEAR})")
        return None

    def currency(self, default: str) -> str:
        code = self.text("currency").upper() or default
        if code not in money.currencies():
            self.fail("currency", f"{code!r} is not an ISO 4217 currency code")
            return default
        return code

    def tax_rate(self) -> Decimal:
        value = self.fields.get("tax_rate")
        if value is None or (isinstance(value, str) and not value.strip()):
            return Decimal(0)
        rate = number(self.fail, "tax_rate", value, decimal=self.formats.decimal)
        if rate is not None and not 0 <= rate <= 100:
            self.fail("tax_rate", f"{rate} is not a percentage between 0 and 100")
            return Decimal(0)
        return rate or Decimal(0)


def validate(record: RawRecord, default_currency: str, *, for_launch: bool = False,
             formats: Formats = OURS, einvoice: Company | None = None) -> WorkOrder | Problem:
    """The work order, or the one problem report that names every bad field.

    ``for_launch`` checks only what a launch page carries (ticket, customer, location,
    tags, share ID): it is written before the work, when the technician's answer, the
    dates and the amounts may not exist yet, and their problems are the invoice's.
    ``formats``: how the export writes dates, numbers and yes/no, and names its fields
    (see :mod:`.mapping_file`). ``einvoice``: the seller, when the run makes e-invoices,
    which require more facts (:mod:`.einvoice_fields`).
    """
    check = _Record(record, formats)
    text = check.texts(LAUNCH_TEXT if for_launch else TEXT_FIELDS)
    for field in REQUIRED:
        if not text[field] and field not in check.failed:
            check.fail(field, "required, but blank or missing")
    rows_agree(record, LAUNCH_FIELDS if for_launch else SHARED_FIELDS, check.fail)
    confirmed = check.confirmed(strict=not for_launch)
    tags = check.tags()
    invoice_date = due_date = None
    currency, tax_rate, items = default_currency, Decimal(0), tuple[LineItem, ...]()
    facts: dict[str, Any] = {}
    if not for_launch:
        invoice_date, due_date = check.day("invoice_date"), check.day("due_date")
        if invoice_date and due_date and due_date < invoice_date:
            check.fail("due_date", f"{due_date} is before the invoice date {invoice_date}")
        currency = check.currency(default_currency)
        tax_rate = check.tax_rate()
        items = line_items(record, check.fields, currency, check.fail, formats)
        facts = einvoice_facts(text, tax_rate, check.day("service_date"), check.fail,
                               seller=einvoice, currency=currency)
    subtotal = sum((item.amount for item in items), Decimal(0))
    subtotal = money.round_money(subtotal, currency)
    if abs(subtotal) >= money.LARGEST:  # many lines each below the bound can still add up
        check.fail("line_items", f"subtotal {subtotal:f} is not below {money.LARGEST:,.0f}")
    ticket = text["service_ticket"] or None
    if check.problems:
        line = min(line for line, _ in check.problems)
        return Problem(record.source, line, ticket, "; ".join(r for _, r in check.problems))
    tax = money.tax_amount(subtotal, tax_rate, currency)
    return WorkOrder(
        source=record.source,
        line=record.line,
        service_ticket=text["service_ticket"],
        customer=text["customer"],
        location=text["location"],
        confirmed=confirmed,
        share_id=text["share_id"] or None,
        tags=tags,
        invoice_number=text["invoice_number"] or f"INV-{text['service_ticket']}",
        invoice_date=invoice_date,
        due_date=due_date,
        bill_to_name=text["bill_to_name"] or text["customer"],
        bill_to_email=text["bill_to_email"],
        bill_to_address=text["bill_to_address"] or _postal(text) or text["location"],
        technician=text["technician"],
        notes=text["notes"],
        po_number=text["po_number"],
        currency=currency,
        tax_rate=tax_rate,
        line_items=items,
        subtotal=subtotal,
        tax=tax,
        total=subtotal + tax,
        **facts,
    )


def _postal(text: dict[str, str]) -> str:
    """The buyer's structured address as printed lines, for the PDF to state what the
    e-invoice states when no ``bill_to_address`` is given."""
    lines = (text["bill_to_street"],
             f"{text['bill_to_postcode']} {text['bill_to_city']}".strip(),
             text["bill_to_country"].upper())
    return "\n".join(line for line in lines if line) if any(lines[:2]) else ""


def canonical_ticket(value: str) -> str:
    """A ticket named on the command line, spelled as a validated export spells it (NFC,
    trimmed): share-url, launch, regenerate and ``--only`` all find it by this key."""
    check = _Record(RawRecord("command line", 1, ((1, {"service_ticket": value}),)))
    ticket = check.text("service_ticket")
    if check.problems:
        reason = check.problems[0][1].removeprefix("service_ticket: ")
        raise ConfigError(f"TICKET {value.strip()[:40]!r}: {reason}")
    if not ticket:
        raise ConfigError("TICKET is blank")
    return ticket


def command_line_order(ticket: str, customer: str, location: str, tags: tuple[str, ...] = (),
                       share_id: str | None = None) -> WorkOrder:
    """A work order typed on the command line (``launch --ticket``), checked like an
    input row for what a launch page carries; :class:`ConfigError` says what is wrong."""
    fields = {"service_ticket": canonical_ticket(ticket), "customer": customer,
              "location": location, "confirmed": "", "share_id": share_id or "",
              "tags": list(tags)}
    result = validate(RawRecord("command line", 1, ((1, fields),)), "USD", for_launch=True)
    if isinstance(result, Problem):
        raise ConfigError(result.reason)
    return result
