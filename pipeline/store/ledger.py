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
holds what was emailed (the tables :mod:`deliveries` reads and writes).

Rows are committed in batches (:data:`ROWS_PER_COMMIT` rows, or what came within
:data:`SECONDS_PER_COMMIT`): one commit (an fsync) per row would cap a large cluster's
results at what one disk syncs per second. A batch lost to a crash names only PDFs that
are on disk whole; the next run renders them again (and finds nothing to keep in
history/ when the bytes are the same). Every read, a
withdrawal and :meth:`Ledger.close` commit what is pending first.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from ..core.errors import OutputError
from ..core.file_names import file_key
from ..core.models import Rendered
from .ledger_upgrade import upgrade

F = TypeVar("F", bound=Callable[..., Any])

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
    file_key       TEXT
)
"""
# What was emailed: deliveries.py reads and writes these tables.
_DELIVERY_SCHEMA = """
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
    reason         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_by_ticket ON deliveries (service_ticket, id);
"""
_COLUMNS = ("service_ticket", "invoice_number", "customer", "share_id", "share_url", "pdf",
            "sha256", "pages", "total", "currency", "fingerprint", "rendered_at")
_SELECT = (f"SELECT {', '.join(_COLUMNS)}, invoice_date, "  # noqa: S608
           "withdrawn_at IS NOT NULL FROM invoices")
# Tickets per look-up: well below SQLite's limit of bound parameters (32,766; 999 before
# SQLite 3.32).
_PER_QUERY = 500
_PER_PAGE = 1000


def _unusable(path: Path, error: Exception) -> OutputError:
    return OutputError(f"the ledger cannot be used: {error}. Keep this file (it holds the "
                       "published share IDs): free disk space or restore it from a backup",
                       source=path)


def _reported(method: F) -> F:
    """SQLite's errors (a full disk, a file that is not a database) as one clear line."""
    @functools.wraps(method)
    def wrapper(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as error:
            raise _unusable(self.path, error) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def reported(path: Path) -> Iterator[None]:
    """The same for the statements of another module on the ledger's file (deliveries)."""
    try:
        yield
    except (sqlite3.Error, OSError) as error:
        raise _unusable(path, error) from None


class Ledger:
    @_reported
    def __init__(self, path: Path) -> None:
        self.path = path
        # Created here, not by SQLite (always 0644): a billing group's umask 002 must let
        # the whole group run the batch. The -wal and -shm files copy this file's mode.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        # isolation_level=None: each statement commits at once unless inside `with self.db`.
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(_SCHEMA)
        self.db.executescript(_DELIVERY_SCHEMA)
        upgrade(self.db)
        # Rows not yet committed, each with its billing facts (JSON, for the email).
        self.pending: list[tuple[Rendered, str]] = []
        self.rows_per_commit = ROWS_PER_COMMIT
        self.committed = time.monotonic()

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self.db.close()

    @_reported
    def snapshot(self, ticket: str | None = None) -> dict[str, Rendered]:
        """Ticket → its invoice, withdrawn ones included (only ``ticket``'s if given): one
        query, read once per command."""
        if ticket is not None:
            return self.rows([ticket])
        self.commit()
        return {row[0]: _rendered(row) for row in self.db.execute(_SELECT)}

    @_reported
    def rows(self, tickets: Collection[str]) -> dict[str, Rendered]:
        """The rows of ``tickets`` that exist, withdrawn ones included: what a run that
        streams its work orders looks up a few hundred at a time, on the primary key."""
        self.commit()
        rows = _where_in(self.db, f"{_SELECT} WHERE service_ticket IN", list(tickets))
        return {row[0]: _rendered(row) for row in rows}

    @_reported
    def owners(self, share_ids: Collection[str], file_keys: Collection[str]
               ) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Which rows, withdrawn ones too, hold these share IDs (share ID → ticket) and
        invoice file keys (see :func:`write.file_key`; key → ticket and invoice number):
        what a run checks a few hundred claims against at a time, on the indexes."""
        self.commit()
        shares = dict(_where_in(self.db, "SELECT share_id, service_ticket FROM invoices "
                                "WHERE share_id IN", list(share_ids)))
        files = {key: (ticket, number) for key, ticket, number in _where_in(
            self.db, "SELECT file_key, service_ticket, invoice_number FROM invoices "
            "WHERE file_key IN", list(file_keys))}
        return shares, files

    def each(self) -> Iterator[Rendered]:
        """The invoices currently issued (not withdrawn), by ticket: the manifest's rows,
        read :data:`_PER_PAGE` at a time, for a manifest of a million rows. No statement
        stays open between pages, so the caller may write to the ledger as it goes (a
        send records each delivery)."""
        after: tuple[str, ...] = ()
        while True:
            with reported(self.path):
                self.commit()
                rows = self.db.execute(
                    f"SELECT {', '.join(_COLUMNS)}, invoice_date, 0 FROM invoices "  # noqa: S608
                    f"WHERE withdrawn_at IS NULL {'AND service_ticket > ?' if after else ''} "
                    "ORDER BY service_ticket LIMIT ?", (*after, _PER_PAGE)).fetchall()
            yield from (_rendered(row) for row in rows)
            if len(rows) < _PER_PAGE:
                return
            after = (rows[-1][0],)

    @_reported
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
                found.update(row[0] for row in self.db.execute(query, (key, per_key)))
        return found

    @_reported
    def count(self) -> int:
        """How many invoices :meth:`each` gives."""
        self.commit()
        row = self.db.execute("SELECT COUNT(*) FROM invoices WHERE withdrawn_at IS NULL")
        return int(row.fetchone()[0])

    @_reported
    def withdraw(self, ticket: str, when: str) -> None:
        self.commit()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE invoices SET withdrawn_at = ? WHERE service_ticket = ?",
                            (when, ticket))

    def record(self, rendered: Rendered, facts: str, *, at_once: bool = False) -> None:
        """Record an invoice whose PDF is on disk, with the facts its email will carry;
        committed with its batch, or ``at_once`` (a PDF that replaced an issued one: until
        its row is in, the ledger would vouch for bytes no longer on disk)."""
        self.pending.append((rendered, facts))
        if at_once or len(self.pending) >= self.rows_per_commit or \
                time.monotonic() - self.committed >= SECONDS_PER_COMMIT:
            self.commit()

    @_reported
    def commit(self) -> None:
        """Write the pending rows and their facts, in one transaction."""
        if self.pending:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany(
                    "INSERT OR REPLACE INTO invoices (service_ticket, invoice_number, "
                    "customer, share_id, share_url, pdf, sha256, pages, total, currency, "
                    "invoice_date, fingerprint, rendered_at, withdrawn_at, file_key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    [(row.service_ticket, row.invoice_number, row.customer, row.share_id,
                      row.share_url, row.pdf, row.sha256, row.pages, f"{row.total:f}",
                      row.currency, row.invoice_date, row.fingerprint, row.rendered_at,
                      file_key(row.invoice_number))
                     for row, _ in self.pending],
                )
                self._facts([(row.service_ticket, row.sha256, facts)
                             for row, facts in self.pending])
            self.pending.clear()
        self.committed = time.monotonic()

    @_reported
    def remember_facts(self, rows: list[tuple[str, str, str]], *,
                       missing_only: bool = False) -> None:
        """Keep (ticket, sha256, facts) for the emails, in one transaction; ``missing_only``
        skips what is there already."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if missing_only:
                # Only these tickets' facts: a run passes a few hundred at a time.
                known = set(_where_in(self.db, "SELECT service_ticket, sha256 FROM "
                                      "invoice_mail WHERE service_ticket IN",
                                      [row[0] for row in rows]))
                rows = [row for row in rows if (row[0], row[1]) not in known]
            self._facts(rows)

    def _facts(self, rows: list[tuple[str, str, str]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO invoice_mail (service_ticket, sha256, "
                            "facts) VALUES (?, ?, ?)", rows)


def _where_in(db: sqlite3.Connection, query: str, keys: list[str]) -> Iterator[Any]:
    """The rows of ``query``, which ends in ``IN``, for ``keys``: one statement per
    :data:`_PER_QUERY` of them."""
    for start in range(0, len(keys), _PER_QUERY):
        part = keys[start:start + _PER_QUERY]
        yield from db.execute(f"{query} ({', '.join('?' * len(part))})", part)


def _rendered(row: tuple[object, ...]) -> Rendered:
    values = dict(zip((*_COLUMNS, "invoice_date", "withdrawn"), row, strict=True))
    values["total"] = Decimal(str(values["total"]))
    values["withdrawn"] = bool(values["withdrawn"])
    return Rendered(**values)  # type: ignore[arg-type]
