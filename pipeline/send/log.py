"""What was emailed: send's tables in the folder's ledger, and the text of
``deliveries.csv`` (:meth:`OutputFolder.write_deliveries` writes it).

Two tables in the ledger's file (``ledger.sqlite3``), send's own: :class:`BillingFacts`
creates them, as the ledger's annex when a run opens it and as :class:`DeliveryLog` when
a ``send`` does (a ledger written before email delivery existed has neither):

- ``invoice_mail``: per ticket, the facts of its current PDF that a message needs and the
  ledger does not keep (recipient, due date...), tagged with that PDF's sha256. The
  ledger writes them in the transaction that records the PDF (its annex), so facts that
  do not match the ledger's sha256 are never used.
- ``deliveries``: one row per attempt. The row is written as ``sending`` *before* the SMTP
  transaction and updated to ``sent`` or ``failed`` after it, each in its own commit: a
  ``sending`` row left behind means a run died with that message in flight, and the next
  ``send`` sends it again with the same Message-ID. ``copy`` is 1 for a message sent to
  another address than the customer's (``send_folder(to=...)``, the desk's send): a copy
  is no delivery to the customer, so it never counts as the customer having a version,
  nor as a ticket's latest delivery (``deliveries.csv``, the desk's index).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.models import Invoice
from ..store import Database, Ledger, csv_parts, spreadsheet_safe

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invoice_mail (
    service_ticket TEXT PRIMARY KEY,
    sha256         TEXT NOT NULL,
    facts          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    service_ticket TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),
    tried_at       TEXT NOT NULL,
    sent_at        TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    copy           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS deliveries_by_ticket ON deliveries (service_ticket, id);
"""
HEADER = ("service_ticket", "invoice_number", "recipient", "sha256", "message_id", "status",
          "sent_at", "reason")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of ``deliveries.csv``: a ticket's latest finished delivery."""

    service_ticket: str
    invoice_number: str
    recipient: str
    sha256: str
    message_id: str
    status: str
    sent_at: str
    reason: str
    copy: bool = False  # to another address than the customer's: not in deliveries.csv


def _facts(invoice: Invoice) -> str:
    """What the message for this invoice will say (amount, due date, recipient...): the
    invoice's data, kept beside its ledger row with the sha256 of its PDF."""
    return json.dumps(invoice.as_data(), ensure_ascii=False)


class BillingFacts:
    """The ledger's annex for email (see :class:`store.ledger.Annex`): send's tables, and
    the facts of each invoice the ledger records, in its transaction."""

    def create(self, db: Database) -> None:
        db.script(_SCHEMA)
        # A ledger whose deliveries predate copies: every row there was the customer's.
        if "copy" not in {row[1] for row in db.rows("PRAGMA table_info(deliveries)")}:
            db.execute("ALTER TABLE deliveries ADD COLUMN copy INTEGER NOT NULL DEFAULT 0")

    def recorded(self, db: Database, invoices: Sequence[tuple[Invoice, str]]) -> None:
        db.executemany("INSERT OR REPLACE INTO invoice_mail (service_ticket, sha256, facts) "
                       "VALUES (?, ?, ?)", [(invoice.ticket, sha256, _facts(invoice))
                                            for invoice, sha256 in invoices])

    def kept(self, db: Database, invoices: Sequence[tuple[Invoice, str]]) -> None:
        """Only the facts missing: those of an unchanged invoice can only have been
        recorded already (its fingerprint is the same), so a night of thousands writes
        none of them."""
        known = set(db.where_in("SELECT service_ticket, sha256 FROM invoice_mail "
                                "WHERE service_ticket IN",
                                [invoice.ticket for invoice, _ in invoices]))
        self.recorded(db, [(invoice, sha256) for invoice, sha256 in invoices
                           if (invoice.ticket, sha256) not in known])


