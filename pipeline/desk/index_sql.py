"""The SQL of the desk's index (:mod:`.index`): its tables, indexes, triggers and backfill.

``desk_rows`` holds per ticket the ledger's columns the page shows, the email from send's
facts, the customer's last finished delivery, two flags (``withdrawn``; ``sent``: the
current sha256 has a ``sent`` delivery to the customer) and ``search``, the lower-cased
text a search matches (ticket, invoice number, customer and email, separated by U+001F so
that no match spans two of them). ``desk_search`` is an FTS5 trigram index over
``search`` (external content). A copy sent to another address (``deliveries.copy``) is no
delivery to the customer: neither ``sent`` nor ``last_*`` counts it.

The triggers (``desk_*``) recompute a ticket's row from the ledger's and send's tables
whenever one of them changes it: an insert into ``invoices`` (the store writes with INSERT
OR REPLACE, whose delete fires no trigger, so the insert upserts), an update of its shown
columns or of ``withdrawn_at``, a delete, an insert or update of ``invoice_mail`` and of
``deliveries``. Recomputing, not patching, keeps one rule per column.
"""

from __future__ import annotations

_SEP = "char(31)"
FILTERS = {None: "1", "withdrawn": "withdrawn = 1", "unsent": "withdrawn = 0 AND sent = 0",
            "failed": "withdrawn = 0 AND last_status = 'failed'"}
TABLES = [
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
INDEXES = [
    "CREATE INDEX desk_by_time ON desk_rows (rendered_at, service_ticket)",
    *(f"CREATE INDEX desk_{name} ON desk_rows (rendered_at, service_ticket) WHERE {where}"
      for name, where in FILTERS.items() if name),
]
_SEARCH = (f"lower(service_ticket || {_SEP} || invoice_number || {_SEP} || customer || "
           f"{_SEP} || email)")
# What a ticket's row takes from send's tables ({t} is the ticket), and its search text:
# each trigger runs the parts its table feeds; email and search write only when changed.
_DELIVERY = """UPDATE desk_rows SET
  sent = EXISTS (SELECT 1 FROM deliveries d WHERE d.service_ticket = desk_rows.service_ticket
                 AND d.status = 'sent' AND d.copy = 0 AND d.sha256 = desk_rows.sha256),
  (last_id, last_status, last_recipient, last_at, last_reason) = (
    SELECT id, status, recipient, CASE WHEN sent_at != '' THEN sent_at ELSE tried_at END, reason
    FROM deliveries d WHERE d.service_ticket = desk_rows.service_ticket
    AND d.status != 'sending' AND d.copy = 0 ORDER BY d.id DESC LIMIT 1)
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
TRIGGERS = [
    f"AFTER INSERT ON invoices BEGIN {_INVOICE} END",
    f"AFTER UPDATE OF {', '.join(_COPIED)}, withdrawn_at ON invoices BEGIN {_INVOICE} END",
    "AFTER DELETE ON invoices BEGIN "
    "DELETE FROM desk_rows WHERE service_ticket = OLD.service_ticket; END",
    f"AFTER INSERT ON invoice_mail BEGIN {_MAIL} END",
    f"AFTER UPDATE ON invoice_mail BEGIN {_MAIL} END",
    f"AFTER INSERT ON deliveries WHEN NEW.status != 'sending' AND NEW.copy = 0 "
    f"BEGIN {_SENT} END",
    f"AFTER UPDATE ON deliveries WHEN NEW.copy = 0 OR OLD.copy = 0 BEGIN {_SENT} END",
    "AFTER INSERT ON desk_rows WHEN NEW.search != '' BEGIN "
    "INSERT INTO desk_search (rowid, search) VALUES (NEW.rowid, NEW.search); END",
    "AFTER UPDATE OF search ON desk_rows BEGIN "
    "INSERT INTO desk_search (desk_search, rowid, search) SELECT 'delete', OLD.rowid, "
    "OLD.search WHERE OLD.search != ''; "
    "INSERT INTO desk_search (rowid, search) VALUES (NEW.rowid, NEW.search); END",
    "AFTER DELETE ON desk_rows BEGIN INSERT INTO desk_search (desk_search, rowid, search) "
    "VALUES ('delete', OLD.rowid, OLD.search); END",
]
BACKFILL = [
    f"INSERT INTO desk_rows (service_ticket, {', '.join(_COPIED)}, withdrawn, email) "  # noqa: S608
    f"SELECT i.service_ticket, {', '.join('i.' + c for c in _COPIED)}, "
    "i.withdrawn_at IS NOT NULL, COALESCE(json_extract(m.facts, '$.bill_to.email'), '') "
    "FROM invoices i LEFT JOIN invoice_mail m ON m.service_ticket = i.service_ticket",
    "UPDATE desk_rows SET sent = 1 FROM (SELECT DISTINCT service_ticket, sha256 "
    "FROM deliveries WHERE status = 'sent' AND copy = 0) AS s WHERE s.service_ticket = "
    "desk_rows.service_ticket AND s.sha256 = desk_rows.sha256",
    "UPDATE desk_rows SET (last_id, last_status, last_recipient, last_at, last_reason) = "
    "(d.id, d.status, d.recipient, CASE WHEN d.sent_at != '' THEN d.sent_at ELSE d.tried_at "
    "END, d.reason) FROM (SELECT MAX(id) AS id FROM deliveries WHERE status != 'sending' "
    "AND copy = 0 GROUP BY service_ticket) AS latest JOIN deliveries d ON d.id = latest.id "
    "WHERE d.service_ticket = desk_rows.service_ticket",
    f"UPDATE desk_rows SET search = {_SEARCH}",  # noqa: S608
    "INSERT INTO desk_search (desk_search) VALUES ('rebuild')",
    # No merging as rows come (it cut a night's ledger writes from ~4,800 to ~1,500 rows/s
    # at a million rows); level-0 segments are still merged 16 at a time, and ensure()
    # merges some more.
    "INSERT INTO desk_search (desk_search, rank) VALUES ('automerge', 0)",
]
OURS = ("desk_search", "desk_rows", "desk_meta")
_STATE = ("CASE WHEN withdrawn THEN 'withdrawn' WHEN last_status = 'failed' THEN 'failed' "
          "WHEN sent = 0 THEN 'unsent' ELSE 'sent' END")
COLUMNS = ("service_ticket, invoice_number, customer, email, total, currency, invoice_date, "
            f"rendered_at, withdrawn, {_STATE}, last_status, last_recipient, last_at, "
            "last_reason")
ORDER = "ORDER BY r.rendered_at DESC, r.service_ticket DESC LIMIT ?"
