"""The offline e-invoice validator harness (tests/einvoice_validators.py) itself.

Every case is built with the factur-x library, then put through the harness: a valid EN 16931
invoice must pass all three validators, and each broken one must be reported by the rule that
it breaks. The cases share one worker subprocess (module fixture), as callers should.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import facturx
import pytest
from lxml import etree
from pypdf import PdfWriter

from tests.einvoice_validators import (
    CEN_XSLT,
    Findings,
    check_files,
    check_pdf,
    check_xml,
    facturx_dir,
    run_worker,
    validate_pdf,
    validate_xml,
)

RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"


def invoice() -> dict[str, Any]:
    """A German HVAC contractor's service invoice: EUR, one standard-rated (S, 19 %) line."""
    return {
        "BT-1": "INV-2027-0042",
        "BT-2": datetime.date(2027, 1, 15),
        "BT-3": "380",
        "BT-5": "EUR",
        "BT-9": datetime.date(2027, 2, 14),
        "BT-10": "PO-7781",
        "BT-20": "Payable within 30 days",
        "BT-72": datetime.date(2027, 1, 12),
        "BT-81": "58",
        "BT-84": "DE02120300000000202051",
        "BT-86": "BYLADEM1001",
        "BG-1": [{"BT-22": "Service report: https://invoices.example.com/s/abc123"}],
        "BG-4": {
            "name": "Kältetechnik Müller GmbH",
            "vat_identifier": "DE123456789",
            "addr_l1": "Industriestraße 5",
            "postcode": "80331",
            "city": "München",
            "country_code": "DE",
        },
        "BG-7": {
            "name": "Bürohaus Schmidt KG",
            "vat_identifier": "DE987654321",
            "addr_l1": "Marktplatz 1",
            "postcode": "10115",
            "city": "Berlin",
            "country_code": "DE",
        },
        "BG-24": [{"BT-122": "INV-2027-0042", "BT-124": "https://invoices.example.com/s/abc123"}],
        "BG-25": [
            {
                "BT-126": "1",
                "BT-153": "Maintenance of the rooftop AC unit",
                "BT-129": "2.5",
                "BT-130": "HUR",
                "BT-146": "80.00",
                "BT-131": "200.00",
                "BT-151": "S",
                "BT-152": "19",
            }
        ],
        "BG-23": [{"BT-116": "200.00", "BT-117": "38.00", "BT-118": "S", "BT-119": "19"}],
        "BT-106": "200.00",
        "BT-109": "200.00",
        "BT-110": "38.00",
        "BT-112": "238.00",
        "BT-115": "238.00",
    }


def wrong_total() -> dict[str, Any]:
    data = invoice()
    data["BT-112"] = data["BT-115"] = "240.00"  # 200.00 + 38.00 is 238.00
    return data


def bad_unit() -> dict[str, Any]:
    data = invoice()
    data["BG-25"][0]["BT-130"] = "HOURS"  # UN/ECE Rec 20 says HUR
    return data


def reverse_charge(buyer_vat_id: bool) -> dict[str, Any]:
    data = invoice()
    if not buyer_vat_id:
        del data["BG-7"]["vat_identifier"]
    data["BG-25"][0].update({"BT-151": "AE", "BT-152": "0"})
    data["BG-23"] = [
        {
            "BT-116": "200.00",
            "BT-117": "0.00",
            "BT-118": "AE",
            "BT-119": "0",
            "BT-120": "Reverse charge",
            "BT-121": "VATEX-EU-AE",
        }
    ]
    data.update({"BT-110": "0.00", "BT-112": "200.00", "BT-115": "200.00"})
    return data


def cii(data: dict[str, Any]) -> bytes:
    xml = facturx.generate_cii_xml(
        copy.deepcopy(data), level="en16931", check_xsd=True, check_schematron=False
    )
    assert isinstance(xml, bytes)
    return xml


def breaks_xsd() -> bytes:
    """The valid invoice with its mandatory document type code (BT-3) removed."""
    root = etree.fromstring(cii(invoice()))
    type_code = root.find(f"{{{RSM}}}ExchangedDocument/{{{RAM}}}TypeCode")
    assert type_code is not None
    type_code.getparent().remove(type_code)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


