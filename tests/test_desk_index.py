"""The desk's index: newest first, keyset pages, filters and search against a brute-force
reading of the ledger's own tables, kept right by its triggers as runs and sends write."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.core.models import Invoice, Rendered, WorkOrder
from pipeline.desk import index as index_module
from pipeline.desk.index import Index, Row
from pipeline.send.log import BillingFacts, Delivery, DeliveryLog
from pipeline.store import Ledger

CUSTOMERS = ["Smith Dental", "Whitfield Lofts HOA", "100% Plumbing", "a_b Storage",
             "Chen & Smithers", "Sloan's Lake Bakery"]


def bill(ticket: str, n: int, *, sha: str = "", at: str = "", email: str = "") -> tuple[
        Rendered, Invoice]:
    customer = CUSTOMERS[n % len(CUSTOMERS)]
    number = f"INV-{n:05d}"
    email = email or f"AP.{customer.split()[0].lower()}{n}@Example.com"
    order = WorkOrder("in.csv", n, ticket, customer, "", True, None, (), number, None, None,
                      customer, email, "", "", "", "", "USD", Decimal(0), (),
                      Decimal("10.00"), Decimal(0), Decimal("10.00"))
    # Every third pair shares its rendered_at: the ticket breaks the tie.
    at = at or f"2026-12-{1 + n // 30:02d}T02:{(n // 3) % 60:02d}:00+00:00"
    rendered = Rendered(ticket, number, customer, f"shr{ticket}", "https://x/s",
                        f"invoices/{number}.pdf", sha or f"{n:064x}", 1, Decimal("10.00"),
                        "USD", "fp", at, "2026-12-01")
    return rendered, Invoice(order, f"shr{ticket}", "https://x/s", date(2026, 12, 1),
                             date(2026, 12, 31))


def deliver(log: DeliveryLog, ticket: str, sha: str, status: str, when: str = "t1", *,
            copy: bool = False) -> None:
    delivery = Delivery(ticket, "n", f"to-{ticket}@example.com", sha, f"<{ticket}>", status,
                        "", "why" if status != "sent" else "", copy=copy)
    row = log.intent(delivery, when)
    if status != "sending":
        log.result(row, status, sent_at=f"s-{when}" if status == "sent" else "",
                   reason=delivery.reason)


def fill(path: Path, count: int = 60) -> Ledger:
    """A ledger of ``count`` invoices with every kind of delivery history."""
    ledger = Ledger(path, annex=BillingFacts())
    for n in range(count):
        ledger.record(*bill(f"WO-{n:04d}", n))
    ledger.commit()
    log = DeliveryLog(ledger)
    for n in range(count):
        ticket, sha = f"WO-{n:04d}", f"{n:064x}"
        kind = n % 7
        if kind in (0, 1, 2):
            deliver(log, ticket, sha, "sent")
        elif kind == 3:
            deliver(log, ticket, sha, "failed")
            deliver(log, ticket, sha, "sending", "t2")  # died in flight: not finished
        elif kind == 4:
            deliver(log, ticket, sha, "sent")
            deliver(log, ticket, sha, "failed", "t2")  # a resend failed: sent, yet failed
        elif kind == 5:
            deliver(log, ticket, "old" + sha[3:], "sent")  # an older version was sent
            deliver(log, ticket, sha, "skipped", "t2")
        elif kind == 6 and n % 2:  # a copy to another address (accounts payable): not sent
            deliver(log, ticket, sha, "sent", copy=True)
            deliver(log, ticket, sha, "failed", "t2", copy=True)
    for n in range(0, count, 11):
        ledger.withdraw(f"WO-{n:04d}", "2026-12-20T00:00:00+00:00")
    return ledger


def expected(path: Path, status: str | None = None, q: str = "") -> list[tuple[str, ...]]:
    """Every row the page should list, newest first, computed straight from the ledger."""
    db = sqlite3.connect(path)
    rows = []
    for ticket, number, customer, sha, at, withdrawn, facts in db.execute(
            "SELECT i.service_ticket, invoice_number, customer, i.sha256, rendered_at, "
            "withdrawn_at IS NOT NULL, json_extract(m.facts, '$.bill_to.email') "
            "FROM invoices i LEFT JOIN invoice_mail m USING (service_ticket)"):
        history = db.execute("SELECT status, sha256, recipient, sent_at, tried_at, reason "
                             "FROM deliveries WHERE service_ticket = ? AND copy = 0 "
                             "ORDER BY id",
                             (ticket,)).fetchall()
        finished = [h for h in history if h[0] != "sending"]
        last = finished[-1] if finished else None
        sent = any(h[0] == "sent" and h[1] == sha for h in history)
        failed = bool(last) and last[0] == "failed"  # type: ignore[index]
        state = ("withdrawn" if withdrawn else "failed" if failed else
                 "sent" if sent else "unsent")
        wanted = {None: True, "withdrawn": bool(withdrawn),
                  "unsent": not withdrawn and not sent, "failed": not withdrawn and failed}
        email = facts or ""
        text = "\x1f".join((ticket, number, customer, email)).lower()
        if wanted[status] and q.lower() in text:
            rows.append((at, ticket, state, last[0] if last else "",
                         (last[3] or last[4]) if last else "", email))
    db.close()
    return [row[1:] for row in sorted(rows, reverse=True)]


def listed(index: Index, status: str | None = None, q: str = "",
           per_page: int = 7) -> list[tuple[str, ...]]:
    """Every page of a query, following the cursors; each row once."""
    seen: list[Row] = []
    after = None
    while True:
        page = index.page(q, status, after, per_page)
        assert len(page.rows) <= per_page
        seen += page.rows
        if page.next is None:
            break
        assert len(page.rows) == per_page
        after = page.next
    return [(row.service_ticket, row.state, row.last_status, row.last_at, row.email)
            for row in seen]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = fill(tmp_path / "ledger.sqlite3")
    Index(ledger.db).ensure()
    return ledger


@pytest.mark.parametrize("status", [None, "unsent", "failed", "withdrawn"])
def test_each_filter_pages_newest_first_against_brute_force(ledger: Ledger,
                                                             status: str | None) -> None:
    index = Index(ledger.db)
    want = expected(ledger.path, status)
    assert want and listed(index, status) == want
    assert index.count(status) == len(want)
    assert len({row[0] for row in want}) == len(want)


def test_a_row_shows_the_invoice_and_its_last_finished_delivery(ledger: Ledger) -> None:
    rows = {row.service_ticket: row for row in Index(ledger.db).page(per_page=100).rows}
    resent = rows["WO-0004"]  # sent, then a resend failed
    assert (resent.state, resent.last_status, resent.last_reason) == ("failed", "failed", "why")
    assert resent.last_recipient == "to-WO-0004@example.com" and resent.last_at == "t2"
    assert rows["WO-0001"].last_at == "s-t1" and rows["WO-0001"].state == "sent"
    assert rows["WO-0005"].state == "unsent" and rows["WO-0005"].last_status == "skipped"
    assert rows["WO-0006"].last_status == "" and rows["WO-0006"].state == "unsent"
    copied = rows["WO-0013"]  # only copies to another address: the customer has nothing
    assert (copied.state, copied.last_status, copied.last_recipient) == ("unsent", "", "")
    assert rows["WO-0000"].withdrawn and rows["WO-0000"].state == "withdrawn"
    assert rows["WO-0002"].total == Decimal("10.00") and rows["WO-0002"].currency == "USD"
    assert rows["WO-0002"].customer == "100% Plumbing"


@pytest.mark.parametrize(("rare", "walk"), [(10_000, 10_000), (0, 10_000), (0, 3)],
                         ids=["trigram-index", "walk", "walk-then-index"])
@pytest.mark.parametrize("q", ["WO-0012", "inv-0003", "00004", "smith", "SMITH", "ap.chen",
                               "example.COM", "100%", "%", "a_b", "_", "'s lake", "wo",
                               "s", "nothing-like-it", "\x1fsmith", "h\x1f1", ""])
def test_search_matches_any_part_of_ticket_number_customer_or_email(
        ledger: Ledger, q: str, rare: int, walk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "RARE", rare)
    monkeypatch.setattr(index_module, "WALK", walk)
    index = Index(ledger.db)
    for status in (None, "failed"):
        got = listed(index, status, q, per_page=5)
        assert got == expected(ledger.path, status, q.replace("\x1f", "").strip())
    if q in ("%", "_"):  # literal: only "100% Plumbing" and "a_b Storage" (10 of 60 each)
        assert len(listed(index, None, q)) == 10
    if q == "nothing-like-it":
        assert listed(index, None, q) == []


def test_a_cursor_not_made_for_this_query_gives_the_first_page(ledger: Ledger) -> None:
    index = Index(ledger.db)
    first = index.page(per_page=5)
    assert first.next is not None
    second = index.page(after=first.next, per_page=5)
    assert second.rows != first.rows
    body, _, mac = first.next.partition(".")
    for cursor in (body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac,
                   body + "." + mac[:-1] + ("0" if mac[-1] != "0" else "1"), "", ".", "!!!",
                   "x" * 5000, "é.é", '["2099", "ZZ"]'):
        assert index.page(after=cursor, per_page=5) == first, cursor
    # A cursor from another query is not this one's.
    assert index.page(status="unsent", after=first.next, per_page=5) == \
        index.page(status="unsent", per_page=5)


def test_the_triggers_keep_the_index_right_as_runs_and_sends_write(ledger: Ledger) -> None:
    index = Index(ledger.db)
    log = DeliveryLog(ledger)
    # A later run: one ticket re-rendered (a correction, not sent yet), one new, one withdrawn.
    ledger.record(*bill("WO-0001", 1, sha="c" * 64, at="2026-12-30T01:00:00+00:00",
                        email="new.address@example.com"))
    ledger.record(*bill("WO-9999", 9999, at="2026-12-30T00:30:00+00:00"))
    ledger.commit()
    ledger.withdraw("WO-0002", "2026-12-30T02:00:00+00:00")
    top = index.page(per_page=2).rows
    assert [(row.service_ticket, row.state) for row in top] == [("WO-0001", "unsent"),
                                                                ("WO-9999", "unsent")]
    assert top[0].email == "new.address@example.com"
    assert [row.service_ticket for row in index.page("new.address").rows] == ["WO-0001"]
    assert index.page("ap.smith1@").rows == []
    # A send of the correction, and a failure for the new one.
    deliver(log, "WO-0001", "c" * 64, "sent", "t3")
    deliver(log, "WO-9999", f"{9999:064x}", "failed", "t3")
    for status in (None, "unsent", "failed", "withdrawn"):
        assert listed(index, status) == expected(ledger.path, status)
        assert index.count(status) == len(expected(ledger.path, status))
    # The store deletes nothing today; a row deleted by hand leaves the index too.
    ledger.db.execute("DELETE FROM invoices WHERE service_ticket = 'WO-0003'")
    assert listed(index, None, "WO-0003") == [] and index.count() == 60
    # Unwithdrawn: its work order confirmed again.
    ledger.db.execute("UPDATE invoices SET withdrawn_at = NULL WHERE service_ticket = 'WO-0000'")
    assert listed(index) == expected(ledger.path)


def test_ensure_backfills_a_ledger_made_before_the_index_and_repairs_one_out_of_step(
        tmp_path: Path) -> None:
    ledger = fill(tmp_path / "ledger.sqlite3")
    index = Index(ledger.db)
    index.ensure()
    assert listed(index) == expected(ledger.path)
    index.ensure()  # up to date: nothing rebuilt, the cursor key kept
    key = index._key()
    index.ensure()
    assert index._key() == key
    # Rows written while the triggers were missing (an older copy of the index's file).
    ledger.db.execute("DELETE FROM desk_rows WHERE service_ticket = 'WO-0005'")
    for number in range(20):
        ledger.db.execute(f"DROP TRIGGER IF EXISTS desk_t{number}")
    ledger.record(*bill("WO-7777", 7777))
    ledger.close()
    again = Ledger(tmp_path / "ledger.sqlite3", annex=BillingFacts())
    Index(again.db).ensure()
    assert listed(Index(again.db)) == expected(again.path)
    # A trigger missing while a run re-rendered: the same count of rows, yet rebuilt.
    again.db.execute("DROP TRIGGER desk_t0")
    again.record(*bill("WO-0007", 7, sha="d" * 64, at="2026-12-31T00:00:00+00:00"))
    again.commit()
    Index(again.db).ensure()
    assert listed(Index(again.db))[0][:2] == ("WO-0007", "unsent")
    assert listed(Index(again.db)) == expected(again.path)
    again.close()


def test_ensure_on_a_ledger_without_sends_tables(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")  # no annex: written before email existed
    ledger.record(*bill("WO-0001", 1))
    ledger.commit()
    index = Index(ledger.db)
    index.ensure()
    assert [(row.service_ticket, row.state, row.email) for row in index.page().rows] == \
        [("WO-0001", "unsent", "")]
    assert index.count("unsent") == 1 and index.count("nonsense") == 1


def test_a_desk_index_of_the_version_before_copies_is_rebuilt_without_them(
        tmp_path: Path) -> None:
    """An index built when a copy to another address counted as the customer's delivery
    (version 1): ensure() rebuilds it."""
    ledger = fill(tmp_path / "ledger.sqlite3", 14)
    index = Index(ledger.db)
    index.ensure()
    assert ("WO-0013", "unsent", "", "", "AP.whitfield13@Example.com") in listed(index, "unsent")
    ledger.db.execute("UPDATE desk_meta SET value = '1' WHERE name = 'version'")
    ledger.db.execute("UPDATE desk_rows SET sent = 1, last_status = 'failed' "
                      "WHERE service_ticket = 'WO-0013'")  # as version 1 counted its copies
    index.ensure()
    assert index.db.one("SELECT value FROM desk_meta WHERE name = 'version'") == \
        (index_module.VERSION,)
    assert listed(index) == expected(ledger.path)
    assert "WO-0013" in [row[0] for row in listed(index, "unsent")]
    ledger.close()