class DeliveryLog:
    """The deliveries of one output folder, over the ledger's own connection."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.db = ledger.db
        BillingFacts().create(self.db)

    def facts(self, ticket: str, sha256: str) -> dict[str, Any] | None:
        return billing_facts(self.ledger, ticket, sha256)

    def sent_versions(self, ticket: str) -> list[str]:
        return _sent_versions(self.db, ticket)

    def intent(self, delivery: Delivery, tried_at: str) -> int:
        """Record, before the SMTP transaction, that this message is about to go out."""
        return self.db.execute(
            "INSERT INTO deliveries (service_ticket, invoice_number, recipient, sha256, "
            "message_id, status, tried_at, copy) VALUES (?, ?, ?, ?, ?, 'sending', ?, ?)",
            (delivery.service_ticket, delivery.invoice_number, delivery.recipient,
             delivery.sha256, delivery.message_id, tried_at, int(delivery.copy)))

    def result(self, row: int, status: str, *, sent_at: str = "", reason: str = "") -> None:
        self.db.execute("UPDATE deliveries SET status = ?, sent_at = ?, reason = ? "
                        "WHERE id = ?", (status, sent_at, reason, row))

    def finished(self, delivery: Delivery, tried_at: str) -> None:
        """A delivery decided without the server (``skipped``, or ``failed`` before it)."""
        row = self.intent(delivery, tried_at)
        self.result(row, delivery.status, reason=delivery.reason)

    def latest(self) -> Iterator[Delivery]:
        """The latest finished delivery to the customer (copies to another address left
        out) of each ticket now issued (in the manifest), by ticket."""
        self.ledger.commit()
        rows = self.db.rows(
            "SELECT service_ticket, invoice_number, recipient, sha256, message_id, "
            "status, sent_at, reason FROM deliveries WHERE id IN (SELECT MAX(id) FROM "
            "deliveries WHERE status != 'sending' AND copy = 0 GROUP BY service_ticket) "
            "AND service_ticket IN (SELECT service_ticket FROM invoices "
            "WHERE withdrawn_at IS NULL) ORDER BY service_ticket")
        yield from (Delivery(*row) for row in rows)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt of a ticket's invoice, as ``deliveries`` records it:
    ``status`` is ``sending`` (in flight, or its run died), ``sent``, ``failed`` or
    ``skipped``; ``sent_at`` is empty unless it was sent; ``copy``: to another address
    than the customer's (``to``), which is no delivery to the customer."""

    recipient: str
    sha256: str
    message_id: str
    status: str
    tried_at: str
    sent_at: str
    reason: str
    copy: bool


def billing_facts(ledger: Ledger, ticket: str, sha256: str) -> dict[str, Any] | None:
    """The invoice's facts (its ``as_data``: bill-to, due date...) if they describe
    exactly this PDF, else ``None``."""
    if not _has_deliveries(ledger.db):
        return None
    row = ledger.db.one("SELECT facts FROM invoice_mail WHERE service_ticket = ? "
                        "AND sha256 = ?", (ticket, sha256))
    return json.loads(row[0]) if row else None


def attempts(ledger: Ledger, ticket: str) -> list[Attempt]:
    """Every delivery attempt of ``ticket`` (as the ledger spells it), newest first."""
    if not _has_deliveries(ledger.db):
        return []
    rows = ledger.db.rows(
        "SELECT recipient, sha256, message_id, status, tried_at, sent_at, reason, copy "
        "FROM deliveries WHERE service_ticket = ? ORDER BY id DESC", (ticket,))
    return [Attempt(recipient, sha256, message_id, status, tried, sent_at, reason, bool(copy))
            for recipient, sha256, message_id, status, tried, sent_at, reason, copy in rows]


def next_mail(ledger: Ledger, ticket: str, sha256: str) -> str:
    """What the next message of version ``sha256`` of ``ticket``'s invoice is (see
    :func:`mail_kind`): ``sent``, ``correction`` or ``first``."""
    sent = _sent_versions(ledger.db, ticket) if _has_deliveries(ledger.db) else []
    return mail_kind(sent, sha256)


def mail_kind(sent: Sequence[str], sha256: str) -> str:
    """The one rule of what a ticket's message of version ``sha256`` is, given the
    versions the server accepted, in order: ``sent`` when it accepted this one last,
    ``correction`` when it accepted another, ``first`` when none. The customer's latest
    mail decides: a version sent before a correction that was then taken back goes out
    again, as a correction."""
    if sent and sent[-1] == sha256:
        return "sent"
    return "correction" if sent else "first"


def _sent_versions(db: Database, ticket: str) -> list[str]:
    """The sha256 of every version of the ticket's invoice the server accepted for the
    customer (copies to another address are not theirs), in the order they were sent."""
    return [row[0] for row in db.rows(
        "SELECT sha256 FROM deliveries WHERE service_ticket = ? AND status = 'sent' "
        "AND copy = 0 ORDER BY id", (ticket,))]


def _has_deliveries(db: Database) -> bool:
    """Whether send's tables are there: a ledger no send or run of this version opened
    (see :class:`BillingFacts`) has none, and nothing was sent from it."""
    return db.one("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                  "AND name = 'deliveries'") is not None


def deliveries_csv(deliveries: Iterable[Delivery]) -> Iterator[bytes]:
    """The text of ``deliveries.csv``; ``deliveries`` come sorted by ticket."""
    return csv_parts(HEADER, ([spreadsheet_safe(str(getattr(delivery, name)))
                               for name in HEADER] for delivery in deliveries))
