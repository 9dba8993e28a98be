"""The ledger commits rows in batches, and never lets a reader miss one."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.core.models import Rendered
from pipeline.store import ledger as ledger_module
from pipeline.store.ledger import Ledger


def _row(ticket: str) -> Rendered:
    return Rendered(ticket, f"INV-{ticket}", "Customer", f"shr{ticket}", "https://x/s",
                    f"invoices/INV-{ticket}.pdf", "0" * 64, 1, Decimal("1.00"), "USD",
                    "fp", "2026-12-02T00:00:00+00:00", "2026-12-02")


def _committed(path: Path) -> int:
    with sqlite3.connect(path) as other:  # another process's view: what is on disk
        count: int = other.execute("SELECT count(*) FROM invoices").fetchone()[0]
    return count


def test_rows_are_committed_per_batch_and_on_close(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "SECONDS_PER_COMMIT", 3600.0)  # rows count, not time
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    ledger.rows_per_commit = 3
    for ticket in ("A", "B"):
        ledger.record(_row(ticket), "{}")
    assert _committed(path) == 0
    ledger.record(_row("C"), "{}")
    assert _committed(path) == 3
    ledger.record(_row("D"), "{}")
    ledger.close()
    assert _committed(path) == 4


def test_every_read_and_withdrawal_sees_the_pending_rows(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.record(_row("A"), "{}")
    assert [row.service_ticket for row in ledger.each()] == ["A"]
    ledger.record(_row("B"), "{}")
    assert set(ledger.snapshot()) == {"A", "B"}
    ledger.record(_row("C"), "{}")
    ledger.withdraw("C", "2026-12-03T00:00:00+00:00")
    assert ledger.snapshot("C")["C"].withdrawn
    ledger.close()


def test_each_reads_a_page_at_a_time_and_lets_the_reader_write_between(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "_PER_PAGE", 3)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    for ticket in ("E", "B", "G", "A", "D", "C", "F"):
        ledger.record(_row(ticket), "{}")
    ledger.withdraw("D", "2026-12-03T00:00:00+00:00")
    seen = []
    for row in ledger.each():
        seen.append(row.service_ticket)
        if row.service_ticket == "C":  # a send writes as it reads, at a page's end here
            ledger.withdraw("G", "2026-12-03T00:00:00+00:00")
    assert seen == ["A", "B", "C", "E", "F"]
    assert ledger.count() == 5
    ledger.close()


def test_a_ledger_from_an_older_version_is_upgraded_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    schema = ledger_module._SCHEMA.replace(",\n    withdrawn_at   TEXT,\n"
                                           "    file_key       TEXT", "")
    assert "withdrawn_at" not in schema and "file_key" not in schema
    with sqlite3.connect(path) as old:  # the schema before withdrawals and file keys
        old.execute(schema)
        old.execute("INSERT INTO invoices VALUES ('A', 'INV-a', 'C', 'sA', 'https://x/sA', "
                    "'invoices/INV-a.pdf', ?, 1, '1.00', 'USD', '2026-12-01', 'fp', "
                    "'2026-12-01T00:00:00+00:00')", ("0" * 64,))
    for _ in range(2):
        ledger = Ledger(path)
        assert ledger.owners(["sA"], ["inv-a"]) == ({"sA": "A"}, {"inv-a": ("A", "INV-a")})
        assert [row.service_ticket for row in ledger.each()] == ["A"]
        ledger.close()
        with sqlite3.connect(path) as old:  # an older version, run since, wrote a row
            old.execute("INSERT OR REPLACE INTO invoices SELECT service_ticket, 'INV-a', "
                        "customer, share_id, share_url, pdf, sha256, pages, total, currency, "
                        "invoice_date, fingerprint, rendered_at, NULL, NULL FROM invoices")
