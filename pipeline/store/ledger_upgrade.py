"""A ledger written by an older version, brought up to this one's schema and keys once.

Older ledgers lack ``withdrawn_at`` (from before withdrawals), ``file_key`` and its
index (from before claims were looked up in SQL) or ``xml_sha256`` (from before
e-invoices); an older version run since may have written rows without a key; and keys
written before Windows device names got their hash in
:func:`pipeline.core.file_names.safe_name` (``con``, ``nul.2024``) no longer match the key
a claim of the same number asks for, so another ticket could claim that number unseen.
"""

from __future__ import annotations

from ..core.file_names import file_key
from .database import Database

_PER_PAGE = 10_000
_DEVICES = ("con", "prn", "aux", "nul", *(f"{port}{n}" for port in ("com", "lpt")
                                         for n in range(1, 10)))
# An old device key: the word alone or before a dot (``.`` sorts just before ``/``), read
# on the file_key index. Keys written now have the hash after the word: ``con-1a2b3c4d``.
_OLD_KEY = "(" + " OR ".join(["file_key = ? OR (file_key >= ? AND file_key < ?)"] *
                             len(_DEVICES)) + ")"
_OLD_KEYS = tuple(value for device in _DEVICES for value in (device, f"{device}.", f"{device}/"))


def upgrade(db: Database) -> None:
    """Bring the ledger up to date in one transaction (two commands opening it at once
    must not both alter it); one that is up to date is only read."""
    if _up_to_date(db):
        return
    with db.transaction():
        columns = {row[1] for row in db.rows("PRAGMA table_info(invoices)")}
        if "withdrawn_at" not in columns:
            db.execute("ALTER TABLE invoices ADD COLUMN withdrawn_at TEXT")
        if "file_key" not in columns:
            db.execute("ALTER TABLE invoices ADD COLUMN file_key TEXT")
        if "xml_sha256" not in columns:
            db.execute("ALTER TABLE invoices ADD COLUMN xml_sha256 TEXT")
        db.execute("CREATE INDEX IF NOT EXISTS invoices_by_file_key ON invoices (file_key)")
        # A page at a time (rows that have their key no longer match): a million rows
        # are not all held at once.
        while rows := list(db.rows(
                "SELECT service_ticket, invoice_number FROM invoices "  # noqa: S608
                f"WHERE file_key IS NULL OR {_OLD_KEY} LIMIT ?", (*_OLD_KEYS, _PER_PAGE))):
            db.executemany("UPDATE invoices SET file_key = ? WHERE service_ticket = ?",
                           [(file_key(number), ticket) for ticket, number in rows])


def _up_to_date(db: Database) -> bool:
    columns = {row[1] for row in db.rows("PRAGMA table_info(invoices)")}
    if not {"withdrawn_at", "file_key", "xml_sha256"} <= columns or db.one(
            "SELECT 1 FROM sqlite_master WHERE name = 'invoices_by_file_key'") is None:
        return False
    # A row without its key (written by an older version since the upgrade) or with an
    # old device key.
    return db.one(f"SELECT 1 FROM invoices WHERE file_key IS NULL OR {_OLD_KEY} "  # noqa: S608
                  "LIMIT 1", _OLD_KEYS) is None
