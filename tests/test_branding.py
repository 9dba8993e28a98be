"""Issue 6: branding, template overrides, locales, PDF/A-3b and PDF/UA-1, merge, history.

Every check reads the result back as a user's tools would: pypdf for text, links,
metadata, attachments and bookmarks; poppler and zxing for the QR code; the CLI through
CliRunner for exit statuses and messages. Runs use one worker: rendering stays in this
process (so fetches can be spied on) and no process pool has to start.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_currency
from click.testing import CliRunner, Result
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import Destination

from pipeline import batch
from pipeline.cli import main
from pipeline.core.config import Company, Settings
from pipeline.core.template_files import BUILT_IN, INVOICE_TEMPLATE, STYLESHEET
from pipeline.render.container import EMBEDDED_DATA
from pipeline.render.pdf import AssetFetcher

from .conftest import link_uris, manifest, order, pdf_text, qr_codes, report, write_csv

URL = "https://vision.xoeye.io/share/shr{}abcdefghijklmnop"


def share_url(ticket: str) -> str:
    return URL.format(ticket)


def cli(runner: CliRunner, *args: str | Path) -> Result:
    """Invoke the CLI; a Python exception escaping it (a traceback for a user) fails."""
    result = runner.invoke(main, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback instead of a message: {result.exception!r}")
    return result


def squeeze(text: str) -> str:
    """Text without whitespace: line wrapping in the PDF cannot break a comparison."""
    return "".join(text.split())


def images(pdf: Path) -> list[tuple[str, int, int]]:
    """Every image XObject of the PDF, (filter, width, height), forms included."""
    found: list[tuple[str, int, int]] = []

    def walk(owner: Any) -> None:
        resources = owner.get("/Resources")
        if resources is None:
            return
        for xobject in (resources.get_object().get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject["/Subtype"] == "/Image":
                found.append((str(xobject.get("/Filter")), int(xobject["/Width"]),
                              int(xobject["/Height"])))
            else:
                walk(xobject)

    for page in PdfReader(pdf).pages:
        walk(page)
    return found


def has_colour(pdf: Path, rgb: tuple[int, int, int], dpi: int = 40) -> bool:
    """Whether page 1, rendered by poppler, has pixels of (nearly) this colour."""
    png = subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", str(pdf)],
                         check=True, capture_output=True).stdout
    pixels = Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 20) or []
    return any(max(abs(a - b) for a, b in zip(colour, rgb, strict=True)) <= 6
               for count, colour in pixels if count >= 3)


def xmp(pdf: Path) -> str:
    return PdfReader(pdf).trailer["/Root"]["/Metadata"].get_object().get_data().decode()


# --- 1. Branding --------------------------------------------------------------------------

COMPANY_TOML = """\
partner_id = "test-partner"
[company]
name = "Brightline Heating & Air"
address = "77 Foundry Row\\nBoulder, CO 80301"
phone = "(720) 555-0199"
email = "ar@brightline.example"
website = "brightline.example"
tax_id = "TX-99-7654321"
logo = "{logo}"
accent_color = "#c2185b"
payment_terms_days = 15
payment_instructions = "Wire to Brightline Bank, IBAN XX00 1234 5678"
footer = "Brightline Heating & Air · Licence HV-4411"
"""


def test_company_table_brands_the_invoice(runner: CliRunner, tmp_path: Path) -> None:
    Image.new("RGB", (160, 48), (20, 120, 90)).save(tmp_path / "logo.png")
    (tmp_path / "brand.toml").write_text(COMPANY_TOML.format(logo="logo.png"))
    source = write_csv(tmp_path / "in.csv", [order("WO-1", invoice_date="2026-03-02")])
    result = cli(runner, "run", source, "--config", "brand.toml", "--out", "out",
                 "--workers", "1")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "out/invoices/INV-WO-1.pdf"
    text = pdf_text(pdf)
    for expected in ("Brightline Heating & Air", "77 Foundry Row", "Boulder, CO 80301",
                     "(720) 555-0199", "ar@brightline.example", "brightline.example",
                     "Tax ID TX-99-7654321", "HOW TO PAY",
                     "Wire to Brightline Bank, IBAN XX00 1234 5678",
                     "Brightline Heating & Air · Licence HV-4411",  # the page footer
                     "03/17/2026"):  # due = invoice date + payment_terms_days
        assert expected in text, expected
    assert sorted(images(pdf)) == [("/FlateDecode", 41, 41), ("/FlateDecode", 160, 48)]
    assert PdfReader(pdf).metadata.author == "Brightline Heating & Air"
    assert has_colour(pdf, (0xC2, 0x18, 0x5B))  # the accent colour is painted
    assert link_uris(pdf) and set(link_uris(pdf)) == {share_url("WO-1")}


@pytest.mark.parametrize("kind", ["jpeg", "svg"])
def test_logo_as_jpeg_or_svg(tmp_path: Path, settings: Settings, kind: str) -> None:
    if kind == "jpeg":
        logo = tmp_path / "logo.jpg"
        Image.new("RGB", (150, 50), (200, 40, 40)).save(logo, quality=90)
    else:
        logo = tmp_path / "logo.svg"
        logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="150" height="50">'
                        '<rect width="150" height="50" fill="#224466"/><text x="8" y="32" '
                        'font-size="20" fill="#ffffff">BRIGHTLOGO</text></svg>')
    branded = replace(settings, company=Company(name="Brightline", logo=logo))
    outcome = batch.run([write_csv(tmp_path / "in.csv", [order("WO-1")])], branded)
    assert outcome.rendered == ["WO-1"] and outcome.ok
    pdf = branded.out / "invoices/INV-WO-1.pdf"
    if kind == "jpeg":  # the JPEG goes in as it is (DCT), beside the QR code
        assert sorted(images(pdf)) == [("/DCTDecode", 150, 50), ("/FlateDecode", 41, 41)]
    else:  # the SVG is drawn as vectors: its text is text, and the QR stays the only image
        assert "BRIGHTLOGO" in pdf_text(pdf)
        assert images(pdf) == [("/FlateDecode", 41, 41)]
    assert qr_codes(pdf) == [share_url("WO-1")]


def test_bad_logo_or_accent_stops_the_run_with_exit_2(runner: CliRunner,
                                                      tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    # A logo that does not exist: every invoice would fail, so the run stops, naming it.
    (tmp_path / "missing.toml").write_text(COMPANY_TOML.format(logo="art/nope.png"))
    result = cli(runner, "run", source, "--config", "missing.toml", "--out", "o1",
                 "--workers", "1")
    assert result.exit_code == 2
    assert "art/nope.png" in result.output and "no such file" in result.output
    assert "Traceback" not in result.output
    assert not list((tmp_path / "o1").rglob("*.pdf"))
    # A logo of another kind
    (tmp_path / "logo.gif").write_bytes(b"GIF89a")
    (tmp_path / "gif.toml").write_text(COMPANY_TOML.format(logo="logo.gif"))
    result = cli(runner, "run", source, "--config", "gif.toml", "--out", "o2")
    assert result.exit_code == 2 and "PNG, JPEG or SVG" in result.output
    # A file that only says it is one: WeasyPrint would leave it out without a word
    for name, content, kind in (("bad.png", b"not a picture", "PNG"),
                                ("bad.jpg", b"\xff\xd8 truncated", "JPEG"),
                                ("bad.svg", b"<html>no</html>", "SVG")):
        (tmp_path / name).write_bytes(content)
        (tmp_path / "broken.toml").write_text(COMPANY_TOML.format(logo=name))
        result = cli(runner, "run", source, "--config", "broken.toml", "--out", "o4")
        assert result.exit_code == 2
        assert f"Error: {name}: logo: not a readable {kind} image" in result.output
    # Accent colours: not hex, a CSS injection attempt, a word CSS does not know
    for accent in ("#12345", "red; } body { display: none", "blurple"):
        toml = tmp_path / "accent.toml"
        toml.write_text(f'partner_id = "p"\n[company]\naccent_color = "{accent}"\n')
        result = cli(runner, "run", source, "--config", toml, "--out", "o3", "--workers", "1")
        assert result.exit_code == 2, (accent, result.output)
        assert "accent_color" in result.output
    assert not list((tmp_path / "o3").rglob("*.pdf"))


def words_off_the_page(pdf: Path) -> list[str]:
    """Words poppler places (partly) outside their page: text a reader cannot see."""
    layout = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                            capture_output=True, text=True).stdout
    outside = []
    for page in re.finditer(r'<page width="([\d.]+)".*?</page>', layout, re.S):
        width = float(page[1])
        for word in re.finditer(r'<word xMin="([\d.-]+)"[^>]*xMax="([\d.-]+)"[^>]*>([^<]*)',
                                page[0]):
            if float(word[1]) < 0 or float(word[2]) > width:
                outside.append(word[3])
    return outside


def test_long_unbreakable_names_stay_on_the_page(tmp_path: Path, settings: Settings) -> None:
    name = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft"
    rows = [order("WO-1", customer=f"{name} mbH", currency="EUR", item_unit_price="1234.50",
                  bill_to_email=f"rechnungseingang.buchhaltung@{name.lower()}.example",
                  notes="Seriennummer:" + "X" * 150)]
    german = replace(settings, locale="de_DE", company=Company(name=f"{name} AG"))
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], german).ok
    pdf = german.out / "invoices/INV-WO-1.pdf"
    assert words_off_the_page(pdf) == []
    assert len(PdfReader(pdf).pages) == 1
    assert "ZU ZAHLEN\n1.234,50\xa0€" in pdf_text(pdf)  # the amount due is still there


def test_many_and_long_tags_wrap_on_the_page(tmp_path: Path, settings: Settings) -> None:
    tags = [f"Heat pump {n}" for n in range(60)] + ["Serial" + "X" * 200]
    rows = [order("WO-1", tags="|".join(tags))]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    pdf = settings.out / "invoices/INV-WO-1.pdf"
    assert words_off_the_page(pdf) == []
    text = pdf_text(pdf)
    assert all(tag in text for tag in tags[:60])
    assert "".join(text.split()).count("Serial" + "X" * 200) == 1


# --- 2. Template overrides ----------------------------------------------------------------

def test_override_that_drops_the_link_or_title_fails_its_invoices(runner: CliRunner,
                                                                  tmp_path: Path) -> None:
    """Never a PDF in the manifest that lacks what the contract asks of every invoice."""
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/invoice.html").write_text("<html><body>hello {{ invoice.number }}")
    result = cli(runner, "run", source, "--templates", "mine", "--workers", "1")
    assert result.exit_code == 1
    assert report(tmp_path / "output")["failed"] == [{"service_ticket": "WO-1", "reason": (
        f"the template leaves out the title 'Invoice INV-WO-1' and a link to "
        f"{share_url('WO-1')}; see docs/templates.md")}]
    assert manifest(tmp_path / "output") == []


def test_override_template_not_utf8_is_one_error_line(runner: CliRunner,
                                                      tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/invoice.html").write_bytes(b"\xff\xfe<html>")
    result = cli(runner, "run", source, "--templates", "mine", "--workers", "1")
    assert result.exit_code == 2
    assert "Error: mine/invoice.html: not UTF-8; save the template as UTF-8" in result.output
    assert "Traceback" not in result.output


def test_override_stylesheet_only_falls_back_to_built_in_html(runner: CliRunner,
                                                              tmp_path: Path) -> None:
    stylesheet = (BUILT_IN / STYLESHEET).read_text()
    assert 'content: "{{ footer }}";' in stylesheet
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / STYLESHEET).write_text(stylesheet.replace(
        'content: "{{ footer }}";', 'content: "Custom stylesheet · {{ footer }}";')
        + '\n.issuer-name::before { content: url("mark.png"); }\n')
    Image.new("RGB", (24, 24), (250, 160, 0)).save(custom / "mark.png")  # beside it: allowed
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--templates", custom, "--out", "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "out/invoices/INV-WO-1.pdf"
    text = pdf_text(pdf)
    assert "Custom stylesheet · Your Company" in text  # the override stylesheet
    assert "INVOICE" in text and "Customer WO-1" in text  # the built-in invoice.html
    assert sorted(images(pdf)) == [("/FlateDecode", 24, 24), ("/FlateDecode", 41, 41)]
    assert qr_codes(pdf) == [share_url("WO-1")] and set(link_uris(pdf)) == {share_url("WO-1")}


def test_template_errors_name_the_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    broken = tmp_path / "broken"
    broken.mkdir()
    # A syntax error: the whole run stops before rendering anything.
    (broken / INVOICE_TEMPLATE).write_text("<html>\n<body>\n<h1>{{ labels.invoice }}</h1>\n"
                                           "<p>{{ invoice.notes }</p>\n</body>\n")
    result = cli(runner, "run", source, "--templates", "broken", "--out", "o1")
    assert result.exit_code == 2
    assert f"{Path('broken') / INVOICE_TEMPLATE}:4: template error:" in result.output
    assert "'}'" in result.output and "Traceback" not in result.output
    # A stylesheet that is broken the same way
    (broken / INVOICE_TEMPLATE).unlink()
    (broken / STYLESHEET).write_text("@page { size: A4 }\nh1 { color: {{ acent }} }\n")
    result = cli(runner, "run", source, "--templates", "broken", "--out", "o1")
    assert result.exit_code == 2
    assert f"{Path('broken') / STYLESHEET}:2: template error: 'acent' is undefined" \
        in result.output
    # An unknown variable in the invoice template fails each invoice, named in report.json.
    (broken / STYLESHEET).unlink()
    (broken / INVOICE_TEMPLATE).write_text("<html>\n<body>\n<p>{{ invoice.number }}</p>\n"
                                           "<p>{{ invoice.ticket_no }}</p>\n</body>\n")
    result = cli(runner, "run", source, "--templates", "broken", "--out", "o2",
                 "--workers", "1")
    assert result.exit_code == 1
    failure = report(tmp_path / "o2")["failed"]
    assert [entry["service_ticket"] for entry in failure] == ["WO-1"]
    assert f"{Path('broken') / INVOICE_TEMPLATE}:4:" in failure[0]["reason"]
    assert "ticket_no" in failure[0]["reason"]


def test_exported_templates_are_the_built_in_ones_and_edits_rerender(
        runner: CliRunner, tmp_path: Path) -> None:
    result = cli(runner, "templates", "export", "mine")
    assert result.exit_code == 0, result.output
    for name in (INVOICE_TEMPLATE, STYLESHEET):
        assert (tmp_path / "mine" / name).read_bytes() == (BUILT_IN / name).read_bytes()
    (tmp_path / "mine" / STYLESHEET).write_text("/* mine */\n")
    result = cli(runner, "templates", "export", "mine")
    assert result.exit_code == 2 and "already exists" in result.output
    assert (tmp_path / "mine" / STYLESHEET).read_text() == "/* mine */\n"  # not overwritten
    (tmp_path / "mine" / STYLESHEET).write_bytes((BUILT_IN / STYLESHEET).read_bytes())

    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    args = ("run", source, "--templates", "mine", "--out", "out", "--workers", "1")
    assert cli(runner, *args).exit_code == 0
    assert cli(runner, *args).exit_code == 0
    assert report(tmp_path / "out")["unchanged"] == ["WO-1", "WO-2"]
    pdf = tmp_path / "out/invoices/INV-WO-1.pdf"
    before = pdf.read_bytes()
    html = (tmp_path / "mine" / INVOICE_TEMPLATE).read_text()
    marker = '<p class="thanks">{{ labels.thanks }}</p>'
    assert marker in html
    (tmp_path / "mine" / INVOICE_TEMPLATE).write_text(
        html.replace(marker, marker + "\n<p>Late payments accrue 1.5% monthly.</p>"))
    assert cli(runner, *args).exit_code == 0
    assert report(tmp_path / "out")["rendered"] == ["WO-1", "WO-2"]  # same work orders
    assert "Late payments accrue 1.5% monthly." in pdf_text(pdf)
    assert (tmp_path / "out/invoices/history/INV-WO-1.1.pdf").read_bytes() == before


# --- 3. Untrusted work-order data ---------------------------------------------------------

@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A web server on 127.0.0.1 that records every request it gets."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { background: red }")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_markup_in_work_orders_is_text_and_fetches_nothing(
        tmp_path: Path, settings: Settings, listener: tuple[str, list[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    base, requests = listener
    fetched: list[str] = []
    original = AssetFetcher.fetch

    def spy(self: AssetFetcher, url: str, headers: Any = None) -> Any:
        fetched.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(AssetFetcher, "fetch", spy)
    customer = f'Evil <img src="{base}/customer.png"> Corp'
    notes = (f'<img src="file:///etc/passwd"> <link rel=stylesheet href="{base}/x.css"> '
             f'<style>@import url("{base}/i.css");</style> '
             'background: url(file:///etc/hostname)')
    rows = [order("WO-1", customer=customer, notes=notes,
                  item_description=f'<img src="{base}/item.png">')]
    outcome = batch.run([write_csv(tmp_path / "in.csv", rows)], settings)
    assert outcome.rendered == ["WO-1"] and outcome.ok
    pdf = settings.out / "invoices/INV-WO-1.pdf"
    text = squeeze(pdf_text(pdf))
    for literal in (customer, '<img src="file:///etc/passwd">',
                    f'<link rel=stylesheet href="{base}/x.css">',
                    f'@import url("{base}/i.css");', "url(file:///etc/hostname)",
                    f'<img src="{base}/item.png">'):
        assert squeeze(literal) in text, literal
    assert "root:" not in text
    assert requests == []
    assert fetched and all(url.startswith("data:") for url in fetched), fetched
    assert images(pdf) == [("/FlateDecode", 41, 41)]  # the QR code, nothing fetched


def test_asset_fetcher_serves_only_template_files_and_data(
        tmp_path: Path, listener: tuple[str, list[str]]) -> None:
    base, requests = listener
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "mark.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "escape.txt").symlink_to("/etc/hostname")
    fetcher = AssetFetcher([folder, BUILT_IN])
    assert fetcher.fetch((folder / "mark.svg").as_uri()).read().startswith(b"<svg")
    assert fetcher.fetch((BUILT_IN / STYLESHEET).as_uri()).read() == \
        (BUILT_IN / STYLESHEET).read_bytes()
    assert fetcher.fetch("data:text/plain;base64,aGk=").read() == b"hi"
    for url in ("file:///etc/passwd", f"{folder.as_uri()}/../../../etc/passwd",
                (folder / "escape.txt").as_uri(), "file://localhost/etc/passwd",
                f"{base}/x.css", f"{base.replace('http', 'https')}/x.css",
                "ftp://127.0.0.1/x"):
        with pytest.raises(ValueError, match=r"refused|disallowed"):
            fetcher.fetch(url)
    assert requests == []


# --- 4. Locales ---------------------------------------------------------------------------

LOCALES = {
    # locale: (literal total verified by eye, date, labels, page width in pt)
    "en_US": ("$1,234.50", "12/05/2026", ("INVOICE", "Invoice date", "AMOUNT DUE"), 612),
    "de_DE": ("1.234,50\xa0€", "05.12.2026", ("RECHNUNG", "Rechnungsdatum", "ZU ZAHLEN"),
              595),
    "es_ES": ("1.234,50\xa0€", "05/12/2026", ("FACTURA", "Fecha de factura",
                                               "IMPORTE A PAGAR"), 595),
    "fr_FR": ("1\u202f234,50\xa0€", "05/12/2026", ("FACTURE", "Date de facture",
                                                   "MONTANT DÛ"), 595),
}


@pytest.mark.parametrize("locale", LOCALES)
def test_locale_formats_money_dates_and_labels(tmp_path: Path, settings: Settings,
                                               locale: str) -> None:
    literal, day, labels, width = LOCALES[locale]
    currency = "USD" if locale == "en_US" else "EUR"
    rows = [order("WO-1", invoice_date="2026-12-05", currency=currency,
                  item_unit_price="1234.50")]
    localized = replace(settings, locale=locale)
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], localized).ok
    pdf = localized.out / "invoices/INV-WO-1.pdf"
    text = pdf_text(pdf)
    expected = format_currency(Decimal("1234.50"), currency, locale=locale)
    assert expected == literal
    assert text.count(expected) >= 4  # unit price, amount, subtotal, amount due, total
    assert day in text
    for label in labels:
        assert label in text, label
    assert round(float(PdfReader(pdf).pages[0].mediabox.width)) == width  # Letter or A4
    if locale == "de_DE":
        assert qr_codes(pdf) == [share_url("WO-1")]
        assert "Seite 1 von 1" in text


def test_currency_comes_from_the_work_order(tmp_path: Path, settings: Settings) -> None:
    rows = [order("WO-1", currency="JPY", item_unit_price="1234.5")]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    text = pdf_text(settings.out / "invoices/INV-WO-1.pdf")
    assert "¥1,235" in text  # the amount: rounded half-up to the yen, no minor unit
    assert "¥1,235.00" not in text and "¥1,234.5" in text  # the unit price as given
    assert manifest(settings.out)[0]["total"] == "1235"


def test_unknown_locale_or_variant_is_a_usage_error(runner: CliRunner,
                                                    tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--locale", "xx_YY")
    assert result.exit_code == 2 and "locale" in result.output and "xx_YY" in result.output
    result = cli(runner, "run", source, "--pdf-variant", "pdf/x-4")
    assert result.exit_code == 2
    assert not (tmp_path / "output").exists()


# --- 5. PDF/A-3b and PDF/UA-1 -------------------------------------------------------------

def test_pdf_a3b_embeds_invoice_json(runner: CliRunner, tmp_path: Path) -> None:
    rows = [order("WO-1", invoice_date="2026-12-05", tax_rate="8.25", po_number="PO-77",
                  notes="Replaced capacitor", item_description="Capacitor",
                  item_unit_price="86.50"),
            order("WO-1", invoice_date="2026-12-05", tax_rate="8.25", po_number="PO-77",
                  notes="Replaced capacitor", item_description="Labor",
                  item_quantity="1.5", item_unit_price="95")]
    source = write_csv(tmp_path / "in.csv", rows)
    for out in ("a", "b"):
        result = cli(runner, "run", source, "--pdf-variant", "pdf/a-3b", "--out", out,
                     "--workers", "1")
        assert result.exit_code == 0, result.output
    pdf = tmp_path / "a/invoices/INV-WO-1.pdf"
    assert pdf.read_bytes() == (tmp_path / "b/invoices/INV-WO-1.pdf").read_bytes()
    metadata = xmp(pdf)
    assert 'pdfaid:part="3"' in metadata and 'pdfaid:conformance="B"' in metadata
    reader = PdfReader(pdf)
    root = reader.trailer["/Root"]
    assert "/OutputIntents" in root
    assert list(reader.attachments) == [EMBEDDED_DATA]
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    filespec = names[1].get_object()
    assert names[0] == EMBEDDED_DATA and filespec["/AFRelationship"] == "/Data"
    assert filespec.indirect_reference in list(root["/AF"])
    data = json.loads(reader.attachments[EMBEDDED_DATA][0])
    row = manifest(tmp_path / "a")[0]
    assert set(data) == {"invoice_number", "service_ticket", "invoice_date", "due_date",
                         "customer", "location", "bill_to", "technician", "po_number",
                         "notes", "tags", "currency", "line_items", "subtotal", "tax_rate",
                         "tax", "total", "share_id", "share_url"}
    for field in ("invoice_number", "service_ticket", "customer", "share_id", "share_url",
                  "total", "currency"):
        assert data[field] == row[field], field
    assert data["line_items"] == [
        {"description": "Capacitor", "quantity": "1", "unit_price": "86.50",
         "amount": "86.50"},
        {"description": "Labor", "quantity": "1.5", "unit_price": "95", "amount": "142.50"}]
    assert (data["subtotal"], data["tax_rate"], data["tax"], data["total"]) == \
        ("229.00", "8.25", "18.89", "247.89")
    assert (data["invoice_date"], data["po_number"], data["notes"]) == \
        ("2026-12-05", "PO-77", "Replaced capacitor")
    assert set(link_uris(pdf)) == {share_url("WO-1")}
    assert qr_codes(pdf) == [share_url("WO-1")]
    assert "$247.89" in pdf_text(pdf)


def test_pdf_ua1_is_tagged(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--pdf-variant", "pdf/ua-1", "--locale", "de_DE",
                 "--out", "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "out/invoices/INV-WO-1.pdf"
    root = PdfReader(pdf).trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert root["/StructTreeRoot"].get_object().get("/K") is not None
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "de"
    assert 'pdfuaid:part="1"' in xmp(pdf)
    assert PdfReader(pdf).metadata.title == "Invoice INV-WO-1"
    assert set(link_uris(pdf)) == {share_url("WO-1")}
    assert qr_codes(pdf) == [share_url("WO-1")]


# --- 6. Merged print file -----------------------------------------------------------------

def bookmarks(pdf: Path) -> list[tuple[str, int]]:
    """The top-level bookmarks: (title, page index)."""
    reader = PdfReader(pdf)
    return [(item.title, reader.get_destination_page_number(item))
            for item in reader.outline if isinstance(item, Destination)]


def test_merge_one_bookmark_per_invoice_in_manifest_order(runner: CliRunner,
                                                          tmp_path: Path) -> None:
    rows = [order("WO-3", customer="Zed & Co"),
            order("WO-2", confirmed="no", share_id="secretlinkWO2xxxxxxxx"),
            *[order("WO-1", customer="Ann <Lee>", item_description=f"Filter {n}",
                    item_unit_price="45.00") for n in range(1, 36)],
            order("WO-4", customer="Dora")]
    source = write_csv(tmp_path / "in.csv", rows)
    (tmp_path / "print").mkdir()  # merging makes no folders (README, "merge")
    result = cli(runner, "run", source, "--merge", "print/run.pdf", "--out", "out",
                 "--workers", "1")
    assert result.exit_code == 0, result.output
    rows_ = manifest(tmp_path / "out")
    assert [row["service_ticket"] for row in rows_] == ["WO-1", "WO-3", "WO-4"]
    pages = [int(row["pages"]) for row in rows_]
    assert pages[0] >= 2  # a multi-page invoice starts the file
    starts = [sum(pages[:index]) for index in range(len(pages))]
    expected = [(f"INV-{t} · {c}", start) for t, c, start in
                zip(("WO-1", "WO-3", "WO-4"), ("Ann <Lee>", "Zed & Co", "Dora"), starts,
                    strict=True)]

    result = cli(runner, "merge", "--out", "out", "all.pdf")
    assert result.exit_code == 0, result.output
    for merged in (tmp_path / "print/run.pdf", tmp_path / "all.pdf"):
        reader = PdfReader(merged)
        assert len(reader.pages) == sum(pages)
        assert bookmarks(merged) == expected
        assert all(not isinstance(item, list) for item in reader.outline)  # no sub-items
        uris = link_uris(merged)
        assert set(uris) == {share_url(t) for t in ("WO-1", "WO-3", "WO-4")}
        text = pdf_text(merged)
        assert "secretlink" not in text and not any("secretlink" in u for u in uris)
        assert "WO-2" not in text
    assert (tmp_path / "print/run.pdf").read_bytes() == (tmp_path / "all.pdf").read_bytes()

    # --merge holds the run's invoices only
    result = cli(runner, "run", source, "--only", "WO-4", "--merge", "only.pdf",
                 "--out", "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert bookmarks(tmp_path / "only.pdf") == [("INV-WO-4 · Dora", 0)]


def test_merge_of_an_empty_folder_is_a_clear_error(runner: CliRunner) -> None:
    result = cli(runner, "merge", "--out", "nothing", "all.pdf")
    assert result.exit_code == 2 and "run `xoi-invoices run` first" in result.output


# --- 7. History ---------------------------------------------------------------------------

def test_reissued_invoice_keeps_every_previous_pdf(tmp_path: Path,
                                                   settings: Settings) -> None:
    source = tmp_path / "in.csv"
    invoices, history = settings.out / "invoices", settings.out / "invoices/history"
    pdf = invoices / "INV-WO-1.pdf"
    versions = []
    for price in ("100.00", "110.00", "120.00"):
        write_csv(source, [order("WO-1", item_unit_price=price), order("WO-2")])
        outcome = batch.run([source], settings)
        assert "WO-1" in outcome.rendered and outcome.ok
        versions.append(pdf.read_bytes())
    assert sorted(path.name for path in history.iterdir()) == \
        ["INV-WO-1.1.pdf", "INV-WO-1.2.pdf"]
    assert (history / "INV-WO-1.1.pdf").read_bytes() == versions[0]
    assert (history / "INV-WO-1.2.pdf").read_bytes() == versions[1]
    assert "$120.00" in pdf_text(pdf) and "$100.00" in pdf_text(history / "INV-WO-1.1.pdf")
    row = manifest(settings.out)[0]
    assert row["pdf"] == "invoices/INV-WO-1.pdf" and row["total"] == "120.00"
    assert row["sha256"] == hashlib.sha256(versions[2]).hexdigest()
    # Re-issuing unchanged content (regenerate) keeps no copy; WO-2 never changed at all.
    outcome = batch.run([source], settings, force=True, only=["WO-1"])
    assert outcome.rendered == ["WO-1"]
    assert pdf.read_bytes() == versions[2]
    assert len(list(history.iterdir())) == 2
    assert not any("WO-2" in path.name for path in history.iterdir())


def test_regenerate_after_correction_keeps_history(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1", invoice_date="2026-12-05")])
    assert cli(runner, "run", source, "--out", "out", "--workers", "1").exit_code == 0
    write_csv(source, [order("WO-1", invoice_date="2026-12-05", customer="Corrected Name")])
    result = cli(runner, "regenerate", "WO-1", "--input", source, "--out", "out",
                 "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "Customer WO-1" in pdf_text(tmp_path / "out/invoices/history/INV-WO-1.1.pdf")
    assert "Corrected Name" in pdf_text(tmp_path / "out/invoices/INV-WO-1.pdf")
    assert manifest(tmp_path / "out")[0]["customer"] == "Corrected Name"
    assert date(2026, 12, 5).strftime("%m/%d/%Y") in pdf_text(
        tmp_path / "out/invoices/INV-WO-1.pdf")