CASES: dict[str, Callable[[], bytes]] = {
    "valid": lambda: cii(invoice()),
    "wrong_total": lambda: cii(wrong_total()),
    "bad_unit": lambda: cii(bad_unit()),
    "reverse_charge_ok": lambda: cii(reverse_charge(buyer_vat_id=True)),
    "reverse_charge_no_buyer_vat": lambda: cii(reverse_charge(buyer_vat_id=False)),
    "breaks_xsd": breaks_xsd,
    "not_xml": lambda: b"<rsm:CrossIndustryInvoice>",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cii")
    paths = {}
    for name, build in CASES.items():
        paths[name] = folder / f"{name}.xml"
        paths[name].write_bytes(build())
    return paths


@pytest.fixture(scope="module")
def findings(files: dict[str, Path]) -> dict[str, Findings]:
    """All cases in one call: one worker subprocess."""
    found = check_xml(list(files.values()))
    return {name: found[path] for name, path in files.items()}


def rules(failures: list[str], source: str) -> set[str]:
    """The rule ids a validator (``CEN``, ``Factur-X``) reported, e.g. {"BR-CO-15"}."""
    return {m.group(1) for f in failures if (m := re.match(rf"{source} (\S+):", f))}


def test_a_valid_en16931_invoice_passes_all_three(findings: dict[str, Findings]) -> None:
    assert findings["valid"].failures == []
    assert findings["reverse_charge_ok"].failures == []


def test_validate_xml_returns_failures_by_path(files: dict[str, Path]) -> None:
    paths = [files["valid"], files["wrong_total"]]
    result = validate_xml(paths)
    assert list(result) == paths
    assert result[files["valid"]] == []
    assert result[files["wrong_total"]]


def test_a_wrong_total_is_br_co_15(findings: dict[str, Findings]) -> None:
    failures = findings["wrong_total"].failures
    assert "BR-CO-15" in rules(failures, "CEN"), failures
    assert "BR-CO-15" in rules(failures, "Factur-X"), failures


def test_a_bad_unit_code_is_br_cl_23(findings: dict[str, Findings]) -> None:
    failures = findings["bad_unit"].failures
    assert "BR-CL-23" in rules(failures, "CEN"), failures


def test_the_facturx_code_list_is_read_beside_its_stylesheet(
    findings: dict[str, Findings],
) -> None:
    # FACTUR-X_EN16931.xslt checks codes with document('FACTUR-X_EN16931_codedb.xml'): that the
    # bad unit code is refused (and not "the schematron stopped") shows the file was found.
    failures = findings["bad_unit"].failures
    assert any(f.startswith("Factur-X FX-SCH-A-") and "@unitCode" in f for f in failures), failures
    assert not any("stopped" in f for f in failures), failures
    assert (facturx_dir() / "FACTUR-X_EN16931_codedb.xml").is_file()


def test_reverse_charge_without_buyer_vat_id_is_br_ae_02(findings: dict[str, Findings]) -> None:
    failures = findings["reverse_charge_no_buyer_vat"].failures
    assert "BR-AE-02" in rules(failures, "CEN"), failures


def test_an_xml_that_breaks_the_xsd_is_reported_as_xsd(findings: dict[str, Findings]) -> None:
    failures = findings["breaks_xsd"].failures
    assert any(f.startswith("XSD: line ") and "TypeCode" in f for f in failures), failures
    assert "BR-04" in rules(failures, "CEN"), failures  # the schematrons still ran


def test_not_well_formed_xml_is_a_failure_not_a_crash(findings: dict[str, Findings]) -> None:
    failures = findings["not_xml"].failures
    assert len(failures) == 1 and failures[0].startswith("XML: line 1:"), failures


def test_warnings_are_not_failures(findings: dict[str, Findings]) -> None:
    for found in findings.values():
        assert not set(found.failures) & set(found.warnings)
        assert all(" warning" not in f for f in found.failures)


def test_validate_pdf_reads_the_embedded_factur_x_xml(
    files: dict[str, Path], tmp_path: Path
) -> None:
    def pdf(name: str, attachments: dict[str, bytes]) -> Path:
        writer = PdfWriter()
        writer.add_blank_page(width=595, height=842)
        for filename, data in attachments.items():
            writer.add_attachment(filename, data)
        path = tmp_path / f"{name}.pdf"
        with path.open("wb") as out:
            writer.write(out)
        return path

    valid = files["valid"].read_bytes()
    good = pdf("good", {"factur-x.xml": valid, "invoice.json": b"{}"})
    bad = pdf("bad", {"factur-x.xml": files["wrong_total"].read_bytes()})
    none = pdf("none", {"invoice.json": b"{}"})
    result = validate_pdf([good, bad, none])
    assert result[good] == []
    assert "BR-CO-15" in rules(result[bad], "CEN"), result[bad]
    assert result[none] == ["PDF: no embedded factur-x.xml"]
    assert check_pdf([files["valid"]])[files["valid"]].failures == ["PDF: not a PDF file"]
    mixed = check_files([files["valid"], good, files["bad_unit"]])  # XML and PDF, one worker
    assert [found.failures == [] for found in mixed.values()] == [True, True, False]


def test_the_vendored_cen_stylesheet_is_the_release_in_notice_md() -> None:
    notice = (CEN_XSLT.parent / "NOTICE.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", notice)
    assert recorded, "NOTICE.md records the file's sha256"
    data = CEN_XSLT.read_bytes()
    assert hashlib.sha256(data).hexdigest() == recorded.group(1), "the file was modified"
    version = re.search(rb"Schematron version (\S+) ", data)
    assert version and f"validation-{version.group(1).decode()}" in notice


def test_timing(files: dict[str, Path], tmp_path: Path) -> None:
    """How long one worker takes to start, and to validate 1 and 20 files (printed, -s)."""
    valid = files["valid"].read_bytes()
    twenty = []
    for number in range(20):
        path = tmp_path / f"{number}.xml"
        path.write_bytes(valid)
        twenty.append(path)
    lines = []
    for label, paths in (("0 files", []), ("1 file", twenty[:1]), ("20 files", twenty)):
        run = run_worker(paths)
        assert all(found.failures == [] for found in run.findings.values())
        inner = ", ".join(f"{k} {v:.2f} s" for k, v in run.timings.items())
        lines.append(f"worker, {label}: {run.wall:.2f} s wall ({inner})")
    print("\n" + "\n".join(lines))
