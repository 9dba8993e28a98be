"""What was emailed: the ``deliveries`` table of the ledger, and the text of
``deliveries.csv`` (:mod:`folder` writes it).

Two tables in the folder's ledger file (``ledger.sqlite3``), created by the ledger with
the invoices':

- ``invoice_mail``: per ticket, the facts of its current PDF that a message needs and the
  ledger does not keep (recipient, due date...), tagged with that PDF's sha256. The
  folder writes it before it records the PDF (``OutputFolder.store``), so facts that do
  not match the ledger's sha256 are never used (a run killed in between re-renders the
  invoice anyway).
- ``deliveries``: one row per attempt. The row is written as ``sending`` *before* the SMTP
  transaction and updated to ``sent`` or ``failed`` after it, each in its own commit: a
  ``sending`` row left behind means a run died with that message in flight, and the next
  ``send`` sends it again with the same Message-ID.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..core.models import Invoice
from ..store.ledger import Ledger, reported
from ..store.manifest import csv_parts, spreadsheet_safe

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


def facts(invoice: Invoice) -> str:
    """What the message for this invoice will say (amount, due date, recipient...): the
    invoice's data, kept beside its ledger row with the sha256 of its PDF."""
    return json.dumps(invoice.as_data(), ensure_ascii=False)


def remember(ledger: Ledger, invoices: Iterable[tuple[Invoice, str]], *,
             missing_only: bool = False) -> None:
    """Keep the facts of each (invoice, sha256 of its PDF); one commit.

    ``missing_only`` is for unchanged invoices, whose facts can only have been recorded
    already (their fingerprint is the same): a night of thousands writes none of them.
    """
    ledger.remember_facts([(invoice.ticket, sha256, facts(invoice))
                           for invoice, sha256 in invoices], missing_only=missing_only)


class DeliveryLog:
    """The deliveries of one output folder, over the ledger's own connection."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.db = ledger.db

    def facts(self, ticket: str, sha256: str) -> dict[str, Any] | None:
        """The invoice's facts if they describe exactly this PDF, else ``None``."""
        with reported(self.ledger.path):
            row = self.db.execute("SELECT facts FROM invoice_mail WHERE service_ticket = ? "
                                  "AND sha256 = ?", (ticket, sha256)).fetchone()
        return json.loads(row[0]) if row else None

    def sent_versions(self, ticket: str) -> list[str]:
        """The sha256 of every version of the ticket's invoice the server accepted, in the
        order they were sent."""
        with reported(self.ledger.path):
            rows = self.db.execute("SELECT sha256 FROM deliveries WHERE service_ticket = ? "
                                   "AND status = 'sent' ORDER BY id", (ticket,))
            return [row[0] for row in rows]

    def intent(self, delivery: Delivery, tried_at: str) -> int:
        """Record, before the SMTP transaction, that this message is about to go out."""
        with reported(self.ledger.path):
            cursor = self.db.execute(
                "INSERT INTO deliveries (service_ticket, invoice_number, recipient, sha256, "
                "message_id, status, tried_at) VALUES (?, ?, ?, ?, ?, 'sending', ?)",
                (delivery.service_ticket, delivery.invoice_number, delivery.recipient,
                 delivery.sha256, delivery.message_id, tried_at))
            return int(cursor.lastrowid or 0)

    def result(self, row: int, status: str, *, sent_at: str = "", reason: str = "") -> None:
        with reported(self.ledger.path):
            self.db.execute("UPDATE deliveries SET status = ?, sent_at = ?, reason = ? "
                            "WHERE id = ?", (status, sent_at, reason, row))

    def finished(self, delivery: Delivery, tried_at: str) -> None:
        """A delivery decided without the server (``skipped``, or ``failed`` before it)."""
        row = self.intent(delivery, tried_at)
        self.result(row, delivery.status, reason=delivery.reason)

    def latest(self) -> Iterator[Delivery]:
        """The latest finished delivery of each ticket now issued (in the manifest), by
        ticket."""
        with reported(self.ledger.path):
            self.ledger.commit()
            rows = self.db.execute(
                "SELECT service_ticket, invoice_number, recipient, sha256, message_id, "
                "status, sent_at, reason FROM deliveries WHERE id IN (SELECT MAX(id) FROM "
                "deliveries WHERE status != 'sending' GROUP BY service_ticket) "
                "AND service_ticket IN (SELECT service_ticket FROM invoices "
                "WHERE withdrawn_at IS NULL) ORDER BY service_ticket")
            yield from (Delivery(*row) for row in rows)


def deliveries_csv(deliveries: Iterable[Delivery]) -> Iterator[bytes]:
    """The text of ``deliveries.csv``; ``deliveries`` come sorted by ticket."""
    return csv_parts(HEADER, ([spreadsheet_safe(str(getattr(delivery, name)))
                               for name in HEADER] for delivery in deliveries))
