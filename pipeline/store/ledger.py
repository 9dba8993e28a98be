"""The ledger: an SQLite database in the output folder that remembers every issued invoice.

Per ticket it keeps the share ID (immutable once published), the invoice number (never
reused by another ticket; ``file_key``, its PDF's name as a file system compares it, is
indexed beside it, so a run asks about a chunk's claims instead of loading every row's),
the fingerprint of everything that shaped the PDF, the PDF's sha256 and when it was
rendered. An invoice withdrawn because its work order turned out
unconfirmed keeps its row (``withdrawn_at``): its share ID and number stay its own, and
it comes back with both if the work order is confirmed again. A row is recorded only after
its PDF is in place, so a run killed at any moment leaves a ledger that describes files
that exist; the next run re-renders what the ledger does not vouch for. The same file
holds the tables of an :class:`Annex` (send's: what was emailed), written with the rows.

Rows are committed in batches (:data:`ROWS_PER_COMMIT` rows, or what came within
:data:`SECONDS_PER_COMMIT`): one commit (an fsync) per row would cap a large cluster's
results at what one disk syncs per second. A batch lost to a crash names only PDFs that
are on disk whole; the next run renders them again (and finds nothing to keep in
history/ when the bytes are the same). Every read, a
withdrawal and :meth:`Ledger.close` commit what is pending first.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from ..core.file_names import file_key
from ..core.files import fsync_dir
from ..core.models import Invoice, Rendered
from .database import Database, Row
from .ledger_upgrade import upgrade

ROWS_PER_COMMIT = 256
SECONDS_PER_COMMIT = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invoices (
    service_ticket TEXT PRIMARY KEY,
    invoice_number TEXT NOT NULL UNIQUE,
    customer       TEXT NOT NULL,
    share_id       TEXT NOT NULL UNIQUE,
    share_url      TEXT NOT NULL,
    pdf            TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    pages          INTEGER NOT NULL,
    total          TEXT NOT NULL,
    currency       TEXT NOT NULL,
    invoice_date   TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    rendered_at    TEXT NOT NULL,
    withdrawn_at   TEXT,
    file_key       TEXT,
    xml_sha256     TEXT
)
"""
# The last report of each command (``run``, ``regenerate``): report.json holds only the
# latest, and a clerk's regenerate must not hide what the night's run did.
_REPORTS = """
CREATE TABLE IF NOT EXISTS reports (
    command    TEXT PRIMARY KEY,
    written_at TEXT NOT NULL,
    report     TEXT NOT NULL
)
"""
_COLUMNS = ("service_ticket", "invoice_number", "customer", "share_id", "share_url", "pdf",
            "sha256", "pages", "total", "currency", "fingerprint", "rendered_at")
_SELECT = (f"SELECT {', '.join(_COLUMNS)}, invoice_date, "  # noqa: S608
           "withdrawn_at IS NOT NULL, COALESCE(xml_sha256, '') FROM invoices")
_PER_PAGE = 1000


class Annex(Protocol):
    """Tables another stage keeps in the ledger's file about each invoice (send's: what its
    email will say). The ledger creates them as it opens the file, and hands them the
    invoices it records inside the transaction that records them: their rows never
    describe a PDF the ledger does not vouch for."""

    def create(self, db: Database) -> None:
        """Its tables, where missing."""

    def recorded(self, db: Database, invoices: Sequence[tuple[Invoice, str]]) -> None:
        """Its rows for these invoices, each with the sha256 of the PDF just recorded."""

    def kept(self, db: Database, invoices: Sequence[tuple[Invoice, str]]) -> None:
        """The same for invoices a run left as they were: their rows are most likely there
        already."""


