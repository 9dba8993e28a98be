"""Issue 20 item 7: override templates render in a sandbox and read only their own folder.

Each attack is a real override folder given to the real command: the run must stop with
exit 2 and one line naming the template and line, run nothing, read nothing and write
no invoice.
"""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image
from pypdf import PdfReader

from pipeline import batch
from pipeline.cli import main
from pipeline.core.config import Company, Settings
from pipeline.send import send_folder

from .conftest import PARTNER, SECRET, order, pdf_text, write_csv
from .smtp_server import SmtpServer
from .test_send import parts, server, smtp_settings  # noqa: F401  # server: a fixture

HEAD = '<html><head><title>Invoice {{ invoice.number }}</title></head><body>\n' \
       '<a href="{{ invoice.share_url }}">{{ invoice.share_url }}</a>\n'


def cli(runner: CliRunner, *args: str | Path) -> Result:
    """Invoke the CLI; a Python exception escaping it (a traceback for a user) fails."""
    result = runner.invoke(main, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback instead of a message: {result.exception!r}")
    return result


def folder(tmp_path: Path, **files: str) -> Path:
    mine = tmp_path / "mine"
    mine.mkdir(exist_ok=True)
    for name, text in files.items():
        (mine / name.replace("_", ".")).write_text(text, encoding="utf-8")
    return mine


ESCAPES = {
    "popen": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "builtins_open": "{{ cycler.__init__.__globals__.__builtins__.open('/etc/passwd').read() }}",
    "write": "{{ lipsum.__globals__.__builtins__.open('pwned', 'w').write('x') }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "attr_filter": "{{ (lipsum|attr('__globals__')).os.popen('id').read() }}",
    "computed_name": "{% set g = '__glo' ~ 'bals__' %}{{ lipsum[g] }}",
    "format": "{{ '{0.__globals__}'.format(lipsum) }}",
    "mutate": "{% set items = invoice.line_items %}{{ items.append(1) }}",
}


@pytest.mark.parametrize("escape", ESCAPES.values(), ids=ESCAPES.keys())
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_template_reaching_python_internals_stops_the_run(
        runner: CliRunner, tmp_path: Path, escape: str, workers: str) -> None:
    folder(tmp_path, invoice_html=f"{HEAD}<p>{{{{ invoice.customer }}}}</p>\n{escape}\n")
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2"), order("WO-3")])
    result = cli(runner, "run", source, "--templates", "mine", "--workers", workers)
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"Error: {Path('mine/invoice.html')}:4: template refused: "), result.output
    assert "unsafe" in lines[0]
    assert "uid=" not in result.output and not (tmp_path / "pwned").exists()
    assert not list(tmp_path.glob("output/invoices/*.pdf"))


def test_a_stylesheet_reaching_python_internals_stops_before_rendering(
        runner: CliRunner, tmp_path: Path) -> None:
    folder(tmp_path, invoice_css="@page { size: A4 }\n"
           "body::after { content: \"{{ lipsum.__globals__.os.popen('id').read() }}\" }\n")
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--templates", "mine")
    assert (result.exit_code, result.output) == (
        2, f"Error: {Path('mine/invoice.css')}:2: template refused: access to attribute "
        "'__globals__' of 'function' object is unsafe.\n")
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("tag", ["include", "extends", "import"])
def test_a_template_including_a_link_out_of_its_folder_stops_the_run(
        runner: CliRunner, tmp_path: Path, tag: str) -> None:
    use = {"include": "{% include 'pw.html' %}", "extends": "{% extends 'pw.html' %}",
           "import": "{% import 'pw.html' as pw %}{{ pw }}"}[tag]
    mine = folder(tmp_path, invoice_html=f"{HEAD}\n{use}\n")
    (mine / "pw.html").symlink_to("/etc/passwd")
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--templates", "mine", "--workers", "1")
    assert (result.exit_code, result.output) == (
        2, f"Error: {Path('mine/invoice.html')}:4: template refused: 'pw.html' is a link to "
        f"/etc/passwd, outside the templates folder mine\n")
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("name", ["../outside.html", "sub/../../outside.html",
                                  "linked/passwd", "loop.html", "fifo.html"])
