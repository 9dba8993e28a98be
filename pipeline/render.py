"""Render an :class:`Invoice` to PDF bytes with Jinja2 and WeasyPrint.

A :class:`Renderer` is built once per process: the Jinja environment, the stylesheet
(itself a template, rendered once with the accent colour and labels) and WeasyPrint's
font configuration are reused for every invoice, which is most of the per-invoice cost
a naive loop pays. WeasyPrint may fetch only the templates' own files and ``data:``
URIs (:class:`AssetFetcher`): whatever a work order holds, rendering never touches the
network or another file.
"""

from __future__ import annotations

import base64
import io
import json
import mimetypes
import re
import traceback
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import jinja2
import pydyf  # type: ignore[import-untyped]
import qrcode
from babel.dates import format_date, get_date_format
from babel.numbers import format_decimal
from PIL import Image
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from . import money
from .config import Company, Settings
from .errors import ConfigError, RenderError
from .labels import labels_for
from .models import Invoice
from .template_files import BUILT_IN, INVOICE_TEMPLATE, STYLESHEET

EMBEDDED_DATA = "invoice.json"
LETTER_TERRITORIES = ("_US", "_CA", "_MX", "_PH", "_CL", "_CO", "_VE")
QR_MODULE_MM = 0.8  # 4.7 pixels at 150 dpi: zbar needs about 4
QR_QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks
QR_MIN_MM = 30.0
# The XOi section's text column with no QR code: an A4 page's 178 mm between margins,
# less the box's borders and padding (9.3 mm) and the gap after the QR code (5 mm).
XOI_TEXT_MM = 163.7
# Noto Sans Regular advance widths (units per em: 1000) of the characters " " to "~".
_NOTO_SANS_WIDTHS = (
    260, 269, 408, 646, 572, 831, 732, 225, 300, 300, 551, 572, 268, 322, 268, 372, 572, 572,
    572, 572, 572, 572, 572, 572, 572, 572, 268, 268, 572, 572, 572, 434, 899, 639, 650, 632,
    730, 556, 519, 728, 741, 339, 273, 619, 524, 907, 760, 781, 605, 781, 622, 549, 556, 731,
    600, 930, 586, 566, 572, 329, 372, 329, 572, 444, 281, 561, 615, 480, 615, 564, 344, 615,
    618, 258, 258, 534, 258, 935, 618, 605, 615, 615, 413, 479, 361, 618, 508, 786, 529, 510,
    470, 380, 551, 380, 572,
)


class AssetFetcher(URLFetcher):  # type: ignore[misc]
    """Serves ``data:`` URIs and files inside the template folders; refuses the rest."""

    def __init__(self, roots: list[Path]) -> None:
        super().__init__(allowed_protocols={"data", "file"})
        self.roots = [root.resolve() for root in roots]

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme == "data":
            return super().fetch(url, headers)
        if parts.scheme == "file" and not parts.netloc:
            path = Path(unquote(parts.path)).resolve()
            if any(path.is_relative_to(root) for root in self.roots) and path.is_file():
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        raise ValueError(f"refused to fetch {url[:80]!r}: templates may use only their own "
                         "files and data: URIs")