class Ledger:
    def __init__(self, path: Path, *, annex: Annex | None = None) -> None:
        """The ledger at ``path``, made if missing, with ``annex``'s tables if given."""
        self.path = path
        self.db = Database(path)
        self.db.execute(_SCHEMA)
        self.annex = annex
        if annex is not None:
            annex.create(self.db)
        upgrade(self.db)
        self.db.execute(_REPORTS)  # last: the pages before it are laid out as they were
        # Rows not yet committed, each with its invoice (for the annex).
        self.pending: list[tuple[Rendered, Invoice]] = []
        # Folders holding new PDF names not fsynced yet: a committed row must never name a
        # file that a power cut could take back, and one fsync serves a batch of rows.
        self.unsynced: set[Path] = set()
        self.rows_per_commit = ROWS_PER_COMMIT
        self.committed = time.monotonic()

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self.db.close()

    def rows(self, tickets: Collection[str]) -> dict[str, Rendered]:
        """The rows of ``tickets`` that exist, withdrawn ones included: what a run that
        streams its work orders looks up a few hundred at a time, on the primary key."""
        self.commit()
        rows = self.db.where_in(f"{_SELECT} WHERE service_ticket IN", list(tickets))
        return {row[0]: _rendered(row) for row in rows}

    def owners(self, share_ids: Collection[str], file_keys: Collection[str]
               ) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Which rows, withdrawn ones too, hold these share IDs (share ID → ticket) and
        invoice file keys (see :func:`file_names.file_key`; key → ticket and invoice
        number): what a run checks a few hundred claims against at a time, on the indexes."""
        self.commit()
        shares: dict[str, str] = dict(self.db.where_in(
            "SELECT share_id, service_ticket FROM invoices WHERE share_id IN", list(share_ids)))
        files = {key: (ticket, number) for key, ticket, number in self.db.where_in(
            "SELECT file_key, service_ticket, invoice_number FROM invoices WHERE file_key IN",
            list(file_keys))}
        return shares, files

    def by_number(self, invoice_number: str) -> Rendered | None:
        """The row of invoice ``invoice_number``, withdrawn or not (on its unique index)."""
        self.commit()
        row = self.db.one(f"{_SELECT} WHERE invoice_number = ?", (invoice_number,))
        return _rendered(row) if row else None

    def record_report(self, command: str, written_at: str, report: str) -> None:
        """Keep ``report`` (report.json's text) as ``command``'s last."""
        self.commit()
        self.db.execute("INSERT OR REPLACE INTO reports (command, written_at, report) "
                        "VALUES (?, ?, ?)", (command, written_at, report))

    def each(self) -> Iterator[Rendered]:
        """The invoices currently issued (not withdrawn), by ticket: the manifest's rows,
        read :data:`_PER_PAGE` at a time, for a manifest of a million rows. No statement
        stays open between pages, so the caller may write to the ledger as it goes (a
        send records each delivery)."""
        after: tuple[str, ...] = ()
        while True:
            self.commit()
            rows = list(self.db.rows(
                f"SELECT {', '.join(_COLUMNS)}, invoice_date, 0, "  # noqa: S608
                "COALESCE(xml_sha256, '') FROM invoices "
                f"WHERE withdrawn_at IS NULL {'AND service_ticket > ?' if after else ''} "
                "ORDER BY service_ticket LIMIT ?", (*after, _PER_PAGE)))
            yield from (_rendered(row) for row in rows)
            if len(rows) < _PER_PAGE:
                return
            after = (rows[-1][0],)

    def near(self, keys: Collection[str], per_key: int) -> set[str]:
        """Tickets, withdrawn ones too, that sort next to each of ``keys`` (``per_key`` on
        each side): the few a "closest tickets" answer compares, on the primary key."""
        self.commit()
        found: set[str] = set()
        for key in keys:
            for query in ("SELECT service_ticket FROM invoices WHERE service_ticket >= ? "
                          "ORDER BY service_ticket LIMIT ?",
                          "SELECT service_ticket FROM invoices WHERE service_ticket < ? "
                          "ORDER BY service_ticket DESC LIMIT ?"):
                found.update(row[0] for row in self.db.rows(query, (key, per_key)))
        return found

    def count(self) -> int:
        """How many invoices :meth:`each` gives."""
        self.commit()
        row = self.db.one("SELECT COUNT(*) FROM invoices WHERE withdrawn_at IS NULL")
        return int(row[0]) if row else 0

    def withdraw(self, ticket: str, when: str) -> None:
        self.commit()
        with self.db.transaction():
            self.db.execute("UPDATE invoices SET withdrawn_at = ? WHERE service_ticket = ?",
                            (when, ticket))

    def record(self, rendered: Rendered, invoice: Invoice, *, at_once: bool = False,
               unsynced: Path | None = None) -> None:
        """Record an invoice whose PDF is on disk, and give it to the annex; committed with
        its batch, or ``at_once`` (a PDF that replaced an issued one: until its row is in,
        the ledger would vouch for bytes no longer on disk). ``unsynced``: the folder
        whose new entry for the PDF must be fsynced before the row is committed."""
        self.pending.append((rendered, invoice))
        if unsynced is not None:
            self.unsynced.add(unsynced)
        if at_once or len(self.pending) >= self.rows_per_commit or \
                time.monotonic() - self.committed >= SECONDS_PER_COMMIT:
            self.commit()

    def commit(self) -> None:
        """Write the pending rows and the annex's, in one transaction."""
        for folder in self.unsynced:
            fsync_dir(folder)
        self.unsynced.clear()
        if self.pending:
            with self.db.transaction():
                self.db.executemany(
                    "INSERT OR REPLACE INTO invoices (service_ticket, invoice_number, "
                    "customer, share_id, share_url, pdf, sha256, pages, total, currency, "
                    "invoice_date, fingerprint, rendered_at, withdrawn_at, file_key, "
                    "xml_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                    [(row.service_ticket, row.invoice_number, row.customer, row.share_id,
                      row.share_url, row.pdf, row.sha256, row.pages, f"{row.total:f}",
                      row.currency, row.invoice_date, row.fingerprint, row.rendered_at,
                      file_key(row.invoice_number), row.xml_sha256 or None)
                     for row, _ in self.pending],
                )
                if self.annex is not None:
                    self.annex.recorded(self.db, [(invoice, row.sha256)
                                                  for row, invoice in self.pending])
            self.pending.clear()
        self.committed = time.monotonic()

    def keep(self, invoices: Sequence[tuple[Invoice, str]]) -> None:
        """Give the annex (invoice, sha256 of its PDF) of invoices a run left as they were,
        in one transaction."""
        if self.annex is not None:
            with self.db.transaction():
                self.annex.kept(self.db, invoices)


def _rendered(row: Row) -> Rendered:
    values = dict(zip((*_COLUMNS, "invoice_date", "withdrawn", "xml_sha256"), row,
                      strict=True))
    values["total"] = Decimal(str(values["total"]))
    values["withdrawn"] = bool(values["withdrawn"])
    return Rendered(**values)