def test_every_way_out_of_the_folder_is_refused(runner: CliRunner, tmp_path: Path,
                                                name: str) -> None:
    (tmp_path / "outside.html").write_text("SECRET OUTSIDE")
    mine = folder(tmp_path, invoice_html=f"{HEAD}\n{{% include '{name}' %}}\n")
    (mine / "sub").mkdir()
    (mine / "linked").symlink_to("/etc")
    (mine / "loop.html").symlink_to("loop.html")
    os.mkfifo(mine / "fifo.html")  # reading it would wait forever
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--templates", "mine", "--workers", "1")
    assert result.exit_code == 2, result.output
    reason = {"../outside.html": "leads outside the templates folder",
              "sub/../../outside.html": "leads outside the templates folder",
              "linked/passwd": "is a link to /etc/passwd, outside the templates folder mine",
              "loop.html": "is a loop of symbolic links",
              "fifo.html": "is not a regular file"}[name]
    assert result.output == (f"Error: {Path('mine/invoice.html')}:4: template refused: "
                             f"{name!r} {reason}\n")


def test_the_invoice_template_itself_linked_out_of_the_folder_is_refused(
        runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.html").write_text(f"{HEAD}</body></html>\n")
    mine = folder(tmp_path)
    (mine / "invoice.html").symlink_to(tmp_path / "elsewhere.html")
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--templates", "mine")
    assert (result.exit_code, result.output) == (
        2, f"Error: template refused: 'invoice.html' is a link to "
        f"{tmp_path / 'elsewhere.html'}, outside the templates folder mine\n")


def test_links_and_partials_inside_the_folder_still_work(runner: CliRunner,
                                                         tmp_path: Path) -> None:
    mine = folder(tmp_path, invoice_html=f"{HEAD}{{% include 'parts/terms.html' %}}\n"
                  "<p>{{ invoice.customer }}</p>\n</body></html>\n",
                  terms_txt="Net 30, no exceptions")
    (mine / "parts").mkdir()
    (mine / "parts/terms.html").symlink_to("../terms.txt")  # a link that stays inside
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--templates", "mine", "--workers", "1")
    assert result.exit_code == 0, result.output
    text = pdf_text(tmp_path / "output/invoices/INV-WO-1.pdf")
    assert "Net 30, no exceptions" in text and "Customer WO-1" in text


def test_an_email_template_reaching_python_internals_is_one_error(
        runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1", bill_to_email="a@example.com")])
    assert cli(runner, "run", source, "--workers", "1").exit_code == 0
    (tmp_path / "xoi-invoices.toml").write_text(
        '[smtp]\nhost = "127.0.0.1"\nfrom = "Billing <billing@example.com>"\n')
    folder(tmp_path, email_txt="Dear {{ invoice.bill_to.name }},\n"
           "{{ cycler.__init__.__globals__.os.popen('id').read() }}\n")
    result = cli(runner, "send", "--templates", "mine", "--dry-run")
    assert (result.exit_code, result.output) == (
        2, f"Error: {Path('mine/email.txt')}:2: email template refused: access to attribute "
        "'__init__' of 'type' object is unsafe.\n")
    (tmp_path / "mine/email.txt").unlink()
    (tmp_path / "mine/email.html").symlink_to("/etc/passwd")
    result = cli(runner, "send", "--templates", "mine", "--dry-run")
    assert (result.exit_code, result.output) == (
        2, "Error: email template refused: 'email.html' is a link to /etc/passwd, outside "
        "the templates folder mine\n")


def test_a_link_out_of_the_folder_never_travels_to_a_cluster_worker(
        tmp_path: Path, settings: Settings) -> None:
    """A worker writes the bundle's files as plain files, which its loader would serve."""
    pytest.importorskip("distributed")
    from pipeline.render.cluster import bundle

    mine = folder(tmp_path, invoice_html=f"{HEAD}{{% include 'pw.html' %}}\n", terms_html="x")
    (mine / "pw.html").symlink_to("/etc/passwd")
    (mine / "same.html").symlink_to("terms.html")
    names = [name for name, _ in bundle(replace(settings, templates=mine)).templates]
    assert names == ["invoice.html", "same.html", "terms.html"]


# --- Item 19: the email carries the invoice's letterhead ----------------------------------

def test_the_email_carries_the_company_address_above_the_payment_instructions(
        tmp_path: Path, server: SmtpServer) -> None:  # noqa: F811
    company = Company(name="Summit & Sons", address="4100 Industrial Pkwy <Suite 200>\n"
                      "Denver, CO 80216", phone="(303) 555-0142", email="ar@summit.example",
                      website="summit.example", tax_id="84-1234567",
                      payment_instructions="Mail a check to the address above.")
    source = write_csv(tmp_path / "in.csv", [order("WO-1", bill_to_email="a@example.com")])
    settings = replace(smtp_settings(tmp_path / "out", server), company=company)
    assert batch.run([source], replace(settings, partner_id=PARTNER, share_secret=SECRET,
                                       workers=1)).ok
    send_folder(tmp_path / "out", settings)
    text, html, _, _ = parts(server.received[0])
    letterhead = ("Summit & Sons\n4100 Industrial Pkwy <Suite 200>\nDenver, CO 80216\n"
                  "(303) 555-0142 · ar@summit.example · summit.example\nTax ID 84-1234567\n\n"
                  "Dear Customer WO-1,\n")
    assert text.startswith(letterhead), text
    assert text.index("Denver, CO 80216") < text.index("Mail a check to the address above.")
    assert ">4100 Industrial Pkwy &lt;Suite 200&gt;<br>Denver, CO 80216</div>" in html
    assert ">(303) 555-0142 · ar@summit.example · summit.example</div>" in html
    assert ">Tax ID 84-1234567</div>" in html
    assert html.index("Denver, CO 80216") < html.index("Dear") \
        < html.index("Mail a check to the address above.")


def test_an_email_without_an_address_has_no_empty_lines_for_it(
        tmp_path: Path, server: SmtpServer) -> None:  # noqa: F811
    source = write_csv(tmp_path / "in.csv", [order("WO-1", bill_to_email="a@example.com")])
    settings = replace(smtp_settings(tmp_path / "out", server), company=Company(name="Bare"))
    assert batch.run([source], replace(settings, partner_id=PARTNER, share_secret=SECRET,
                                       workers=1)).ok
    send_folder(tmp_path / "out", settings)
    text, html, _, _ = parts(server.received[0])
    assert text.startswith("Bare\n\nDear Customer WO-1,\n"), text
    assert "Tax ID" not in html and "<br>" not in html


# --- Item 18: the invoice a customer sees -------------------------------------------------

def page_texts(pdf: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(pdf).pages]


def test_continuation_pages_say_whose_invoice_they_are(tmp_path: Path,
                                                       settings: Settings) -> None:
    rows = [order("WO-1", customer="Karen Whitfield", item_description=f"Filter {n}")
            for n in range(1, 41)]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    first, *others = page_texts(settings.out / "invoices/INV-WO-1.pdf")
    assert others, "a one-page invoice tests nothing here"
    assert "Invoice INV-WO-1 · Karen Whitfield" not in first  # the masthead says it there
    for text in others:
        assert "Invoice INV-WO-1 · Karen Whitfield" in text.splitlines(), text


def test_the_totals_never_start_a_page_without_line_items(tmp_path: Path,
                                                          settings: Settings) -> None:
    """From one page to two, whatever the count: the last page has rows above the totals."""
    rows = [order(f"WO-{count}", item_description=f"Filter {n}")
            for count in range(10, 22) for n in range(1, count + 1)]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    pages = {}
    for count in range(10, 22):
        texts = page_texts(settings.out / f"invoices/INV-WO-{count}.pdf")
        pages[count] = len(texts)
        if len(texts) > 1:
            assert texts[-1].count("Filter ") >= 2 and "Total (USD)" in texts[-1], count
    assert set(pages.values()) == {1, 2}


def test_an_email_wraps_at_its_at_sign_and_dots_and_a_postcode_stays_with_its_state(
        tmp_path: Path, settings: Settings) -> None:
    email = "accounts.payable.department@verylongcompanyname-holdings.example.com"
    rows = [order("WO-1", bill_to_email=email, bill_to_name="Acme",
                  bill_to_address="1200 Seventeenth Street, Suite 3400\nDenver, CO 80202-5555",
                  location="12345 East Colfax Avenue Apartment 1200, Aurora, CO 80010")]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    lines = pdf_text(settings.out / "invoices/INV-WO-1.pdf").splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("accounts"))
    end = next(index for index in range(start, len(lines))
               if "".join(lines[start:index + 1]) == email)
    pieces = lines[start:end + 1]
    assert len(pieces) > 1, "the address fits: this tests nothing"
    for before, after in pairwise(pieces):
        assert before.endswith(("@", "-")) or after.startswith("."), pieces
    assert "CO 80010" in [line.split(", ")[-1] for line in lines]
    assert "80010" not in lines and "80202-5555" not in lines


def test_an_untaxed_invoice_has_no_tax_row(tmp_path: Path, settings: Settings) -> None:
    rows = [order("WO-1", tax_rate=""), order("WO-2", tax_rate="0"),
            order("WO-3", tax_rate="8.25")]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)], settings).ok
    for ticket in ("WO-1", "WO-2"):
        text = pdf_text(settings.out / f"invoices/INV-{ticket}.pdf")
        assert "Subtotal $125.00\nTotal (USD) $125.00" in text and "Tax" not in text
    text = pdf_text(settings.out / "invoices/INV-WO-3.pdf")
    assert "Subtotal $125.00\nTax (8.25%) $10.31\nTotal (USD) $135.31" in text


