"""The ledger commits rows in batches, and never lets a reader miss one."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.core.errors import OutputError
from pipeline.core.models import Invoice, Rendered, WorkOrder
from pipeline.send.log import BillingFacts, DeliveryLog
from pipeline.store import Ledger
from pipeline.store import ledger as ledger_module


def _row(ticket: str) -> Rendered:
    return Rendered(ticket, f"INV-{ticket}", "Customer", f"shr{ticket}", "https://x/s",
                    f"invoices/INV-{ticket}.pdf", "0" * 64, 1, Decimal("1.00"), "USD",
                    "fp", "2026-12-02T00:00:00+00:00", "2026-12-02")


def invoice_of(ticket: str) -> Invoice:
    """The invoice a ledger row records beside its row, for its annex (none here)."""
    order = WorkOrder("in.csv", 2, ticket, "Customer", "", True, None, (), f"INV-{ticket}",
                      None, None, "", "", "", "", "", "", "USD", Decimal(0), (),
                      Decimal("1.00"), Decimal(0), Decimal("1.00"))
    return Invoice(order, f"shr{ticket}", "https://x/s", date(2026, 12, 2), date(2026, 12, 2))


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
        ledger.record(_row(ticket), invoice_of(ticket))
    assert _committed(path) == 0
    ledger.record(_row("C"), invoice_of("C"))
    assert _committed(path) == 3
    ledger.record(_row("D"), invoice_of("D"))
    ledger.close()
    assert _committed(path) == 4


def test_the_pdfs_folder_is_fsynced_once_a_batch_and_before_its_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row must never vouch for a PDF name a power cut could take back; one fsync of the
    folder serves the whole batch (it was one per PDF)."""
    monkeypatch.setattr(ledger_module, "SECONDS_PER_COMMIT", 3600.0)
    path, invoices = tmp_path / "ledger.sqlite3", tmp_path / "invoices"
    synced: list[tuple[Path, int]] = []
    monkeypatch.setattr(ledger_module, "fsync_dir",
                        lambda folder: synced.append((folder, _committed(path))))
    ledger = Ledger(path)
    ledger.rows_per_commit = 3
    for ticket in ("A", "B", "C", "D"):
        ledger.record(_row(ticket), invoice_of(ticket), unsynced=invoices)
    assert synced == [(invoices, 0)]  # before the batch of 3 was committed
    ledger.close()
    assert synced == [(invoices, 0), (invoices, 3)] and _committed(path) == 4


def test_every_read_and_withdrawal_sees_the_pending_rows(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.record(_row("A"), invoice_of("A"))
    assert [row.service_ticket for row in ledger.each()] == ["A"]
    ledger.record(_row("B"), invoice_of("B"))
    assert set(ledger.rows(["A", "B", "Z"])) == {"A", "B"}
    ledger.record(_row("C"), invoice_of("C"))
    ledger.withdraw("C", "2026-12-03T00:00:00+00:00")
    assert ledger.rows(["C"])["C"].withdrawn
    ledger.close()


def test_each_reads_a_page_at_a_time_and_lets_the_reader_write_between(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "_PER_PAGE", 3)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    for ticket in ("E", "B", "G", "A", "D", "C", "F"):
        ledger.record(_row(ticket), invoice_of(ticket))
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
                                           "    file_key       TEXT,\n"
                                           "    xml_sha256     TEXT", "")
    assert "withdrawn_at" not in schema and "file_key" not in schema
    assert "xml_sha256" not in schema
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
                        "invoice_date, fingerprint, rendered_at, NULL, NULL, NULL "
                        "FROM invoices")


def _tables(path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(path) as other:
        return list(other.execute("SELECT type, name, rootpage FROM sqlite_master"))


def test_the_ledger_makes_its_own_tables_and_its_annex_adds_send_s_as_before(
        tmp_path: Path) -> None:
    Ledger(tmp_path / "alone.sqlite3").close()
    assert [name for kind, name, _ in _tables(tmp_path / "alone.sqlite3")
            if kind == "table"] == ["invoices", "reports"]
    Ledger(tmp_path / "run.sqlite3", annex=BillingFacts()).close()
    # Page for page the file a run made when the ledger created send's tables itself.
    assert _tables(tmp_path / "run.sqlite3") == [
        ("table", "invoices", 2), ("index", "sqlite_autoindex_invoices_1", 3),
        ("index", "sqlite_autoindex_invoices_2", 4), ("index", "sqlite_autoindex_invoices_3", 5),
        ("table", "invoice_mail", 6), ("index", "sqlite_autoindex_invoice_mail_1", 7),
        ("table", "deliveries", 8), ("table", "sqlite_sequence", 9),
        ("index", "deliveries_by_ticket", 10), ("index", "invoices_by_file_key", 11),
        ("table", "reports", 12), ("index", "sqlite_autoindex_reports_1", 13)]


def test_the_annex_rows_are_committed_with_the_invoice_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_module, "SECONDS_PER_COMMIT", 3600.0)
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path, annex=BillingFacts())
    ledger.rows_per_commit = 2

    def committed() -> tuple[int, int]:
        with sqlite3.connect(path) as other:
            return (other.execute("SELECT count(*) FROM invoices").fetchone()[0],
                    other.execute("SELECT count(*) FROM invoice_mail").fetchone()[0])

    ledger.record(_row("A"), invoice_of("A"))
    assert committed() == (0, 0)
    ledger.record(_row("B"), invoice_of("B"))
    assert committed() == (2, 2)
    assert DeliveryLog(ledger).facts("A", "0" * 64)["bill_to"]["name"] == ""
    ledger.keep([(invoice_of("A"), "0" * 64), (invoice_of("C"), "1" * 64)])
    assert committed() == (2, 3)
    ledger.close()


def test_any_statement_on_the_file_fails_as_one_output_error(tmp_path: Path) -> None:
    """Opening, the ledger's queries and send's: SQLite's errors become ours in one place."""
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"not a database" * 100)
    advice = ". Keep this file (it holds the published share IDs): free disk space or " \
        "restore it from a backup"
    with pytest.raises(OutputError) as raised:
        Ledger(path)
    assert str(raised.value) == f"{path}: the ledger cannot be used: file is not a " \
        f"database{advice}"
    path.unlink()
    ledger = Ledger(path)
    with pytest.raises(OutputError) as raised:
        ledger.db.one("SELECT facts FROM invoice_mail")  # no annex made send's tables
    assert str(raised.value) == f"{path}: the ledger cannot be used: no such table: " \
        f"invoice_mail{advice}"
    ledger.close()
