"""Every e-invoice we make passes the official rules, offline: the CEN EN 16931 CII
schematron, and the Factur-X EN 16931 XSD and schematron (tests/einvoice_validators.py runs
them with saxonche in one subprocess).

The cases: the worked example, and work orders generated from a seed across every VAT
category, credit notes, currencies with 0 and 2 decimals, units, fractional quantities and
prices, and text an XML writer must escape. Each is rendered by the real CLI; the PDFs are
judged as an accounting system receives them.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from pypdf import PdfReader

from pipeline.core.einvoice import FILE_NAME

from .conftest import manifest, order, write_csv
from .einvoice_validators import check_pdf
from .test_einvoice import EXAMPLE, cli, seller

# Category → (rate, exemption reason, buyer VAT id): what the rules ask of each.
CATEGORIES: dict[str, tuple[str, str, str]] = {
    "S": ("19", "", ""), "Z": ("0", "", ""), "E": ("0", "Steuerfrei nach § 4 Nr. 14 UStG", ""),
    "AE": ("0", "", "FR40303265045"), "K": ("0", "", "ATU13585627"),
    "G": ("0", "", ""), "O": ("0", "Nicht im Inland steuerbar", ""), "L": ("7", "", ""),
    "M": ("4", "", ""),
}
UNITS = ("", "C62", "HUR", "H87", "MTR", "KGM", "LTR", "MIN", "DAY", "SET", "XPP", "KWH")
NAMES = ("Müller & Söhne <GmbH>", "O'Brien \"Heating\"", "Ærø Køl ApS", "Zoë & Co; Ltd.",
         "株式会社 冷凍", "Smith\tJones")


def generated(seed: int, count: int) -> list[dict[str, Any]]:
    """``count`` work orders of one CSV, varied by ``seed``: one row per line item."""
    rng = random.Random(seed)
    rows = []
    for number in range(count):
        category = rng.choice(sorted(CATEGORIES))
        rate, reason, vat = CATEGORIES[category]
        currency = rng.choice(("EUR", "EUR", "CHF", "JPY", "SEK"))
        shared = {
            "customer": rng.choice(NAMES).replace("\t", " "),
            "bill_to_country": rng.choice(("DE", "FR", "AT", "ES", "IT", "NL")),
            "bill_to_street": rng.choice(("", "Rue de la Paix 5", "Hauptstr. 1 & 2")),
            "bill_to_postcode": rng.choice(("", "75002", "1010")),
            "bill_to_city": rng.choice(("", "Paris", "Wien")),
            "buyer_vat_id": vat or rng.choice(("", "DE136695976"))
            if category != "O" else "",
            "tax_category": category if category != "S" or rng.random() < 0.5 else "",
            "tax_rate": rate, "tax_exemption_reason": reason, "currency": currency,
            "invoice_date": f"2026-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}",
            "po_number": rng.choice(("", "PO-4711")),
            "buyer_reference": rng.choice(("", "Leitweg 04011000-1234512345-06")),
            "notes": rng.choice(("", "Filter & Dichtung <getauscht>", "Line one\nline two")),
        }
        credit = rng.random() < 0.2
        for _ in range(rng.randint(1, 4)):
            price = rng.choice(("95", "12.5", "0.3333", "1499.99", "0"))
            if currency == "JPY":
                price = str(rng.randint(0, 30000))
            quantity = rng.choice(("1", "2", "0.25", "2.3333", "1.5", "40"))
            negative = credit or rng.random() < 0.15
            rows.append(order(f"G{seed}-{number}", **shared, **{
                "item_description": rng.choice(("Wartung", "Anfahrt", "Kältemittel R32",
                                                "Filter <F7> & Dichtung")),
                "item_quantity": quantity, "item_unit": rng.choice(UNITS),
                "item_unit_price": f"-{price}" if negative and price != "0" else price}))
    return rows


def assert_pass(pdfs: list[Path]) -> None:
    """Each PDF embeds an XML that every official check passes, with no failure."""
    assert pdfs
    findings = check_pdf(pdfs)
    failed = {pdf.name: found.failures for pdf, found in findings.items() if found.failures}
    assert not failed, failed
    assert len(findings) == len(pdfs)


def test_the_example_passes_every_official_check(runner: CliRunner, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "example")
    result = cli(runner, "run", tmp_path / "example/work_orders.csv", "--config",
                 tmp_path / "example/xoi-invoices.toml", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert_pass([tmp_path / "output" / row["pdf"] for row in manifest(tmp_path / "output")])


def test_generated_invoices_pass_every_official_check(runner: CliRunner,
                                                      tmp_path: Path) -> None:
    rows = [row for seed in range(3) for row in generated(seed, 25)]
    source = write_csv(tmp_path / "generated.csv", rows)
    result = cli(runner, "run", source, "--config", seller(tmp_path, locale="fr_FR"),
                 "--einvoice", "factur-x", "--workers", "2")
    assert result.exit_code == 0, result.output
    rendered = manifest(tmp_path / "output")
    assert len(rendered) == 75
    pdfs = [tmp_path / "output" / row["pdf"] for row in rendered]
    assert all(FILE_NAME in PdfReader(pdf).attachments for pdf in pdfs)
    kinds = {PdfReader(pdf).attachments[FILE_NAME][0].split(b"<ram:TypeCode>")[1][:3]
             for pdf in pdfs}
    assert kinds == {b"380", b"381"}  # both kinds were made and judged
    assert_pass(pdfs)


def test_pdf_ua_e_invoices_pass_too(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "generated.csv", generated(7, 6))
    result = cli(runner, "run", source, "--config", seller(tmp_path, locale="en_GB"),
                 "--einvoice", "factur-x", "--pdf-variant", "pdf/ua-1", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert_pass([tmp_path / "output" / row["pdf"] for row in manifest(tmp_path / "output")])
