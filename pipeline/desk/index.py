"""The desk's index over the ledger: one row per invoice with what the front page lists and
filters on, kept in step by SQLite triggers, so the nightly batch keeps it current without
knowing it.

The tables and the triggers that keep them (their SQL is in :mod:`.index_sql`):
``desk_rows``, a row per ticket, and ``desk_search``, an FTS5 trigram index over its
``search`` text.

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
from .index_sql import BACKFILL, COLUMNS, FILTERS, INDEXES, ORDER, OURS, TABLES, TRIGGERS

VERSION = "2"  # 2: copies to another address left out of sent and last_*
RARE = 30_000  # above this many trigram candidates, a search walks newest first...
WALK = 30_000  # ...over at most this many rows before it sorts the candidates
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
            for number, trigger in enumerate(TRIGGERS):
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
        return counts is not None and counts[0] == counts[1] and counts[2] == len(TRIGGERS)

    def _rebuild(self) -> None:
        triggers = [row[0] for row in self.db.rows("SELECT name FROM sqlite_master WHERE "
                                                   "type = 'trigger' AND name LIKE 'desk%'")]
        for statement in (*(f'DROP TRIGGER "{name}"' for name in triggers),
                          *(f"DROP TABLE IF EXISTS {name}" for name in OURS),
                          *TABLES, *BACKFILL, *INDEXES):
            self.db.execute(statement)
        self.db.executemany("INSERT INTO desk_meta (name, value) VALUES (?, ?)",
                            [("version", VERSION), ("cursor_key", secrets.token_hex(16))])

    def count(self, status: str | None = None) -> int:
        """How many invoices a filter lists (the filter tabs); on its partial index."""
        row = self.db.one(f"SELECT COUNT(*) FROM desk_rows WHERE {FILTERS[_status(status)]}")  # noqa: S608
        return int(row[0]) if row else 0

    def page(self, q: str = "", status: str | None = None, after: str | None = None,
             per_page: int = 50) -> Page:
        """``per_page`` rows newest first, after the cursor ``after`` (ignored when it is not
        one this index gave for the same ``q`` and ``status``)."""
        status, term = _status(status), _term(q)
        per_page, key = max(1, per_page), self._key()
        position = _decode(after, key, term, status) if after else None
        where, params = [FILTERS[status]], [*(position or ())]
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
                f"{' AND '.join(where[:-1])} {ORDER} OFFSET ?", (*params[:-1], 1, WALK))
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
                f"FROM {source} WHERE {' AND '.join(where)} {ORDER}")
        return list(self.db.rows(f"SELECT {COLUMNS} FROM ({keys}) AS k CROSS JOIN desk_rows "  # noqa: S608
                                 "ON desk_rows.rowid = k.id ORDER BY k.a DESC, k.t DESC",
                                 (*params, limit)))

    def _key(self) -> bytes:
        row = self.db.one("SELECT value FROM desk_meta WHERE name = 'cursor_key'")
        return str(row[0] if row else "").encode()


def _status(status: str | None) -> str | None:
    return status if status in FILTERS else None


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
