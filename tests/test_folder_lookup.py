"""What a process that stays up (the billing desk) reads of a folder without its lock:
the last report of each command, one invoice by its number and its earlier versions."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import store
from pipeline.cli import main
from pipeline.core.errors import OutputError
from pipeline.store import lookup

from .conftest import held, order, write_csv


def test_the_nights_report_survives_a_regenerate(tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    out = tmp_path / "output"
    assert store.last_report(out) is None and not out.exists()
    assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0
    assert json.loads((out / "report.json").read_text())["command"] == "run"
    result = runner.invoke(main, ["regenerate", "WO-2", "--input", str(source),
                                  "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "report.json").read_text())["command"] == "regenerate"
    night = store.last_report(out)
    assert night is not None and night["command"] == "run"
    assert sorted(night["rendered"]) == ["WO-1", "WO-2"] and night["written_at"]
    clerk = store.last_report(out, "regenerate")
    assert clerk is not None and clerk["rendered"] == ["WO-2"]
    # Read while a writer holds the folder: no lock asked for, nothing waits.
    with held(out, 1):
        started = time.monotonic()
        assert store.last_report(out, "regenerate") == clerk
        assert time.monotonic() - started < 0.5


def test_a_folder_written_before_reports_were_kept_answers_from_report_json(
        tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    out = tmp_path / "output"
    assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0
    with sqlite3.connect(out / "ledger.sqlite3") as db:
        db.execute("DROP TABLE reports")
    data = json.loads((out / "report.json").read_text())
    del data["command"]
    (out / "report.json").write_text(json.dumps(data))
    before = sorted(path.name for path in out.iterdir())
    report = store.last_report(out)
    assert report is not None and report["rendered"] == ["WO-1"] and report["written_at"]
    assert store.last_report(out, "regenerate") is None
    assert sorted(path.name for path in out.iterdir()) == before


def test_one_invoice_by_number_and_its_versions(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "output"
    assert store.open_ledger(out) is None and not out.exists()
    for price in ("100.00", "200.00", "300.00"):
        source = write_csv(tmp_path / "in.csv", [order("WO-1", item_unit_price=price),
                                                 order("WO-2")])
        assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0
    ledger = store.open_ledger(out)
    assert ledger is not None
    try:
        rows = {row.service_ticket: row for row in ledger.each()}
        found = ledger.by_number(rows["WO-1"].invoice_number)
        assert found == rows["WO-1"]
        assert ledger.by_number("no such number") is None
        kept = store.versions(out, found)
        assert [version.number for version in kept] == [1, 2]
        assert store.version_count(out, found) == 2
        assert all(version.path.parent == out / "invoices/history" for version in kept)
        first, second = (version.path.read_bytes() for version in kept)
        assert first != second
        assert len({version.sha256 for version in kept} | {found.sha256}) == 3
        assert kept[0].written_at.endswith("+00:00")
        assert store.versions(out, rows["WO-2"]) == []
        assert store.version_count(out, rows["WO-2"]) == 0
    finally:
        ledger.close()
    # A withdrawn invoice is still found by its number.
    source = write_csv(tmp_path / "in.csv", [order("WO-1", confirmed="no"), order("WO-2")])
    assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0
    ledger = store.open_ledger(out)
    assert ledger is not None
    try:
        withdrawn = ledger.by_number(rows["WO-1"].invoice_number)
        assert withdrawn is not None and withdrawn.withdrawn
        assert len(store.versions(out, withdrawn)) == 3
        assert store.version_count(out, withdrawn) == 3
    finally:
        ledger.close()


def test_open_ledger_refuses_a_link(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.mkdir()
    (tmp_path / "other.sqlite3").write_bytes(b"")
    (out / "ledger.sqlite3").symlink_to(tmp_path / "other.sqlite3")
    with pytest.raises(OutputError, match="link"):
        store.open_ledger(out)


def test_version_count_reads_no_pdf(tmp_path: Path, runner: CliRunner,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "output"
    for price in ("100.00", "200.00"):
        source = write_csv(tmp_path / "in.csv", [order("WO-1", item_unit_price=price)])
        assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0
    ledger = store.open_ledger(out)
    assert ledger is not None
    try:
        [row] = ledger.each()
    finally:
        ledger.close()
    assert store.version_count(out, row) == 1
    (out / "invoices" / "history").rename(tmp_path / "away")  # no history/ at all
    assert store.version_count(out, row) == 0
    (tmp_path / "away").rename(out / "invoices" / "history")

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"hashed {path}")

    monkeypatch.setattr(lookup, "sha256_file", no_hashing)
    assert store.version_count(out, row) == 1
