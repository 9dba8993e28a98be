"""``run`` plans in bounded memory: work orders are read, linked and planned a few hundred
at a time, the ledger is looked up per chunk and scanned for its share IDs and numbers,
and the invoices to render reach the executor as an iterable from a spool on disk.

These runs stop at the ``start`` event or render a handful of PDFs: what they pin is that
the rules across chunks and against the ledger hold as when everything was kept.
The time and memory of planning a million are measured by ``make bench``
(benchmarks/planning.py).
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline import batch
from pipeline.batch.stream import Linking
from pipeline.cli import main
from pipeline.core.config import Settings
from pipeline.core.models import Invoice, Outcome, Rendered
from pipeline.core.stop import Stop
from pipeline.render import pool as workers
from pipeline.render.seam import Result
from pipeline.store import Ledger
from pipeline.store import manifest as record

from .conftest import order, write_csv
from .test_ledger import invoice_of


def _fillers(first: int, last: int) -> list[dict[str, Any]]:
    return [order(f"F-{n:04d}") for n in range(first, last)]


def _run_to_start(sources: list[Path], settings: Settings,
                  **options: Any) -> tuple[Outcome, dict[str, object]]:
    """A run stopped where rendering would begin; its outcome and ``start`` event."""
    stop = threading.Event()
    started: dict[str, object] = {}

    def progress(event: str, data: dict[str, object]) -> None:
        if event == "start":
            started.update(data)
            stop.set()

    return batch.run(sources, settings, progress=progress, stop=stop, **options), started


def _manifest_rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "manifest.csv").read_text())))


def test_a_big_run_over_a_ledger_keeps_every_rule(tmp_path: Path, settings: Settings) -> None:
    first = write_csv(tmp_path / "first.csv", [order("A"), order("B"), order("C")])
    assert sorted(batch.run([first], settings).rendered) == ["A", "B", "C"]
    before = {row["service_ticket"]: row for row in _manifest_rows(settings.out)}
    rows = [*_fillers(0, 300), order("A"), order("B", confirmed="no"),
            order("C", item_unit_price="130.00"), *_fillers(300, 2000),
            order("X1", share_id=order("A")["share_id"]), *_fillers(2000, 3000)]
    big = write_csv(tmp_path / "big.csv", rows)
    # In a second file: within one CSV, rows of one ticket are its line items.
    tail = write_csv(tmp_path / "tail.csv", [order("F-0005"),
                                             order("X2", invoice_number="inv-a")])
    line = {row["service_ticket"]: index + 2 for index, row in enumerate(rows)}

    outcome, started = _run_to_start([big, tail], settings)

    # 2,999 fillers (F-0005 is in two records: neither is invoiced), and C's change; A is
    # as it was, B withdrawn.
    assert started == {"total": 3000, "unchanged": 1}
    assert (outcome.read, outcome.confirmed, outcome.unconfirmed) == (3006, 3001, ["B"])
    assert outcome.unchanged == ["A"] and outcome.withdrawn == ["B"]
    assert outcome.interrupted and outcome.left == 3000 and outcome.rendered == []
    assert [(p.source, p.line, p.service_ticket, p.reason) for p in outcome.rejected] == [
        (str(big), line["F-0005"], "F-0005", f"service_ticket: also on {tail}:2; a ticket "
         "may appear in one record only"),
        (str(big), line["X1"], "X1", f"share_id: {order('A')['share_id']!r} is already "
         "the share ID of ticket A"),
        (str(tail), 2, "F-0005", f"service_ticket: also on {big}:{line['F-0005']}; a "
         "ticket may appear in one record only"),
        (str(tail), 3, "X2", "invoice_number: 'inv-a' and 'INV-A', the invoice number of "
         "ticket A, differ only in letter case: one PDF file on many file systems"),
    ]
    assert [w.service_ticket for w in outcome.warnings] == ["B"]
    assert "was invoiced as INV-B and is now unconfirmed" in outcome.warnings[0].message
    # C keeps its issued row until its new PDF is stored; B is out of the manifest.
    assert _manifest_rows(settings.out) == [before["A"], before["C"]]
    assert not (settings.out / before["B"]["pdf"]).exists()


def test_a_share_id_or_number_in_the_ledger_only_is_still_taken(tmp_path: Path,
                                                                settings: Settings) -> None:
    # WO-1 is in the ledger, not in the input: only the ledger knows its claims, and
    # the orders that want them come chunks later.
    first = write_csv(tmp_path / "first.csv", [order("WO-1", invoice_number="N-1")])
    assert batch.run([first], settings).rendered == ["WO-1"]
    rows = [*_fillers(0, 600), order("NEW-1", share_id=order("WO-1")["share_id"]),
            *_fillers(600, 900), order("NEW-2", invoice_number="N-1")]
    big = write_csv(tmp_path / "big.csv", rows)
    outcome, started = _run_to_start([big], settings)
    assert started == {"total": 900, "unchanged": 0}
    assert [(p.line, p.reason) for p in outcome.rejected] == [
        (602, f"share_id: {order('WO-1')['share_id']!r} is already the share ID of ticket "
         "WO-1"),
        (903, "invoice_number: 'N-1' is already the invoice number of ticket WO-1")]


def test_only_on_a_big_input(runner: CliRunner, tmp_path: Path) -> None:
    rows = [*_fillers(0, 2500), order("F-0100", customer="again"), *_fillers(2500, 3000),
            order("WO-LATE", confirmed="no")]
    write_csv(tmp_path / "big.csv", rows)  # F-0100's rows disagree: one rejected record
    result = runner.invoke(main, ["run", "big.csv", "--only", "F-2900", "--only", "NOPE",
                                  "--only", "WO-LATE", "--workers", "1", "--quiet"])
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "output/report.json").read_text())
    assert report["rendered"] == ["F-2900"] and report["unchanged"] == []
    assert report["failed"] == [
        {"service_ticket": "NOPE", "reason": "is in none of the inputs"},
        {"service_ticket": "WO-LATE", "reason": "is not confirmed: the technician has not "
         "completed the workflow, so it gets no invoice"}]
    assert (report["read"], report["confirmed"], report["others_rejected"]) == (3001, 2999, 1)
    assert [row["service_ticket"] for row in _manifest_rows(tmp_path / "output")] == ["F-2900"]


def test_the_executor_is_given_an_iterable_not_a_list(tmp_path: Path, settings: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[object] = []
    real = workers.InProcess.render

    def render(self: workers.InProcess, invoices: Iterable[Invoice],
               stop: Stop) -> Iterator[Result]:
        given.append(invoices)
        return real(self, invoices, stop)

    monkeypatch.setattr(workers.InProcess, "render", render)
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    assert sorted(batch.run([source], settings).rendered) == ["WO-1", "WO-2"]
    assert len(given) == 1 and not isinstance(given[0], Sequence)
    assert sorted(path.name for path in (settings.out / "invoices").iterdir()) == [
        "INV-WO-1.pdf", "INV-WO-2.pdf"]


def test_a_pool_takes_invoices_as_it_hands_them_out(tmp_path: Path,
                                                    settings: Settings) -> None:
    pooled = replace(settings, workers=2)
    source = write_csv(tmp_path / "in.csv", [order(f"WO-{n}") for n in range(40)])
    invoices = [invoice for chunk in Linking([source], pooled, date(2026, 12, 1))
                for invoice in chunk.invoices]
    taken = 0

    def lazily() -> Iterator[Invoice]:
        nonlocal taken
        for invoice in invoices:
            taken += 1
            yield invoice

    stop = threading.Event()
    results = []
    for result in workers.ProcessPool(pooled).render(lazily(), stop):
        results.append(result)
        stop.set()  # after the first: the pool starts nothing more
    # A window of workers * 4 was handed out, and a few more were looked at, not 40.
    assert 1 <= len(results) <= taken <= 2 * 4 + 2 < len(invoices)


def test_the_manifest_is_written_in_parts(tmp_path: Path) -> None:
    rows = [Rendered(f"T-{n:05d}", f"=INV-{n}", "Customer", f"share{n}", f"https://x/{n}",
                     f"invoices/INV-{n}.pdf", "0" * 64, 1, Decimal("-12.50"), "USD")
            for n in range(2 * record.ROWS_PER_PART + 7)]
    parts = list(record.manifest_csv(rows))
    assert len(parts) == 3
    read = list(csv.reader(io.StringIO(b"".join(parts).decode())))
    assert read[0] == list(record.MANIFEST_HEADER) and len(read) == len(rows) + 1
    assert read[1] == ["T-00000", "'=INV-0", "Customer", "share0", "https://x/0",
                       "invoices/INV-0.pdf", "0" * 64, "1", "-12.50", "USD"]
    assert [row[0] for row in read[1:]] == [row.service_ticket for row in rows]


def test_ledger_rows_are_looked_up_in_batches(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    try:
        for n in range(1200):
            ledger.record(Rendered(f"T-{n}", f"INV-{n}", "C", f"s{n}", f"https://x/{n}",
                                   f"invoices/INV-{n}.pdf", "0" * 64, 1, Decimal("1.00"),
                                   "USD", "f", "2026-01-01T00:00:00+00:00", "2026-01-01"),
                          invoice_of(f"T-{n}"))
        wanted = [f"T-{n}" for n in range(0, 1200, 2)] + ["T-missing"]
        found = ledger.rows(wanted)
        assert sorted(found) == sorted(wanted[:-1])
        assert found["T-8"].invoice_number == "INV-8" and not found["T-8"].withdrawn
        shares, files = ledger.owners([f"s{n}" for n in range(0, 1200, 3)] + ["s-none"],
                                      [f"inv-{n}" for n in range(1, 1200, 3)] + ["inv-x"])
        assert shares == {f"s{n}": f"T-{n}" for n in range(0, 1200, 3)}
        assert files == {f"inv-{n}": (f"T-{n}", f"INV-{n}") for n in range(1, 1200, 3)}
    finally:
        ledger.close()
