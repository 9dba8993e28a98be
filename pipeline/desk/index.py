"""The desk's index over the ledger: one row per invoice with what the front page lists and
filters on, kept in step by SQLite triggers, so the nightly batch keeps it current without
knowing it.

``desk_rows`` holds per ticket the ledger's columns the page shows, the email from send's
facts, the last finished delivery, two flags (``withdrawn``; ``sent``: the current sha256
has a ``sent`` delivery) and ``search``, the lower-cased text a search matches (ticket,
invoice number, customer and email, separated by U+001F so that no match spans two of
them). ``desk_search`` is an FTS5 trigram index over ``search`` (external content).

The triggers (``desk_*``) recompute a ticket's row from the ledger's and send's tables
whenever one of them changes it: an insert into ``invoices`` (the store writes with INSERT
OR REPLACE, whose delete fires no trigger, so the insert upserts), an update of its shown
columns or of ``withdrawn_at``, a delete, an insert or update of ``invoice_mail`` and of
``deliveries``. Recomputing, not patching, keeps one rule per column.

A page is keyset-paginated newest first on ``(rendered_at, service_ticket)``; each filter
has a partial index in that order. A term of 3 characters or more counts its candidates in
the trigram index (at most :data:`RARE` + 1): a rarer term's rows are fetched and sorted; a
common one walks the newest :data:`WALK` rows and stops at the page's end, and sorts the
candidates only if that walk did not fill the page. A shorter term walks. Every match is
checked with ``instr`` on ``search``: wildcards are literal; case is folded for ASCII
letters (SQLite's ``lower``, as in the triggers, which cannot call Python).
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal

from ..send import BillingFacts
from ..store import Database

VERSION = "1"
RARE = 30_000  # above this many trigram candidates, a search walks newest first...
WALK = 30_000  # ...over at most this many rows before it sorts the candidates
_SEP = "char(31)"
_FILTERS = {None: "1", "withdrawn": "withdrawn = 1", "unsent": "withdrawn = 0 AND sent = 0",
            "failed": "withdrawn = 0 AND last_status = 'failed'"}
_TABLES = [
    "CREATE TABLE desk_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE desk_rows (service_ticket TEXT PRIMARY KEY, invoice_number TEXT NOT NULL, "
    "customer TEXT NOT NULL, email TEXT NOT NULL DEFAULT '', total TEXT NOT NULL, "
    "currency TEXT NOT NULL, invoice_date TEXT NOT NULL, rendered_at TEXT NOT NULL, "
    "sha256 TEXT NOT NULL, withdrawn INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, "
    "last_id INTEGER, last_status TEXT, last_recipient TEXT, last_at TEXT, last_reason TEXT, "
    "search TEXT NOT NULL DEFAULT '')",
    "CREATE VIRTUAL TABLE desk_search USING fts5(search, content='desk_rows', "
    "tokenize='trigram', detail=none)",
]
_INDEXES = [
    "CREATE INDEX desk_by_time ON desk_rows (rendered_at, service_ticket)",
    *(f"CREATE INDEX desk_{name} ON desk_rows (rendered_at, service_ticket) WHERE {where}"
      for name, where in _FILTERS.items() if name),
]
_SEARCH = (f"lower(service_ticket || {_SEP} || invoice_number || {_SEP} || customer || "
           f"{_SEP} || email)")
# What a ticket's row takes from send's tables ({t} is the ticket), and its search text:
# each trigger runs the parts its table feeds; email and search write only when changed.
_DELIVERY = """UPDATE desk_rows SET
  sent = EXISTS (SELECT 1 FROM deliveries d WHERE d.service_ticket = desk_rows.service_ticket
                 AND d.status = 'sent' AND d.sha256 = desk_rows.sha256),
  (last_id, last_status, last_recipient, last_at, last_reason) = (
    SELECT id, status, recipient, CASE WHEN sent_at != '' THEN sent_at ELSE tried_at END, reason
    FROM deliveries d WHERE d.service_ticket = desk_rows.service_ticket
    AND d.status != 'sending' ORDER BY d.id DESC LIMIT 1)