def qr_code(url: str) -> tuple[str, float]:
    """The URL as a QR code PNG of one pixel per module, and the width to print it at (mm).

    A bitmap this small is cheaper for WeasyPrint than an SVG of hundreds of paths, and
    CSS scales it without blurring. The printed size grows with the module count: zbar
    reads a 150 dpi scan only from about 4 pixels (0.68 mm) per module, so a longer URL,
    which needs more modules, gets a larger code rather than smaller modules.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M,
                         box_size=1, border=QR_QUIET_ZONE)
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    width = max(QR_MIN_MM, (code.modules_count + 2 * QR_QUIET_ZONE) * QR_MODULE_MM)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), width


def _check_contract(document: Any, invoice: Invoice) -> None:
    """:class:`RenderError` when an override template left out what every PDF must carry.

    Cheap, from the laid-out document: its title and link targets. (The QR code and the
    text are the template's to keep, docs/templates.md says how.)
    """
    title = f"Invoice {invoice.order.invoice_number}"
    links = {target for page in document.pages for _, target, *_ in page.links}
    missing = [what for what, present in (
        (f"the title {title!r}", document.metadata.title == title),
        (f"a link to {invoice.share_url}", invoice.share_url in links)) if not present]
    if missing:
        raise RenderError(f"the template leaves out {' and '.join(missing)}; see "
                          "docs/templates.md", ticket=invoice.ticket)


def _not_utf8(folder: Path | None) -> Path | None:
    """The override template that is not UTF-8 (Jinja's error does not name it)."""
    for name in (INVOICE_TEMPLATE, STYLESHEET):
        path = folder / name if folder else None
        if path and path.is_file():
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                return path
    return folder


def data_uri(path: Path) -> str:
    """An operator's file (the logo) inlined, so the fetcher never needs a path outside."""
    mime = mimetypes.guess_type(path.name)[0]
    if mime not in ("image/png", "image/jpeg", "image/svg+xml"):
        raise ConfigError("logo: use a PNG, JPEG or SVG file", source=path)
    try:
        data = path.read_bytes()
    except OSError as error:
        # Configuration, not one invoice: every invoice would fail the same way (exit 2).
        raise ConfigError(f"logo: cannot read: {error.strerror}", source=path) from None
    # WeasyPrint leaves out an image it cannot decode and says nothing: check it here.
    try:
        if mime == "image/svg+xml":
            if not ElementTree.fromstring(data).tag.endswith("svg"):  # noqa: S314  # the operator's file
                raise ValueError
        else:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
    except Exception:  # Pillow and expat raise many kinds for a broken file
        raise ConfigError(f"logo: not a readable {mime.split('/')[1].split('+')[0].upper()} "
                          "image", source=path) from None
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def css_string(value: str) -> str:
    """Text safe inside a CSS double-quoted string."""
    return "".join(ch if ch.isalnum() or ch in " .,:;-_()/@&+'" else f"\\{ord(ch):x} "
                   for ch in value)


def column_widths(invoice: dict[str, Any]) -> dict[str, str]:
    """CSS widths for the columns of the invoice's tables, from the longest value each holds.

    The tables are laid out with ``table-layout: fixed``, which skips measuring every
    cell (a third of the render time) but would let a long amount spill into its
    neighbour. Digits are one ``ch`` wide in the invoice fonts, most letters and symbols
    at most that; bold and larger text gets a wider ``ch``. Facts and totals are capped:
    a longer value wraps inside its cell.
    """
    items = invoice["line_items"]

    def width(values: list[str], least: int, scale: float = 1.0, pad: int = 6,
              most: int | None = None) -> str:
        longest = max((len(value) for value in values), default=0)
        wide = f"max({least}mm, calc({longest * scale:g}ch + {pad}mm))"
        return f"min({most}mm, {wide})" if most else wide

    return {
        "quantity": width([item["quantity"] for item in items], 14),
        "money": width([item[key] for item in items for key in ("unit_price", "amount")], 24),
        "facts": width([invoice[key] for key in ("number", "date", "due", "ticket",
                                                 "po_number")], 20, 1.15, 1, most=55),
        "totals": width([invoice[key] for key in ("subtotal", "tax", "total")], 28, 1.25, 1,
                        most=58),
    }


def share_url_size(url: str, qr_width: float) -> tuple[float, bool]:
    """A font size (pt) that keeps the printed URL on one line beside the QR code.

    One line is what lets a reader, or a tool extracting the text, take the URL whole.
    The room is the built-in layout's (the narrower A4 page, less the QR code); the
    URL's width comes from Noto Sans' advance widths, since a share URL is printable
    ASCII. Below 5 pt the URL is too small to read, so it wraps instead (``True``).
    """
    room = (XOI_TEXT_MM - qr_width) * 72 / 25.4 * 0.97
    ems = sum(_NOTO_SANS_WIDTHS[ord(char) - 32] for char in url) / 1000
    size = min(9.0, room / max(ems, 1.0))
    return (size, False) if size >= 5.0 else (6.0, True)


def template_error(error: Exception, folders: list[Path]) -> tuple[str, int | None, str]:
    """Which template file and line an error of Jinja comes from, and what it says.

    A syntax error carries both; an error while rendering (an undefined variable) carries
    neither, but Jinja rewrites the traceback so its frames point into the template.
    """
    where: str | None = getattr(error, "filename", None)
    line: int | None = getattr(error, "lineno", None)
    if where is None:
        roots = [folder.resolve() for folder in folders]
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            path = Path(frame.filename)
            if path.suffix != ".py" and any(path.resolve().is_relative_to(root)
                                            for root in roots):
                where, line = frame.filename, frame.lineno
                break
    message = getattr(error, "message", None) or str(error)
    return where or INVOICE_TEMPLATE, line, message


def _single_associated_file(document: Any, pdf: Any) -> None:
    """WeasyPrint 70 lists the embedded file twice in the catalog's /AF; once is right."""
    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def numeric_date_pattern(locale: str) -> str:
    """The locale's short date with four-digit years: 12/05/2026, 05.12.2026, 05/12/2026."""
    pattern = str(get_date_format("short", locale=locale).pattern)
    pattern = re.sub(r"y+", "yyyy", pattern)
    pattern = re.sub(r"M+", lambda run: run[0] if len(run[0]) > 2 else "MM", pattern)
    return re.sub(r"d+", "dd", pattern)


class Renderer:
    """Everything reusable across invoices; one per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.locale = settings.locale
        self.labels = labels_for(self.locale)
        templates = settings.templates
        folders = [templates, BUILT_IN] if templates else [BUILT_IN]
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
            # HTML-escaping suits the invoice, not the stylesheet: there "&" would print
            # as "&amp;". Stylesheet values are escaped for CSS instead (css_string).
            autoescape=jinja2.select_autoescape(disabled_extensions=("css",), default=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.folders = [folder for folder in folders if folder]
        self.fetcher = AssetFetcher(self.folders)
        self.base_url = (templates or BUILT_IN).resolve().as_uri() + "/"
        self.font_config = FontConfiguration()
        accent = settings.company.accent_color  # a CSS colour: config.resolve checked it
        self.company = self._company(settings.company)
        try:
            stylesheet = self.environment.get_template(STYLESHEET).render(
                accent=accent,
                page_size="letter" if self.locale[-3:] in LETTER_TERRITORIES else "A4",
                footer=css_string(settings.company.footer or settings.company.name),
                labels={key: css_string(value) for key, value in self.labels.items()},
            )
            self.template = self.environment.get_template(INVOICE_TEMPLATE)
        except jinja2.TemplateError as error:
            # A broken template breaks every invoice: a configuration error, named once.
            where, line, message = template_error(error, self.folders)
            raise ConfigError(f"template error: {message}", source=where, line=line) \
                from None
        except UnicodeDecodeError:
            raise ConfigError("not UTF-8; save the template as UTF-8",
                              source=_not_utf8(templates)) from None
        self.css = CSS(string=stylesheet, base_url=self.base_url, url_fetcher=self.fetcher,
                       font_config=self.font_config)
        self.date_pattern = numeric_date_pattern(self.locale)

    def _company(self, company: Company) -> dict[str, Any]:
        values = {name: getattr(company, name) for name in company.__dataclass_fields__}
        values["logo"] = data_uri(company.logo) if company.logo else None
        return values

    def money(self, amount: Decimal, currency: str, *, exact: bool = False) -> str:
        return money.format_money(amount, currency, self.locale, exact=exact)

    def number(self, value: Decimal) -> str:
        """Every digit the input gave: Babel would round 2.3333 hours to 2.333."""
        return str(format_decimal(value, locale=self.locale, decimal_quantization=False))

    def date(self, day: date) -> str:
        return str(format_date(day, format=self.date_pattern, locale=self.locale))

    def context(self, invoice: Invoice) -> dict[str, Any]:
        """The variables the invoice template receives (documented in the README)."""
        order, currency = invoice.order, invoice.order.currency
        items = [
            {
                "description": item.description,
                "quantity": self.number(item.quantity),
                "unit_price": self.money(item.unit_price, currency, exact=True),
                "amount": self.money(item.amount, currency),
            }
            for item in order.line_items
        ]
        qr, qr_width = qr_code(invoice.share_url)
        url_size, url_wraps = share_url_size(invoice.share_url, qr_width)
        context: dict[str, Any] = {
            "lang": self.locale.split("_")[0],
            "labels": self.labels,
            "company": self.company,
            "invoice": {
                "number": order.invoice_number,
                "ticket": order.service_ticket,
                "date": self.date(invoice.invoice_date),
                "due": self.date(invoice.due_date),
                "po_number": order.po_number,
                "customer": order.customer,
                "location": order.location,
                "bill_to_name": order.bill_to_name,
                "bill_to_email": order.bill_to_email,
                "bill_to_address": order.bill_to_address,
                "technician": order.technician,
                "notes": order.notes,
                "tags": order.tags,
                "currency": currency,
                "line_items": items,
                "tax_rate": self.number(order.tax_rate),
                "subtotal": self.money(order.subtotal, currency),
                "tax": self.money(order.tax, currency),
                "total": self.money(order.total, currency),
                # A negative total (credit lines outweigh the work) is owed to the customer.
                "credit": self.money(-order.total, currency) if order.total < 0 else "",
                "share_url": invoice.share_url,
                "share_url_size": f"{url_size:.1f}",
                "share_url_wraps": url_wraps,
                "qr": qr,
                "qr_size": f"{qr_width:.1f}mm",
            },
        }
        context["invoice"]["column_widths"] = column_widths(context["invoice"])
        return context

    def html(self, invoice: Invoice) -> str:
        try:
            return self.template.render(self.context(invoice))
        except jinja2.TemplateError as error:
            where, line, message = template_error(error, self.folders)
            raise RenderError(f"template {where}{f':{line}' if line else ''}: {message}",
                              ticket=invoice.ticket) from None

    def pdf(self, invoice: Invoice) -> tuple[bytes, int]:
        """The PDF's bytes and its page count."""
        html = self.html(invoice)
        document = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher).render(
            stylesheets=[self.css], font_config=self.font_config)
        _check_contract(document, invoice)
        variant = self.settings.pdf_variant
        options: dict[str, Any] = {"pdf_variant": variant} if variant else {}
        if variant == "pdf/a-3b":
            # Dated by the invoice, not the clock: the same input gives the same bytes.
            issued = datetime.combine(invoice.invoice_date, time(), tzinfo=UTC)
            options["attachments"] = [Attachment(
                string=json.dumps(invoice.as_data(), indent=2, ensure_ascii=False),
                name=EMBEDDED_DATA, description=f"Invoice {invoice.order.invoice_number} "
                "as machine-readable data", created=issued, modified=issued,
                relationship="Data",
            )]
            options["finisher"] = _single_associated_file
        pdf: bytes = document.write_pdf(**options)
        return pdf, len(document.pages)
