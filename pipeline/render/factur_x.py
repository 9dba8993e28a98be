"""The invoice as Factur-X XML: UN/CEFACT CII D16B, profile EN 16931.

akretion's ``factur-x`` writes the XML from a dict keyed by the EN 16931 business terms
(BT-1, BG-25...). This module is the one that knows that dict's shape, which changed
between the library's 6.x and 7.x: pyproject.toml pins the version exactly. What the data
must hold for the official rules to pass is checked before anything renders
(:mod:`pipeline.core.einvoice`); here the invoice is only stated.

A negative total is a credit note (type 381), whose amounts EN 16931 states as positive:
every amount is negated, and a line's sign goes into its quantity (a price, BT-146, is
never negative).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..core.company import Company
from ..core.einvoice import CATEGORIES, FILE_NAME, category
from ..core.errors import RenderError
from ..core.models import Invoice

__all__ = ["FILE_NAME", "exemption", "factur_x", "terms"]
PROFILE = "en16931"
INVOICE, CREDIT_NOTE = "380", "381"


def _amount(value: Decimal) -> str:
    return f"{value + 0:f}"  # + 0: a negated 0.00 is -0.00, which no rule reads as zero


def exemption(invoice: Invoice, labels: dict[str, str]) -> str:
    """The exemption reason the invoice prints and the XML states (BT-120): the work
    order's, else the words for its category (reverse charge...); "" when none applies."""
    code = category(invoice.order.tax_category, invoice.order.tax_rate)
    rule = CATEGORIES.get(code)
    if rule is None or rule.reason == "forbidden":
        return ""
    return invoice.order.tax_exemption_reason or labels.get(f"vat_{code}", "")


def terms(invoice: Invoice, company: Company, labels: dict[str, str]) -> dict[str, Any]:
    """The business terms of ``invoice``, as factur-x 7.x takes them."""
    order = invoice.order
    sign = -1 if order.total < 0 else 1
    code = category(order.tax_category, order.tax_rate)
    rule = CATEGORIES[code]
    rate = {"BT-152": _amount(order.tax_rate)} if rule.vat_ids else {}
    seller: dict[str, Any] = {
        "name": company.name, "addr_l1": company.street, "postcode": company.postcode,
        "city": company.city, "country_code": company.country}
    buyer: dict[str, Any] = {
        "name": order.bill_to_name, "addr_l1": order.bill_to_street or None,
        "postcode": order.bill_to_postcode or None, "city": order.bill_to_city or None,
        "country_code": order.bill_to_country}
    if rule.vat_ids:  # BR-O-02: "not subject to VAT" names no VAT identifier at all
        seller["vat_identifier"] = company.vat_id  # config.resolve normalised all four
        if order.buyer_vat_id:
            buyer["vat_identifier"] = order.buyer_vat_id
    if company.registration_id:  # BT-30, which BR-CO-26 asks for when BT-31 may not be
        seller["legal_identifier"] = company.registration_id
    if order.bill_to_email:
        buyer["contacts"] = [{"email": order.bill_to_email}]
    lines = []
    for number, item in enumerate(order.line_items, start=1):
        price_sign = -1 if item.unit_price < 0 else 1
        lines.append({
            "BT-126": str(number), "BT-153": item.description,
            "BT-129": _amount(item.quantity * sign * price_sign), "BT-130": item.unit,
            "BT-146": _amount(abs(item.unit_price)), "BT-131": _amount(item.amount * sign),
            "BT-151": code, **rate})
    reason = exemption(invoice, labels)
    breakdown: dict[str, Any] = {
        "BT-116": _amount(order.subtotal * sign), "BT-117": _amount(order.tax * sign),
        "BT-118": code, **({"BT-119": rate["BT-152"]} if rate else {}),
        **({"BT-120": reason} if reason else {}),
        **({"BT-121": rule.code} if rule.code else {})}
    notes = [{"BT-22": order.notes}] if order.notes else []
    notes.append({"BT-22": f"{labels['xoi_heading']}: {invoice.share_url}"})
    data: dict[str, Any] = {
        "BT-1": order.invoice_number, "BT-2": invoice.invoice_date,
        "BT-3": CREDIT_NOTE if sign < 0 else INVOICE, "BT-5": order.currency,
        "BT-72": order.service_date or invoice.invoice_date,
        "BG-4": seller, "BG-7": buyer, "BG-1": notes, "BG-25": lines, "BG-23": [breakdown],
        "BG-24": [{"BT-122": invoice.share_id, "BT-123": labels["xoi_document"],
                   "BT-124": invoice.share_url}],
        "BT-81": company.payment_means, "BT-83": order.invoice_number,
        "BT-106": _amount(order.subtotal * sign), "BT-109": _amount(order.subtotal * sign),
        "BT-110": _amount(order.tax * sign), "BT-112": _amount(order.total * sign),
        "BT-115": _amount(order.total * sign)}
    if sign > 0:
        data["BT-9"] = invoice.due_date
    else:  # a credit is not due: the PDF says so, and BR-CO-25 asks for terms or a date
        data["BT-20"] = labels["credit"]
    if company.iban:
        data["BT-84"] = company.iban
    if company.bic:
        data["BT-86"] = company.bic
    if order.buyer_reference or order.po_number:  # SPEC: BT-10 falls back to the PO
        data["BT-10"] = order.buyer_reference or order.po_number
    if order.po_number:
        data["BT-13"] = order.po_number
    if code == "K":  # BR-IC-12 asks where to; the work was done for the customer, there
        data["BG-13"] = {"name": order.customer, "country_code": order.bill_to_country}
    return data


def factur_x(invoice: Invoice, company: Company, labels: dict[str, str]) -> bytes:
    """The invoice's ``factur-x.xml``, checked against the Factur-X EN 16931 XSD."""
    import facturx  # 0.1 s that a plain PDF does not pay

    try:
        xml: bytes = facturx.generate_cii_xml(terms(invoice, company, labels), level=PROFILE,
                                              check_xsd=True, check_schematron=False)
    except Exception as error:  # the library raises ValueError, lxml's own, and others
        raise RenderError(f"the e-invoice XML cannot be made: {error}",
                          ticket=invoice.ticket) from None
    return xml