WHERE service_ticket = {t};"""
_EMAIL_OF = ("COALESCE((SELECT json_extract(m.facts, '$.bill_to.email') FROM invoice_mail m "
             "WHERE m.service_ticket = {t}), '')")
_EMAIL = (f"UPDATE desk_rows SET email = {_EMAIL_OF} WHERE service_ticket = {{t}} "  # noqa: S608
          f"AND email IS NOT {_EMAIL_OF};")
_TEXT = (f"UPDATE desk_rows SET search = {_SEARCH} WHERE service_ticket = {{t}} "  # noqa: S608
         f"AND search IS NOT {_SEARCH};")
_COPIED = ("invoice_number", "customer", "total", "currency", "invoice_date", "rendered_at",
           "sha256")
_UPSERT = (f"INSERT INTO desk_rows (service_ticket, {', '.join(_COPIED)}, withdrawn, email) "  # noqa: S608
           f"VALUES (NEW.service_ticket, {', '.join('NEW.' + c for c in _COPIED)}, "
           f"NEW.withdrawn_at IS NOT NULL, {_EMAIL_OF}) ON CONFLICT (service_ticket) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in (*_COPIED, "withdrawn", "email")) + ";")
_INVOICE = " ".join((_UPSERT, _DELIVERY, _TEXT)).replace("{t}", "NEW.service_ticket")
_MAIL = " ".join((_EMAIL, _TEXT)).replace("{t}", "NEW.service_ticket")
_SENT = _DELIVERY.replace("{t}", "NEW.service_ticket")
_TRIGGERS = [
    f"AFTER INSERT ON invoices BEGIN {_INVOICE} END",
    f"AFTER UPDATE OF {', '.join(_COPIED)}, withdrawn_at ON invoices BEGIN {_INVOICE} END",
    "AFTER DELETE ON invoices BEGIN "
    "DELETE FROM desk_rows WHERE service_ticket = OLD.service_ticket; END",
    f"AFTER INSERT ON invoice_mail BEGIN {_MAIL} END",
    f"AFTER UPDATE ON invoice_mail BEGIN {_MAIL} END",
    f"AFTER INSERT ON deliveries WHEN NEW.status != 'sending' BEGIN {_SENT} END",
    f"AFTER UPDATE ON deliveries BEGIN {_SENT} END",
    "AFTER INSERT ON desk_rows WHEN NEW.search != '' BEGIN "
    "INSERT INTO desk_search (rowid, search) VALUES (NEW.rowid, NEW.search); END",
    "AFTER UPDATE OF search ON desk_rows BEGIN "
    "INSERT INTO desk_search (desk_search, rowid, search) SELECT 'delete', OLD.rowid, "
    "OLD.search WHERE OLD.search != ''; "
    "INSERT INTO desk_search (rowid, search) VALUES (NEW.rowid, NEW.search); END",
    "AFTER DELETE ON desk_rows BEGIN INSERT INTO desk_search (desk_search, rowid, search) "
    "VALUES ('delete', OLD.rowid, OLD.search); END",
]
_BACKFILL = [
    f"INSERT INTO desk_rows (service_ticket, {', '.join(_COPIED)}, withdrawn, email) "  # noqa: S608
    f"SELECT i.service_ticket, {', '.join('i.' + c for c in _COPIED)}, "
    "i.withdrawn_at IS NOT NULL, COALESCE(json_extract(m.facts, '$.bill_to.email'), '') "
    "FROM invoices i LEFT JOIN invoice_mail m ON m.service_ticket = i.service_ticket",
    "UPDATE desk_rows SET sent = 1 FROM (SELECT DISTINCT service_ticket, sha256 "
    "FROM deliveries WHERE status = 'sent') AS s WHERE s.service_ticket = "
    "desk_rows.service_ticket AND s.sha256 = desk_rows.sha256",
    "UPDATE desk_rows SET (last_id, last_status, last_recipient, last_at, last_reason) = "
    "(d.id, d.status, d.recipient, CASE WHEN d.sent_at != '' THEN d.sent_at ELSE d.tried_at "
    "END, d.reason) FROM (SELECT MAX(id) AS id FROM deliveries WHERE status != 'sending' "
    "GROUP BY service_ticket) AS latest JOIN deliveries d ON d.id = latest.id "
    "WHERE d.service_ticket = desk_rows.service_ticket",
    f"UPDATE desk_rows SET search = {_SEARCH}",  # noqa: S608
    "INSERT INTO desk_search (desk_search) VALUES ('rebuild')",
    # No merging as rows come (it cut a night's ledger writes from ~4,800 to ~1,500 rows/s
    # at a million rows); level-0 segments are still merged 16 at a time, and ensure()
    # merges some more.
    "INSERT INTO desk_search (desk_search, rank) VALUES ('automerge', 0)",
]
_OURS = ("desk_search", "desk_rows", "desk_meta")
_STATE = ("CASE WHEN withdrawn THEN 'withdrawn' WHEN last_status = 'failed' THEN 'failed' "
          "WHEN sent = 0 THEN 'unsent' ELSE 'sent' END")
_COLUMNS = ("service_ticket, invoice_number, customer, email, total, currency, invoice_date, "
            f"rendered_at, withdrawn, {_STATE}, last_status, last_recipient, last_at, "
            "last_reason")
_ORDER = "ORDER BY r.rendered_at DESC, r.service_ticket DESC LIMIT ?"


@dataclass(frozen=True, slots=True)
class Row:
    service_ticket: str
    invoice_number: str
    customer: str
    email: str
    total: Decimal
    currency: str
    invoice_date: str
    rendered_at: str
    withdrawn: bool
    state: str            # "withdrawn" | "failed" | "unsent" | "sent"
    last_status: str      # "" when no finished delivery; else sent|failed|skipped
    last_recipient: str
    last_at: str
    last_reason: str


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    next: str | None      # opaque cursor for the next page, None on the last page


class Index:
    """The desk's index in the ledger's file, over the ledger's own connection."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure(self) -> None:
        """The tables, indexes and triggers; rebuilt from the ledger (in one transaction)
        when missing, of another version, without all its triggers, or not holding a row
        per invoice."""
        BillingFacts().create(self.db)  # the triggers read send's tables
        with self.db.transaction():
            if not self._current():
                self._rebuild()
            self.db.execute("INSERT INTO desk_search (desk_search, rank) VALUES ('merge', 500)")
            for number, trigger in enumerate(_TRIGGERS):
                self.db.execute(f"CREATE TRIGGER IF NOT EXISTS desk_t{number} {trigger}")

    def _current(self) -> bool:
        if self.db.one("SELECT 1 FROM sqlite_master WHERE name = 'desk_meta'") is None:
            return False
        version = self.db.one("SELECT value FROM desk_meta WHERE name = 'version'")
        if version is None or version[0] != VERSION:
            return False
        counts = self.db.one("SELECT (SELECT COUNT(*) FROM invoices), (SELECT COUNT(*) FROM "
                             "desk_rows), (SELECT COUNT(*) FROM sqlite_master WHERE type = "
                             "'trigger' AND name LIKE 'desk_t%')")  # a trigger dropped: stale
        return counts is not None and counts[0] == counts[1] and counts[2] == len(_TRIGGERS)

    def _rebuild(self) -> None:
        triggers = [row[0] for row in self.db.rows("SELECT name FROM sqlite_master WHERE "
                                                   "type = 'trigger' AND name LIKE 'desk%'")]
        for statement in (*(f'DROP TRIGGER "{name}"' for name in triggers),
                          *(f"DROP TABLE IF EXISTS {name}" for name in _OURS),
                          *_TABLES, *_BACKFILL, *_INDEXES):
            self.db.execute(statement)
        self.db.executemany("INSERT INTO desk_meta (name, value) VALUES (?, ?)",
                            [("version", VERSION), ("cursor_key", secrets.token_hex(16))])

    def count(self, status: str | None = None) -> int:
        """How many invoices a filter lists (the filter tabs); on its partial index."""
        row = self.db.one(f"SELECT COUNT(*) FROM desk_rows WHERE {_FILTERS[_status(status)]}")  # noqa: S608
        return int(row[0]) if row else 0

    def page(self, q: str = "", status: str | None = None, after: str | None = None,
             per_page: int = 50) -> Page:
        """``per_page`` rows newest first, after the cursor ``after`` (ignored when it is not
        one this index gave for the same ``q`` and ``status``)."""
        status, term = _status(status), _term(q)
        per_page, key = max(1, per_page), self._key()
        position = _decode(after, key, term, status) if after else None
        where, params = [_FILTERS[status]], [*(position or ())]
        if position is not None:
            where.append("(r.rendered_at, r.service_ticket) < (?, ?)")
        found = self._found(term, where, params, per_page + 1)
        rows = [_row(values) for values in found[:per_page]]
        return Page(rows, _encode((rows[-1].rendered_at, rows[-1].service_ticket), key, term,
                                  status) if len(found) > per_page else None)

    def _found(self, term: str, where: list[str], params: list[object], limit: int
               ) -> list[tuple[object, ...]]:
        """The first ``limit`` rows: walking newest first, or sorting the trigram index's
        candidates when there are at most :data:`RARE`, or the walk over the newest
        :data:`WALK` rows did not fill the page."""
        if term:
            where, params = [*where, "instr(r.search, lower(?)) > 0"], [*params, term]
        if len(term) < 3:
            return self._select("desk_rows r", where, params, limit)
        match = _match(term)
        row = self.db.one("SELECT COUNT(*) FROM (SELECT 1 FROM desk_search WHERE desk_search "
                          "MATCH ? LIMIT ?)", (match, RARE + 1))
        if row is not None and int(row[0]) > RARE:
            edge = self.db.one(
                f"SELECT r.rendered_at, r.service_ticket FROM desk_rows r WHERE "  # noqa: S608
                f"{' AND '.join(where[:-1])} {_ORDER} OFFSET ?", (*params[:-1], 1, WALK))
            bound = ["(r.rendered_at, r.service_ticket) > (?, ?)"] if edge else []
            found = self._select("desk_rows r", [*where, *bound], [*params, *(edge or ())],
                                 limit)
            if len(found) == limit or edge is None:
                return found
        return self._select("(SELECT rowid AS id FROM desk_search WHERE desk_search MATCH ?) "
                            "AS m CROSS JOIN desk_rows r ON r.rowid = m.id", where,
                            [match, *params], limit)

    def _select(self, source: str, where: list[str], params: list[object], limit: int
                ) -> list[tuple[object, ...]]:
        """The page's keys are found and sorted first, then its rows read (the sorter then
        holds two short columns per match, not fourteen)."""
        keys = (f"SELECT r.rowid AS id, r.rendered_at AS a, r.service_ticket AS t "  # noqa: S608
                f"FROM {source} WHERE {' AND '.join(where)} {_ORDER}")
        return list(self.db.rows(f"SELECT {_COLUMNS} FROM ({keys}) AS k CROSS JOIN desk_rows "  # noqa: S608
                                 "ON desk_rows.rowid = k.id ORDER BY k.a DESC, k.t DESC",
                                 (*params, limit)))

    def _key(self) -> bytes:
        row = self.db.one("SELECT value FROM desk_meta WHERE name = 'cursor_key'")
        return str(row[0] if row else "").encode()


