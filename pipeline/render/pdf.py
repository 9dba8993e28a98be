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
import mimetypes
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import jinja2
from babel.dates import format_date, get_date_format
from babel.numbers import format_decimal
from jinja2.exceptions import SecurityError
from PIL import Image
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..core import einvoice, money, units
from ..core.config import Company, Settings
from ..core.errors import ConfigError, RenderError
from ..core.models import Invoice
from ..core.sandbox import config_error, environment, template_error
from ..core.template_files import BUILT_IN, INVOICE_TEMPLATE, STYLESHEET, TEMPLATE_FILES
from .container import write_options
from .factur_x import exemption
from .labels import labels_for
from .layout import (
    address_lines,
    amount_due_width,
    column_widths,
    email_parts,
    qr_code,
    share_url_size,
)

LETTER_TERRITORIES = ("_US", "_CA", "_MX", "_PH", "_CL", "_CO", "_VE")


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
    for name in TEMPLATE_FILES:
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
        self.environment = environment(folders)
        self.environment.filters.update(address_lines=address_lines, email_parts=email_parts)
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
            raise config_error(error, self.folders) from None
        except UnicodeDecodeError:
            raise ConfigError("not UTF-8; save the template as UTF-8",
                              source=_not_utf8(templates)) from None
        self.css = CSS(string=stylesheet, base_url=self.base_url, url_fetcher=self.fetcher,
                       font_config=self.font_config)
        self.date_pattern = numeric_date_pattern(self.locale)

    def _company(self, company: Company) -> dict[str, Any]:
        values = {name: getattr(company, name) for name in company.__dataclass_fields__}
        values["logo"] = data_uri(company.logo) if company.logo else None
        values["iban"] = einvoice.printed_iban(company.iban) if company.iban else ""
        # An e-invoice states the structured address: the PDF prints it when no other.
        values["address"] = company.address or "\n".join(line for line in (
            company.street, f"{company.postcode} {company.city}".strip(), company.country)
            if line)
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
                "quantity": units.quantity_words(self.number(item.quantity), item.unit,
                                                 self.locale, item.quantity),
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
                # What an e-invoice states, printed too (SPEC, "E-invoices").
                "service_date": self.date(order.service_date or invoice.invoice_date)
                if order.service_date or self.settings.einvoice else "",
                "buyer_vat_id": order.buyer_vat_id,
                "buyer_reference": "" if order.buyer_reference == order.po_number
                else order.buyer_reference,
                "tax_note": exemption(invoice, self.labels),
                # BR-O-02: "not subject to VAT" names no VAT identifier, in print either.
                "seller_vat_id": "" if einvoice.category(order.tax_category, order.tax_rate)
                == "O" else self.settings.company.vat_id,
                "title": self.labels["credit_note" if order.total < 0 else "invoice"],
                "taxed": bool(order.tax_rate),
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
        widths = column_widths(context["invoice"])
        widths["amount_due"] = amount_due_width(context["invoice"], self.labels)
        context["invoice"]["column_widths"] = widths
        return context

    def html(self, invoice: Invoice) -> str:
        try:
            return self.template.render(self.context(invoice))
        except SecurityError as error:
            # Refused for one invoice, it would be for the next: stop the run (exit 2).
            raise config_error(error, self.folders) from None
        except jinja2.TemplateError as error:
            where, line, message = template_error(error, self.folders)
            where = where or INVOICE_TEMPLATE
            raise RenderError(f"template {where}{f':{line}' if line else ''}: {message}",
                              ticket=invoice.ticket) from None

    def pdf(self, invoice: Invoice) -> tuple[bytes, int, bytes | None]:
        """The PDF's bytes, its page count and the e-invoice XML it embeds (or ``None``)."""
        html = self.html(invoice)
        document = HTML(string=html, base_url=self.base_url, url_fetcher=self.fetcher).render(
            stylesheets=[self.css], font_config=self.font_config)
        _check_contract(document, invoice)
        options, xml = write_options(invoice, self.settings, self.labels, self.fetcher)
        pdf: bytes = document.write_pdf(**options)
        return pdf, len(document.pages), xml
