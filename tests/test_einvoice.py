"""E-invoices (SPEC, "E-invoices"): every invoice of a ``--einvoice factur-x`` run is a
Factur-X hybrid, read back as an accounting system and a user's tools read it: the
embedded XML with pypdf and lxml, the XMP packet, the catalog's /AF, the ledger, verify.

The official validators run in tests/test_einvoice_official.py; here the container, the
facts the XML states, the rejections we make first, and what the run records.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from lxml import etree
from pypdf import PdfReader

from pipeline.cli import main
from pipeline.core.einvoice import FILE_NAME
from pipeline.render.container import EMBEDDED_DATA, FACTUR_X_NS

from .conftest import ROOT, link_uris, manifest, order, pdf_text, qr_codes, write_csv

EXAMPLE = ROOT / "examples" / "einvoice-de"
NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}
SELLER = """\
partner_id = "test-partner"
locale = "{locale}"
currency = "EUR"
[company]
name = "Kälte & Klima Huber GmbH"
street = "Industriestraße 14"
postcode = "80939"
city = "München"
country = "DE"
vat_id = "DE811907980"
registration_id = "HRB 123456"
iban = "DE89 3704 0044 0532 0130 00"
bic = "COBADEFFXXX"
"""


def cli(runner: CliRunner, *args: str | Path) -> Result:
    """Invoke the CLI; a Python exception escaping it (a traceback for a user) fails."""
    result = runner.invoke(main, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback instead of a message: {result.exception!r}")
    return result


def seller(tmp_path: Path, *, locale: str = "de_DE", drop: str = "", **extra: str) -> Path:
    """A configuration with a German seller; ``drop`` leaves out one of its keys."""
    text = SELLER.format(locale=locale)
    if drop:
        text = re.sub(rf"(?m)^{drop} = .*\n", "", text)
    text = "".join(f'{key} = "{value}"\n' for key, value in extra.items()) + text
    path = tmp_path / "seller.toml"
    path.write_text(text, encoding="utf-8")
    return path


def buyer(ticket: str, **fields: str) -> dict[str, str]:
    """A business customer in Germany at the standard rate, one hour of work."""
    return order(ticket, **{
        "customer": "Bäckerei Sonnenschein KG", "bill_to_country": "DE",
        "bill_to_street": "Leopoldstraße 7", "bill_to_postcode": "80802",
        "bill_to_city": "München", "tax_rate": "19", "item_description": "Wartung",
        "item_quantity": "1", "item_unit_price": "95.00", "invoice_date": "2026-12-02",
        **fields})


def xml_of(pdf: Path) -> etree._Element:
    return etree.fromstring(PdfReader(pdf).attachments[FILE_NAME][0])


def text(root: etree._Element, path: str) -> list[str]:
    return [str(node) if isinstance(node, str) else (node.text or "")
            for node in root.xpath(path, namespaces=NS)]


def example(runner: CliRunner, tmp_path: Path, *args: str) -> Result:
    shutil.copytree(EXAMPLE, tmp_path / "example")
    return cli(runner, "run", tmp_path / "example/work_orders.csv", "--config",
               tmp_path / "example/xoi-invoices.toml", "--workers", "1", *args)


# --- the container ----------------------------------------------------------------------

def test_example_is_a_factur_x_hybrid(runner: CliRunner, tmp_path: Path) -> None:
    result = example(runner, tmp_path)
    assert result.exit_code == 0, result.output
    rows = manifest(tmp_path / "output")
    assert [row["service_ticket"] for row in rows] == ["HK-24017", "HK-24023", "HK-24031"]
    for row in rows:
        pdf = tmp_path / "output" / row["pdf"]
        reader = PdfReader(pdf)
        root = reader.trailer["/Root"]
        # PDF/A-3b, with both files, each once in /AF with its relationship and MIME type.
        assert list(reader.attachments) == [FILE_NAME, EMBEDDED_DATA]
        associated = [entry.get_object() for entry in root["/AF"]]
        assert [(spec["/F"], spec["/AFRelationship"]) for spec in associated] == \
            [(FILE_NAME, "/Alternative"), (EMBEDDED_DATA, "/Data")]
        assert len({entry.idnum for entry in root["/AF"]}) == len(root["/AF"]) == 2
        assert associated[0]["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
        # One XMP packet: the PDF/A identification and the Factur-X fields, with the
        # extension schema PDF/A asks for the fx: namespace.
        packet = root["/Metadata"].get_object().get_data().decode()
        assert packet.count("<x:xmpmeta") == packet.count("<rdf:RDF") == 1
        xmp = etree.fromstring(packet.split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
        fx = {etree.QName(node).localname: node.text
              for node in xmp.iter(f"{{{FACTUR_X_NS}}}*")}
        assert fx == {"DocumentType": "INVOICE", "DocumentFileName": "factur-x.xml",
                      "Version": "1.0", "ConformanceLevel": "EN 16931"}
        assert 'pdfaid:part="3"' in packet and 'pdfaid:conformance="B"' in packet
        assert f"<pdfaSchema:namespaceURI>{FACTUR_X_NS}</pdfaSchema:namespaceURI>" in packet
        assert "pdfuaid" not in packet
        # The supplement stays, and the link and QR code as on every invoice.
        data = json.loads(reader.attachments[EMBEDDED_DATA][0])
        assert data["invoice_number"] == row["invoice_number"]
        assert row["share_url"] in link_uris(pdf)
    assert qr_codes(tmp_path / "output" / rows[0]["pdf"]) == [rows[0]["share_url"]]


def test_the_xml_states_what_the_pdf_states(runner: CliRunner, tmp_path: Path) -> None:
    assert example(runner, tmp_path).exit_code == 0
    rows = {row["service_ticket"]: row for row in manifest(tmp_path / "output")}
    row = rows["HK-24017"]  # reverse charge for a builder
    pdf = tmp_path / "output" / row["pdf"]
    xml = xml_of(pdf)
    head = "/rsm:CrossIndustryInvoice/"
    trade = head + "rsm:SupplyChainTradeTransaction/"
    settlement = trade + "ram:ApplicableHeaderTradeSettlement/"
    assert text(xml, head + "rsm:ExchangedDocumentContext/"
                "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == \
        ["urn:cen.eu:en16931:2017"]
    assert text(xml, head + "rsm:ExchangedDocument/ram:ID") == [row["invoice_number"]]
    assert text(xml, head + "rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert text(xml, head + "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") \
        == ["20261201"]
    agreement = trade + "ram:ApplicableHeaderTradeAgreement/"
    assert text(xml, agreement + "ram:SellerTradeParty/ram:Name") == \
        ["Kälte & Klima Huber GmbH"]
    assert text(xml, agreement + "ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") \
        == ["DE811907980"]
    assert text(xml, agreement + "ram:BuyerTradeParty/ram:Name") == ["Bauträger Nord GmbH"]
    assert text(xml, agreement + "ram:BuyerTradeParty/ram:PostalTradeAddress/"
                "ram:CountryID") == ["DE"]
    assert text(xml, agreement + "ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") \
        == ["DE136695976"]
    assert text(xml, agreement + "ram:BuyerReference") == ["PRJ-ELB-3"]
    assert text(xml, trade + "ram:ApplicableHeaderTradeDelivery/"
                "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/"
                "udt:DateTimeString") == ["20261128"]
    # The share URL as a supporting document (BG-24, BT-124) and in a note.
    assert text(xml, agreement + "ram:AdditionalReferencedDocument/ram:URIID") == \
        [row["share_url"]]
    assert any(row["share_url"] in note for note in
               text(xml, head + "rsm:ExchangedDocument/ram:IncludedNote/ram:Content"))
    # Lines, units and totals: the PDF's numbers.
    lines = xml.xpath(trade + "ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert [(text(line, "ram:SpecifiedTradeProduct/ram:Name")[0],
             text(line, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity")[0],
             text(line, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode")[0],
             text(line, "ram:SpecifiedLineTradeSettlement/"
                  "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount")[0])
            for line in lines] == [
        ("Inbetriebnahme Luft-Wasser-Wärmepumpe", "6", "HUR", "537.00"),
        ("Kältemittel R290", "2.5", "KGM", "95.00"),
        ("Anfahrtspauschale", "1", "C62", "45.00")]
    totals = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert text(xml, totals + "ram:GrandTotalAmount") == [row["total"]] == ["677.00"]
    assert text(xml, settlement + "ram:ApplicableTradeTax/ram:CategoryCode") == ["AE"]
    assert text(xml, settlement + "ram:ApplicableTradeTax/ram:ExemptionReasonCode") == \
        ["VATEX-EU-AE"]
    reason = "Steuerschuldnerschaft des Leistungsempfängers (§ 13b UStG)"
    assert text(xml, settlement + "ram:ApplicableTradeTax/ram:ExemptionReason") == [reason]
    assert text(xml, settlement + "ram:SpecifiedTradeSettlementPaymentMeans/"
                "ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == \
        ["DE89370400440532013000"]
    printed = " ".join(pdf_text(pdf).split())
    for fact in ("Gesamt (EUR) 677,00", "USt-IdNr. DE136695976", "USt-IdNr. DE811907980",
                 reason, "Leistungsdatum 28.11.2026", "6 Stunden 89,50", "2,5 kg 38,00",
                 "Ihr Zeichen PRJ-ELB-3", "IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX"):
        assert fact in printed, fact


def test_a_negative_total_is_a_credit_note_with_positive_amounts(
        runner: CliRunner, tmp_path: Path) -> None:
    assert example(runner, tmp_path).exit_code == 0
    row = {r["service_ticket"]: r for r in manifest(tmp_path / "output")}["HK-24031"]
    assert Decimal(row["total"]) == Decimal("-339.15")
    xml = xml_of(tmp_path / "output" / row["pdf"])
    assert text(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert text(xml, "//ram:GrandTotalAmount") == ["339.15"]
    assert text(xml, "//ram:TaxTotalAmount") == ["54.15"]
    # The credit line is a positive line of the credit note (and a price, BT-146, is
    # never negative: BR-27).
    assert text(xml, "//ram:BilledQuantity") == ["3"]
    assert text(xml, "//ram:SpecifiedTradeSettlementLineMonetarySummation/"
                "ram:LineTotalAmount") == ["285.00"]
    assert text(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == ["95.00"]
    # Not due, as the PDF says ("Guthaben zu Ihren Gunsten", no due date): terms, no date.
    assert not text(xml, "//ram:DueDateDateTime/udt:DateTimeString")
    assert text(xml, "//ram:SpecifiedTradePaymentTerms/ram:Description") == \
        ["Guthaben zu Ihren Gunsten"]
    printed = " ".join(pdf_text(tmp_path / "output" / row["pdf"]).split())
    assert "RECHNUNGSKORREKTUR" in printed.upper() and "Fällig" not in printed


def test_pdf_ua_and_factur_x_in_one_packet(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    result = cli(runner, "run", source, "--config", seller(tmp_path), "--einvoice",
                 "factur-x", "--pdf-variant", "pdf/ua-1", "--workers", "1")
    assert result.exit_code == 0, result.output
    reader = PdfReader(tmp_path / "output/invoices/INV-WO-1.pdf")
    root = reader.trailer["/Root"]
    packet = root["/Metadata"].get_object().get_data().decode()
    assert packet.count("<x:xmpmeta") == 1
    assert 'pdfaid:part="3"' in packet and 'pdfuaid:part="1"' in packet
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in packet
    assert "<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>" in packet
    etree.fromstring(packet.split("?>", 1)[1].rsplit("<?xpacket", 1)[0])  # well-formed
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    assert list(reader.attachments) == [FILE_NAME, EMBEDDED_DATA]


def test_same_input_same_bytes_and_the_ledger_vouches_for_the_xml(
        runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1"), buyer("WO-2", tax_rate="7")])
    config = seller(tmp_path, einvoice="factur-x")
    for out in ("a", "b"):
        assert cli(runner, "run", source, "--config", config, "--out", out,
                   "--workers", "1").exit_code == 0
    first, second = (tmp_path / out / "invoices/INV-WO-1.pdf" for out in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
    with sqlite3.connect(tmp_path / "a/ledger.sqlite3") as db:
        recorded = dict(db.execute("SELECT service_ticket, xml_sha256 FROM invoices"))
    embedded = PdfReader(first).attachments[FILE_NAME][0]
    assert recorded["WO-1"] == hashlib.sha256(embedded).hexdigest()
    assert cli(runner, "verify", "--out", "a").exit_code == 0
    # The ledger records another XML than the one the PDF embeds (a PDF swapped for one
    # whose manifest line was rewritten to match): verify names the XML.
    other = PdfReader(tmp_path / "a/invoices/INV-WO-2.pdf").attachments[FILE_NAME][0]
    with sqlite3.connect(tmp_path / "a/ledger.sqlite3") as db:
        db.execute("UPDATE invoices SET xml_sha256 = ? WHERE service_ticket = 'WO-1'",
                   (hashlib.sha256(other).hexdigest(),))
    result = cli(runner, "verify", "--out", "a")
    assert result.exit_code == 1
    assert "INV-WO-1.pdf: its factur-x.xml is not the one issued" in result.output


def test_turning_e_invoices_on_renders_again(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    config = seller(tmp_path)
    assert cli(runner, "run", source, "--config", config, "--workers", "1").exit_code == 0
    assert FILE_NAME not in PdfReader(tmp_path / "output/invoices/INV-WO-1.pdf").attachments
    result = cli(runner, "run", source, "--config", config, "--einvoice", "factur-x",
                 "--workers", "1")
    assert result.exit_code == 0 and "rendered 1, unchanged 0" in result.output
    assert FILE_NAME in PdfReader(tmp_path / "output/invoices/INV-WO-1.pdf").attachments
    again = cli(runner, "run", source, "--config", config, "--einvoice", "factur-x",
                "--workers", "1")
    assert "rendered 0, unchanged 1" in again.output


def test_regenerate_keeps_the_e_invoice(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    config = seller(tmp_path, einvoice="factur-x")
    assert cli(runner, "run", source, "--config", config, "--workers", "1").exit_code == 0
    source.write_text(source.read_text(encoding="utf-8").replace("Wartung", "Wartung Kälte"),
                      encoding="utf-8")
    result = cli(runner, "regenerate", "WO-1", "--input", source, "--config", config)
    assert result.exit_code == 0, result.output
    xml = xml_of(tmp_path / "output/invoices/INV-WO-1.pdf")
    assert text(xml, "//ram:SpecifiedTradeProduct/ram:Name") == ["Wartung Kälte"]


# --- what we refuse first ----------------------------------------------------------------

@pytest.mark.parametrize(("drop", "message"), [
    ("vat_id", "Error: [company] vat_id (BT-31): required for an e-invoice"),
    ("iban", "Error: [company] iban (BT-84): required for an e-invoice"),
    ("country", "Error: [company] country (BT-40): required for an e-invoice"),
])
def test_a_seller_without_what_an_e_invoice_needs_stops_the_run(
        runner: CliRunner, tmp_path: Path, drop: str, message: str) -> None:
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    result = cli(runner, "run", source, "--config", seller(tmp_path, drop=drop),
                 "--einvoice", "factur-x")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [message]
    assert not (tmp_path / "output").exists()
    # Without e-invoices the same configuration renders.
    assert cli(runner, "run", source, "--config", seller(tmp_path, drop=drop),
               "--workers", "1").exit_code == 0


def test_malformed_seller_fields_are_named(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    config = seller(tmp_path)
    config.write_text(config.read_text(encoding="utf-8").replace(
        "DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 01"), encoding="utf-8")
    result = cli(runner, "run", source, "--config", config)
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: [company] iban (BT-84): 'DE89 3704 0044 0532 "
                                     "0130 01' is not a valid IBAN")


@pytest.mark.parametrize(("fields", "reason"), [
    ({"bill_to_country": ""}, "bill_to_country (BT-55): required for an e-invoice"),
    ({"bill_to_country": "Germany"},
     "bill_to_country (BT-55): 'Germany' is not an ISO 3166-1 country code like DE"),
    ({"tax_category": "AE", "tax_rate": "0"},
     "buyer_vat_id (BT-48): required for an e-invoice with tax_category AE (reverse charge)"),
    ({"tax_category": "AE", "tax_rate": "19", "buyer_vat_id": "DE136695976"},
     "tax_rate (BT-119): 19 is not 0, as tax_category AE (reverse charge) needs"),
    ({"tax_rate": "0"}, "tax_category (BT-118): required for an e-invoice when tax_rate is "
     "0: Z, E, AE, K, G or O"),
    ({"tax_category": "E", "tax_rate": "0"}, "tax_exemption_reason (BT-120): required for "
     "an e-invoice with tax_category E (exempt from VAT)"),
    ({"tax_exemption_reason": "weil"}, "tax_exemption_reason (BT-120): not allowed with "
     "tax_category S (standard rate)"),
    ({"buyer_vat_id": "136695976"}, "buyer_vat_id (BT-48): '136695976' is not a VAT "
     "identifier that starts with its country's code, like DE123456789"),
    ({"tax_category": "O", "tax_rate": "0", "tax_exemption_reason": "nicht steuerbar",
      "buyer_vat_id": "DE136695976"}, "buyer_vat_id (BT-48): not allowed with tax_category O "
     "(not subject to VAT)"),
    ({"currency": "KWD"},
     "currency (BT-5): KWD has 3 decimals, an e-invoice (EN 16931) at most 2"),
    ({"item_unit": "hours"},
     "item_unit (BT-130): line item 1: 'hours' is not a UN/ECE Rec 20 unit code: use HUR "
     "(hour)"),
])
def test_a_record_an_e_invoice_cannot_state_is_rejected_by_name(
        runner: CliRunner, tmp_path: Path, fields: dict[str, str], reason: str) -> None:
    source = write_csv(tmp_path / "t.csv", [buyer("OK"), buyer("7", **fields)])
    result = cli(runner, "run", source, "--config", seller(tmp_path), "--einvoice",
                 "factur-x", "--workers", "1")
    assert result.exit_code == 1
    assert f"t.csv:3: ticket 7: {reason}" in result.output
    # The good record is still an e-invoice; nothing of the bad one was written.
    assert [row["service_ticket"] for row in manifest(tmp_path / "output")] == ["OK"]
    assert not (tmp_path / "output/invoices/INV-7.pdf").exists()
    check = cli(runner, "validate", source, "--config", seller(tmp_path), "--einvoice",
                "factur-x")
    assert check.exit_code == 1 and f"t.csv:3: ticket 7: {reason}" in check.output


def test_not_subject_to_vat_needs_the_sellers_registration(
        runner: CliRunner, tmp_path: Path) -> None:
    rows = [buyer("7", tax_category="O", tax_rate="0", tax_exemption_reason="nicht steuerbar")]
    source = write_csv(tmp_path / "t.csv", rows)
    result = cli(runner, "run", source, "--config", seller(tmp_path, drop="registration_id"),
                 "--einvoice", "factur-x", "--workers", "1")
    assert result.exit_code == 1
    assert "t.csv:2: ticket 7: tax_category (BT-118): O (not subject to VAT) " \
        "names no VAT identifier (BR-O-02), so the seller needs [company] registration_id " \
        "(BT-30)" in result.output


def test_without_e_invoices_the_requirements_do_not_apply(
        runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "t.csv", [order("7", tax_rate="0")])
    assert cli(runner, "run", source, "--workers", "1").exit_code == 0


def test_a_mapping_maps_the_e_invoice_fields(runner: CliRunner, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "Auftrag;Kunde;Ort;Erledigt;Land;USt-IdNr;Leistung;Einheit;Menge;Preis;Datum\n"
        "A-1;Bau Nord GmbH;Hamburg;ja;DE;DE136695976;Montage;HUR;2,5;80,00;28.11.2026\n"
        "A-2;Bau Süd GmbH;München;ja;;DE136695976;Montage;Stunden;1;80,00;28.11.2026\n",
        encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("""\