def _status(status: str | None) -> str | None:
    return status if status in _FILTERS else None


def _term(q: str) -> str:
    """The search text without control characters (U+001F separates the fields)."""
    return "".join(ch for ch in q if ch >= " " and ch != "\x7f").strip()


def _match(term: str) -> str:
    """Every trigram of ``term``: the index keeps no positions (``detail=none``, a fraction
    of the size), so it gives the rows holding all of them, which ``instr`` then checks."""
    grams = dict.fromkeys(term[i:i + 3] for i in range(len(term) - 2))
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _row(values: tuple[object, ...]) -> Row:
    text = ["" if value is None else str(value) for value in values]
    return Row(text[0], text[1], text[2], text[3], Decimal(text[4]), text[5], text[6], text[7],
               bool(values[8]), text[9], text[10], text[11], text[12], text[13])


def _mac(key: bytes, body: str, term: str, status: str | None) -> str:
    return hmac.new(key, json.dumps([body, term, status]).encode(), "sha256").hexdigest()[:24]


def _encode(position: tuple[str, str], key: bytes, term: str, status: str | None) -> str:
    body = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
    return f"{body}.{_mac(key, body, term, status)}"


def _decode(cursor: str, key: bytes, term: str, status: str | None) -> list[str] | None:
    """The position a cursor names, or ``None`` when it was not made here for this query."""
    body, _, mac = cursor.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(key, body, term, status).encode()):
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
    if isinstance(position, list) and len(position) == 2 and \
            all(isinstance(value, str) for value in position):
        return position
    return None
