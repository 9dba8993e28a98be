"""Every invoice PDF carries what the contract asks, read back with pypdf, poppler and zxing."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from pypdf import PdfReader

from pipeline import batch
from pipeline.core.config import Settings
from pipeline.link import derive_share_id

from .conftest import PARTNER, SECRET, link_uris, manifest, order, pdf_text, qr_codes, write_csv


def test_invoice_carries_link_qr_text_and_title(tmp_path: Path, settings: Settings) -> None:
    rows = [order("WO-1", customer="Acme & Sons <b>Ltd</b>", tax_rate="8.25",
                  item_description="Compressor replacement", item_unit_price="1234.50"),
            order("WO-1", customer="Acme & Sons <b>Ltd</b>", tax_rate="8.25",
                  item_description="Labor", item_quantity="2.5", item_unit_price="95")]
    outcome = batch.run([write_csv(tmp_path / "in.csv", rows)], settings)
    assert outcome.rendered == ["WO-1"] and outcome.ok
    pdf = settings.out / "invoices" / "INV-WO-1.pdf"
    url = "https://vision.xoeye.io/share/shrWO-1abcdefghijklmnop"
    assert set(link_uris(pdf)) == {url}  # the QR image and the printed URL both link
    assert qr_codes(pdf) == [url]
    text = pdf_text(pdf)
    for expected in ("INV-WO-1", "WO-1", "Acme & Sons <b>Ltd</b>", "WO-1 Main St, Denver, CO",
                     "Compressor replacement", "Labor", "$1,593.44", url, "Page 1 of 1"):
        assert expected in text
    assert PdfReader(pdf).metadata.title == "Invoice INV-WO-1"
    row = manifest(settings.out)[0]
    assert row["total"] == "1593.44" and row["share_url"] == url and row["pages"] == "1"


def test_long_invoice_repeats_header_and_numbers_pages(tmp_path: Path,
                                                       settings: Settings) -> None:
    rows = [order("WO-9", item_description=f"Rooftop unit {n} filter change",
                  item_unit_price="45.00") for n in range(1, 61)]
    batch.run([write_csv(tmp_path / "in.csv", rows)], settings)
    reader = PdfReader(settings.out / "invoices" / "INV-WO-9.pdf")
    pages = len(reader.pages)
    assert pages == 3
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert "DESCRIPTION" in text and "UNIT PRICE" in text
        assert f"Page {number} of {pages}" in text
    everything = pdf_text(settings.out / "invoices" / "INV-WO-9.pdf")
    assert all(f"Rooftop unit {n} filter change" in everything for n in range(1, 61))
    assert "$2,700.00" in everything


def test_derived_share_id_and_non_latin_names(tmp_path: Path, settings: Settings) -> None:
    rows = [order("WO-7", share_id="", customer="北京华通机电工程有限公司",
                  location="شركة الرياض للتكييف")]
    batch.run([write_csv(tmp_path / "in.csv", rows)], settings)
    share_id = derive_share_id(SECRET, PARTNER, "WO-7")
    url = f"https://vision.xoeye.io/share/{share_id}"
    pdf = settings.out / "invoices" / "INV-WO-7.pdf"
    assert qr_codes(pdf) == [url] and url in link_uris(pdf)
    assert "北京华通机电工程有限公司" in pdf_text(pdf)
    fonts = {str(font) for page in PdfReader(pdf).pages
             for font in page["/Resources"]["/Font"].values()
             for font in [font.get_object()["/BaseFont"]]}
    assert any("CJK" in font for font in fonts)


def test_same_input_gives_same_bytes(tmp_path: Path, settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", currency="EUR")])
    first = Settings(**{**settings.__dict__, "out": tmp_path / "a"})
    second = Settings(**{**settings.__dict__, "out": tmp_path / "b"})
    batch.run([source], first)
    batch.run([source], second)
    for name in ("INV-WO-1.pdf", "INV-WO-2.pdf"):
        assert (tmp_path / "a/invoices" / name).read_bytes() == \
            (tmp_path / "b/invoices" / name).read_bytes()


def test_unconfirmed_link_appears_nowhere(tmp_path: Path, settings: Settings) -> None:
    rows = [order("WO-1"), order("WO-2", confirmed="no", share_id="secretlinkWO2xxxxxxxx"),
            order("WO-3", confirmed="", share_id="secretlinkWO3xxxxxxxx")]
    outcome = batch.run([write_csv(tmp_path / "in.csv", rows)], settings)
    assert outcome.unconfirmed == ["WO-2", "WO-3"] and outcome.rendered == ["WO-1"]
    for path in settings.out.rglob("*"):
        if path.is_file() and path.suffix in (".pdf", ".csv", ".json"):
            data = path.read_bytes()
            assert b"secretlink" not in data, path


SHARE_IDS = {
    "uuid": "3f2b9c1e-8d4a-4e7b-9a61-0c5d2e8f7b34",
    "long": "k7Qm2xR9vT4pL8sN3wZ6yB1c" * 4,
    "encoded": "Überprüfung-工单-2026/11 #7?x=1&y",
    "widest": "W" * 200,
    "longest": "工" * 107,  # 963 characters of URL, near the most a share URL may have
}


@pytest.mark.parametrize("kind", SHARE_IDS)
def test_long_share_urls_still_scan_at_150_dpi_and_print_whole(
        kind: str, tmp_path: Path, settings: Settings) -> None:
    """The QR code grows with the URL instead of shrinking its modules below what zbar reads."""
    share_id = SHARE_IDS[kind]
    batch.run([write_csv(tmp_path / "in.csv", [order("WO-1", share_id=share_id)])], settings)
    url = "https://vision.xoeye.io/share/" + quote(share_id, safe="")
    pdf = settings.out / "invoices" / "INV-WO-1.pdf"
    assert qr_codes(pdf) == [url] and set(link_uris(pdf)) == {url}
    assert url in "".join(pdf_text(pdf).split())
    if len(url) <= 100:  # one line beside the QR code: extracted whole, as printed
        assert url in pdf_text(pdf).splitlines()


def test_share_url_too_long_for_a_qr_code_is_rejected(tmp_path: Path,
                                                      settings: Settings) -> None:
    rows = [order("WO-1", share_id="工" * 120), order("WO-2")]
    outcome = batch.run([write_csv(tmp_path / "in.csv", rows)], settings)
    assert outcome.rendered == ["WO-2"]
    [problem] = outcome.rejected
    assert problem.reason == ("share_id: the share URL would be 1110 characters once the "
                              "share ID is percent-encoded; at most 1000 fit a QR code "
                              "that scans from paper")


def test_credit_invoice_says_credit_and_its_manifest_total_stays_a_number(
        tmp_path: Path, settings: Settings) -> None:
    rows = [order("WO-1", item_description="Refund: duplicate charge", item_unit_price="-25.50")]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    assert manifest(settings.out)[0]["total"] == "-25.50"
    text = pdf_text(settings.out / "invoices" / "INV-WO-1.pdf")
    assert "CREDIT TO YOU\n$25.50" in text and "-$25.50" in text
    assert "AMOUNT DUE" not in text and "Due by" not in text and "Due date" not in text
    assert "-$0.00" not in text and "Subtotal -$25.50\nTotal (USD) -$25.50" in text


def test_emoji_in_names_render_from_an_emoji_font(tmp_path: Path, settings: Settings) -> None:
    rows = [order("WO-1", customer="🎉 Party Rentals 🔧")]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    pdf = settings.out / "invoices" / "INV-WO-1.pdf"
    assert "🎉 Party Rentals 🔧" in pdf_text(pdf)
    fonts = {str(font.get_object()["/BaseFont"]) for page in PdfReader(pdf).pages
             for font in page["/Resources"]["/Font"].values()}
    assert any("Emoji" in font for font in fonts), fonts