[fields]
service_ticket = "Auftrag"
customer = "Kunde"
location = "Ort"
confirmed = "Erledigt"
bill_to_country = "Land"
buyer_vat_id = "USt-IdNr"
item_description = "Leistung"
item_unit = "Einheit"
item_quantity = "Menge"
item_unit_price = "Preis"
service_date = "Datum"

[values]
tax_category = "AE"
tax_rate = "0"
yes = ["ja"]

[format]
date = "%d.%m.%Y"
decimal = ","
delimiter = ";"
""", encoding="utf-8")
    result = cli(runner, "run", export, "--mapping", mapping, "--config", seller(tmp_path),
                 "--einvoice", "factur-x", "--workers", "1")
    assert result.exit_code == 1
    assert "export.csv:3: ticket A-2: Einheit (item_unit, BT-130): line item 1: 'Stunden' " \
        "is not a UN/ECE Rec 20 unit code: use HUR (hour); Land (bill_to_country, BT-55): " \
        "required for an e-invoice\n" in result.output
    xml = xml_of(tmp_path / "output/invoices/INV-A-1.pdf")
    assert text(xml, "//ram:BilledQuantity/@unitCode") == ["HUR"]
    assert text(xml, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == \
        ["DE136695976"]
    assert text(xml, "//ram:ActualDeliverySupplyChainEvent//udt:DateTimeString") == \
        ["20261128"]


def test_seller_fields_are_stated_in_one_form(runner: CliRunner, tmp_path: Path) -> None:
    config = seller(tmp_path)
    text_ = config.read_text(encoding="utf-8")
    for given, spelled in (('"DE"', '" de "'), ('"DE811907980"', '"de-811.907.980"'),
                           ('"DE89 3704 0044 0532 0130 00"', '"DE89-3704-0044-0532-0130-00"'),
                           ('"COBADEFFXXX"', '"coba de ff xxx"')):
        text_ = text_.replace(given, spelled)
    config.write_text(text_, encoding="utf-8")
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    result = cli(runner, "run", source, "--config", config, "--einvoice", "factur-x",
                 "--workers", "1")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "output/invoices/INV-WO-1.pdf"
    xml = xml_of(pdf)
    assert text(xml, "//ram:SellerTradeParty/ram:PostalTradeAddress/ram:CountryID") == ["DE"]
    assert text(xml, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == \
        ["DE811907980"]
    assert text(xml, "//ram:IBANID") == ["DE89370400440532013000"]
    assert text(xml, "//ram:BICID") == ["COBADEFFXXX"]
    printed = " ".join(pdf_text(pdf).split())
    assert "IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX" in printed


def test_cash_needs_no_account_and_a_code_may_be_a_number(
        runner: CliRunner, tmp_path: Path) -> None:
    config = seller(tmp_path, drop="iban")
    config.write_text(config.read_text(encoding="utf-8") + "payment_means = 10\n",
                      encoding="utf-8")
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    result = cli(runner, "run", source, "--config", config, "--einvoice", "factur-x",
                 "--workers", "1")
    assert result.exit_code == 0, result.output
    xml = xml_of(tmp_path / "output/invoices/INV-WO-1.pdf")
    assert text(xml, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == ["10"]
    assert not text(xml, "//ram:IBANID")


def test_a_default_currency_an_e_invoice_cannot_state_stops_the_run(
        runner: CliRunner, tmp_path: Path) -> None:
    config = seller(tmp_path)
    config.write_text(config.read_text(encoding="utf-8").replace('"EUR"', '"BHD"'),
                      encoding="utf-8")
    source = write_csv(tmp_path / "in.csv", [buyer("WO-1")])
    result = cli(runner, "run", source, "--config", config, "--einvoice", "factur-x")
    assert result.exit_code == 2
    assert result.output.strip() == \
        "Error: currency (BT-5): BHD has 3 decimals, an e-invoice (EN 16931) at most 2"


def test_not_subject_to_vat_prints_no_vat_identifier(runner: CliRunner, tmp_path: Path) -> None:
    rows = [buyer("7", tax_category="O", tax_rate="0", tax_exemption_reason="nicht steuerbar")]
    source = write_csv(tmp_path / "t.csv", rows)
    result = cli(runner, "run", source, "--config", seller(tmp_path), "--einvoice",
                 "factur-x", "--workers", "1")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "output/invoices/INV-7.pdf"
    assert "DE811907980" not in pdf_text(pdf)
    assert not text(xml_of(pdf), "//ram:SpecifiedTaxRegistration/ram:ID")
    assert "Handelsregister HRB 123456" in " ".join(pdf_text(pdf).split())