@pytest.mark.parametrize(("currency", "locale", "total"), [
    ("SAR", "en_US", "SAR\u00a04,647.15"), ("CHF", "en_US", "CHF\u00a04,647.15"),
    ("USD", "en_US", "$4,647.15"), ("EUR", "en_US", "€4,647.15"),
    ("SAR", "de_DE", "4.647,15\u00a0SAR"), ("USD", "nl_NL", "US$\u00a04.647,15")])
def test_a_currency_code_is_spaced_from_the_amount_a_symbol_is_not(
        tmp_path: Path, settings: Settings, currency: str, locale: str, total: str) -> None:
    rows = [order("WO-1", currency=currency, item_quantity="3", item_unit_price="1549.05")]
    assert batch.run([write_csv(tmp_path / "in.csv", rows)],
                     replace(settings, locale=locale)).ok
    text = pdf_text(settings.out / "invoices/INV-WO-1.pdf")
    assert f"\n{total}\n" in text  # the amount due, under its heading


def test_no_hairlines_between_the_table_header_cells(tmp_path: Path,
                                                     settings: Settings) -> None:
    accent = (0x0B, 0x5C, 0xAD)
    assert batch.run([write_csv(tmp_path / "in.csv", [order("WO-1")])], settings).ok
    png = subprocess.run(["pdftoppm", "-png", "-r", "300", "-f", "1", "-l", "1",
                          str(settings.out / "invoices/INV-WO-1.pdf")],
                         check=True, capture_output=True).stdout
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size

    def accent_run(y: int) -> list[tuple[int, int, int]]:
        row = [image.getpixel((x, y)) for x in range(width)]
        xs = [x for x, pixel in enumerate(row) if pixel == accent]
        return row[xs[0]:xs[-1] + 1] if len(xs) > width // 2 else []

    # The header band: the rows most of whose width is the accent; its top rows hold
    # padding only, no text, so every pixel there is the accent unless a seam shows.
    band = [y for y in range(height) if accent_run(y)]
    assert band, "no table header found"
    for y in band[2:12]:
        assert set(accent_run(y)) == {accent}, y
