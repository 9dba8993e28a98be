"""The demo fixtures, end to end, checked as a user would with pypdf, poppler and zxing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from pipeline.cli import main

from .conftest import FIXTURES, ROOT, link_uris, manifest, pdf_text, qr_codes, report

GOOD = [str(FIXTURES / "work_orders.csv"), str(FIXTURES / "work_orders.json")]
CONFIG = str(ROOT / "xoi-invoices.example.toml")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fixtures") / "output"
    result = CliRunner().invoke(main, ["run", *GOOD, "--config", CONFIG, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_every_fixture_invoice_links_and_scans_to_its_share_url(rendered: Path) -> None:
    rows = manifest(rendered)
    assert len(rows) == 13
    for row in rows:
        pdf = rendered / row["pdf"]
        assert set(link_uris(pdf)) == {row["share_url"]}, row["service_ticket"]
        assert qr_codes(pdf) == [row["share_url"]], row["service_ticket"]
        text = pdf_text(pdf)
        assert row["invoice_number"] in text and row["service_ticket"] in text
        assert row["share_url"] in text
        assert PdfReader(pdf).metadata.title == f"Invoice {row['invoice_number']}"


def test_fixture_report_and_confirmation_filter(rendered: Path) -> None:
    data = report(rendered)
    assert data["read"] == 17 and data["confirmed"] == 13
    assert data["unconfirmed"] == ["WO-10424", "WO-10425", "WO-10506", "WO-10507"]
    assert data["rejected"] == [] and data["failed"] == []
    unconfirmed_ids = set()
    for source in GOOD:
        text = Path(source).read_text(encoding="utf-8")
        if source.endswith(".json"):
            for order in json.loads(text)["work_orders"]:
                if order["service_ticket"] in data["unconfirmed"]:
                    unconfirmed_ids.add(order["share_id"])
        else:
            for line in text.splitlines():
                ticket = line.split(",")[0]
                if ticket in data["unconfirmed"]:
                    unconfirmed_ids.update(cell for cell in line.split(",") if len(cell) >= 20
                                           and " " not in cell)
    assert unconfirmed_ids
    for path in rendered.rglob("*"):
        if path.is_file() and path.suffix in (".pdf", ".csv", ".json"):
            data_bytes = path.read_bytes()
            assert not any(share.encode() in data_bytes for share in unconfirmed_ids), path


def test_three_page_fixture(rendered: Path) -> None:
    row = next(r for r in manifest(rendered) if r["service_ticket"] == "WO-10423")
    reader = PdfReader(rendered / row["pdf"])
    assert row["pages"] == "3" and len(reader.pages) == 3
    assert "Page 3 of 3" in reader.pages[2].extract_text()


def test_bad_fixture_reports_each_record(tmp_path: Path) -> None:
    bad = FIXTURES / "bad" / "bad_work_orders.csv"
    result = CliRunner().invoke(main, ["run", str(bad), "--config", CONFIG, "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 1
    data = report(tmp_path / "out")
    rejected = {item["service_ticket"]: item for item in data["rejected"]}
    assert set(rejected) == {"WO-10902", "WO-10903", "WO-10904", "WO-10905", "WO-10906",
                             "WO-10907", "WO-10909", "WO-10910"}
    expectations = {"WO-10902": "confirmed", "WO-10903": "customer", "WO-10904": "tax_rate",
                    "WO-10905": "item_quantity", "WO-10906": "invoice_date",
                    "WO-10907": "currency", "WO-10909": "share_id", "WO-10910": "customer"}
    for ticket, field in expectations.items():
        item = rejected[ticket]
        assert item["reason"].startswith(f"{field}:"), item
        assert item["source"] == str(bad) and item["line"] > 1
        assert f"{bad}:{item['line']}: ticket {ticket}: {field}:" in result.output
    assert sorted(data["rendered"]) == ["WO-10901", "WO-10908"]
    assert "Traceback" not in result.output
