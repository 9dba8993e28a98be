"""Frozen, typed records that travel between the stages of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from .fields import EINVOICE_TEXT


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One work order as read from a file, before any check.

    ``rows`` holds every CSV row of the ticket (one per line item) with its line number;
    a JSON record has exactly one row.
    """

    source: str
    line: int
    rows: tuple[tuple[int, dict[str, Any]], ...]
    from_csv: bool = False  # its values are all text: tags in one "|"-separated cell


@dataclass(frozen=True, slots=True)
class LineItem:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    unit: str = "C62"  # UN/ECE Rec 20 (core/units.py): C62 is "one", a plain count


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """A valid work order; amounts already rounded to the currency's minor unit."""

    source: str
    line: int
    service_ticket: str
    customer: str
    location: str
    confirmed: bool
    share_id: str | None
    tags: tuple[str, ...]
    invoice_number: str
    invoice_date: date | None
    due_date: date | None
    bill_to_name: str
    bill_to_email: str
    bill_to_address: str
    technician: str
    notes: str
    po_number: str
    currency: str
    tax_rate: Decimal
    line_items: tuple[LineItem, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    # What an e-invoice states besides the above (SPEC, "E-invoices"); blank: not given.
    bill_to_street: str = ""
    bill_to_postcode: str = ""
    bill_to_city: str = ""
    bill_to_country: str = ""
    buyer_vat_id: str = ""
    buyer_reference: str = ""
    service_date: date | None = None
    tax_category: str = ""
    tax_exemption_reason: str = ""


@dataclass(frozen=True, slots=True)
class Invoice:
    """A confirmed work order with its published share link: everything the PDF shows."""

    order: WorkOrder
    share_id: str
    share_url: str
    invoice_date: date
    due_date: date

    @property
    def ticket(self) -> str:
        return self.order.service_ticket

    def as_data(self) -> dict[str, Any]:
        """Every fact of the invoice as JSON-ready data (fingerprint, embedded invoice.json)."""
        order = self.order
        return {
            "invoice_number": order.invoice_number,
            "service_ticket": order.service_ticket,
            "invoice_date": self.invoice_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "customer": order.customer,
            "location": order.location,
            "bill_to": {"name": order.bill_to_name, "email": order.bill_to_email,
                        "address": order.bill_to_address},
            "technician": order.technician,
            "po_number": order.po_number,
            "notes": order.notes,
            "tags": list(order.tags),
            "currency": order.currency,
            "line_items": [
                {"description": item.description, "quantity": f"{item.quantity:f}",
                 "unit_price": f"{item.unit_price:f}", "amount": f"{item.amount:f}",
                 **({"unit": item.unit} if item.unit != "C62" else {})}
                for item in order.line_items
            ],
            "subtotal": f"{order.subtotal:f}",
            "tax_rate": f"{order.tax_rate:f}",
            "tax": f"{order.tax:f}",
            "total": f"{order.total:f}",
            "share_id": self.share_id,
            "share_url": self.share_url,
            # Only what was given: an invoice without these keeps its data, and its
            # fingerprint, as before they existed.
            **{name: getattr(order, name) for name in EINVOICE_TEXT if getattr(order, name)},
            **({"service_date": order.service_date.isoformat()} if order.service_date else {}),
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one work order was rejected."""

    source: str
    line: int
    service_ticket: str | None
    reason: str  # "field: what is wrong", several joined by "; "

    def __str__(self) -> str:
        ticket = f"ticket {self.service_ticket}: " if self.service_ticket else ""
        return f"{self.source}:{self.line}: {ticket}{self.reason}"

    def as_report(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "service_ticket": self.service_ticket,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Warning_:
    """Something published as asked but worth a look (a short or all-digit share ID)."""

    source: str
    line: int
    service_ticket: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: ticket {self.service_ticket}: {self.message}"

    def as_report(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line,
                "service_ticket": self.service_ticket, "message": self.message}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One invoice PDF that is in the output folder."""

    service_ticket: str
    invoice_number: str
    customer: str
    share_id: str
    share_url: str
    pdf: str
    sha256: str
    pages: int
    total: Decimal
    currency: str
    fingerprint: str = ""
    rendered_at: str = ""
    invoice_date: str = ""  # ISO; an issued invoice keeps its date on re-render
    withdrawn: bool = False  # its work order became unconfirmed; out of the manifest
    xml_sha256: str = ""  # of the e-invoice XML the PDF embeds ("": it is no e-invoice)


@dataclass(frozen=True, slots=True)
class Failure:
    service_ticket: str
    reason: str


@dataclass(slots=True)
class Outcome:
    """What one run did; becomes ``report.json`` and the final summary line."""

    read: int = 0
    confirmed: int = 0
    unconfirmed: list[str] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)
    seconds: float = 0.0
    # Records with problems outside the tickets a command named (``--only``, regenerate):
    # counted, not listed, so a clerk's command answers about its own tickets.
    others_rejected: int = 0
    others_unconfirmed: int = 0  # likewise: unconfirmed work orders of tickets not named
    interrupted: bool = False  # stopped by a signal; ``left`` invoices wait for the next run
    left: int = 0
    delivery: Delivered | None = None  # what ``run --send`` emailed; None: it sent nothing

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed and \
            (self.delivery is None or self.delivery.ok)

    def checked(self) -> str:
        """What ``validate`` checked, in one line (the command's and the desk's)."""
        orders = "work order" if self.read == 1 else "work orders"
        return (f"checked {self.read:,} {orders}: {self.confirmed:,} confirmed, "
                f"{len(self.unconfirmed):,} unconfirmed, {len(self.rejected):,} rejected, "
                f"{len(self.warnings):,} warnings")

    def summary(self) -> str:
        if self.interrupted:
            sending = f"; {self.delivery.so_far()}" if self.delivery else ""
            return f"interrupted: {len(self.rendered):,} rendered, {self.left:,} left for " \
                f"the next run{sending}"
        rendering = (
            f"rendered {len(self.rendered):,}, unchanged {len(self.unchanged):,}, "
            f"unconfirmed {len(self.unconfirmed):,}, rejected {len(self.rejected):,}, "
            f"failed {len(self.failed):,} in {self.seconds:.1f} s"
        )
        return f"{rendering}\n{self.delivery.summary()}" if self.delivery else rendering


@dataclass(slots=True)
class Delivered:
    """What one ``send`` (or the sending step of ``run --send``) did; tickets."""

    sent: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)
    # Of ``skipped``, the tickets with no bill_to_email: billed another way, not a problem
    # (a nightly cron's exit status must not cry wolf over them every night).
    unaddressed: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    would_send: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    interrupted: bool = False  # stopped by a signal; ``left`` messages wait for the next send
    left: int = 0

    @property
    def ok(self) -> bool:
        """A dry run only tells; otherwise nothing failed or was skipped for a reason
        someone must fix."""
        return self.dry_run or (not self.failed
                                and len(self.skipped) == len(self.unaddressed))

    def counts(self) -> dict[str, int]:
        """The ``delivery`` entry of ``report.json``."""
        return {"sent": len(self.sent), "failed": len(self.failed),
                "skipped": len(self.skipped)}

    def report(self) -> dict[str, object]:
        """``send``'s summary event in a JSON log."""
        return {**self.counts(), "without_address": len(self.unaddressed),
                "already_sent": len(self.already_sent),
                "dry_run": self.dry_run, "interrupted": self.interrupted, "left": self.left,
                "seconds": round(self.seconds, 3)}

    def summary(self) -> str:
        if self.dry_run:
            return (f"dry run: would send {len(self.would_send):,}, skip "
                    f"{len(self.skipped):,}, already sent {len(self.already_sent):,}; "
                    "nothing was sent")
        if self.interrupted:
            return f"interrupted: {self.so_far()}"
        unaddressed = f" ({len(self.unaddressed):,} without an address)" \
            if self.unaddressed else ""
        return (f"sent {len(self.sent):,}, failed {len(self.failed):,}, skipped "
                f"{len(self.skipped):,}, already sent {len(self.already_sent):,} in "
                f"{self.seconds:.1f} s{unaddressed}")

    def so_far(self) -> str:
        """What a stopped send did and left."""
        return (f"sent {len(self.sent):,}, failed {len(self.failed):,}, skipped "
                f"{len(self.skipped):,}, {self.left:,} left for the next send")
