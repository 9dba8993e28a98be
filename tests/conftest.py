"""Shared test helpers: settings, input files, and reading PDFs back as a user's tools do."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image
from pypdf import PdfReader

from pipeline.core.config import Settings
from pipeline.store import audit as verify

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PARTNER = "test-partner"
SECRET = "test-secret-0123456789"
ENV = {"XOI_PARTNER_ID": PARTNER, "XOI_SHARE_SECRET": SECRET, "XOI_BASE_URL": "",
       "XOI_SHARE_URL_TEMPLATE": ""}
HEADER = ["service_ticket", "customer", "location", "confirmed", "share_id", "tags",
          "tax_rate", "currency", "item_description", "item_quantity", "item_unit_price"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(partner_id=PARTNER, share_secret=SECRET, out=tmp_path / "out", workers=1)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CliRunner in an empty working folder with the test partner id and secret."""
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def order(ticket: str, **fields: Any) -> dict[str, Any]:
    """One CSV row of a confirmed work order with one line item; override any field."""
    row = {"service_ticket": ticket, "customer": f"Customer {ticket}",
           "location": f"{ticket} Main St, Denver, CO", "confirmed": "yes",
           "share_id": f"shr{ticket}abcdefghijklmnop", "tags": "hvac", "tax_rate": "",
           "currency": "", "item_description": "Service call", "item_quantity": "1",
           "item_unit_price": "125.00"}
    row.update(fields)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    columns = header or list(dict.fromkeys([*HEADER, *(k for r in rows for k in r)]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def write_json(path: Path, records: Any) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def link_uris(pdf: Path) -> list[str]:
    return verify.link_uris(PdfReader(pdf))


def pdf_text(pdf: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)


def qr_codes(pdf: Path, page: int = 1, dpi: int = 150) -> list[str]:
    """Render one page with poppler, as a person printing it would, and decode its QR codes.

    Two decoders must agree: zxing reads smaller modules than zbar (``zbarimg``), and a
    user may check with either.
    """
    png = subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l",
                          str(page), str(pdf)], check=True, capture_output=True).stdout
    zxing = [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
             if result.format == zxingcpp.BarcodeFormat.QRCode]
    zbar = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable",
                           "-"], input=png, capture_output=True).stdout.decode().splitlines()
    assert sorted(zbar) == sorted(zxing), f"zbar read {zbar}, zxing {zxing}"
    return zxing


def manifest(out: Path) -> list[dict[str, str]]:
    text = (out / "manifest.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def report(out: Path) -> dict[str, Any]:
    """The run's report.json; every record read is in exactly one bucket."""
    data: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["read"] == data["confirmed"] + len(data["unconfirmed"]) + \
        len(data["rejected"]) + data["others_rejected"] + data["others_unconfirmed"], data
    return data


def session_processes(sid: int) -> list[int]:
    """The processes of session ``sid`` that are still running (not zombies): what a run
    started with ``start_new_session=True`` left behind."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


_HOLDER = """
import sys, time
from pathlib import Path
from pipeline.store import OutputFolder
with OutputFolder(Path(sys.argv[1])).lock():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextmanager
def held(out: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``out``'s lock for ``seconds`` from when this returns."""
    out.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out), str(seconds)],
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        yield process
    finally:
        process.wait(timeout=30)
