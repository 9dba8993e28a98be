"""The e-invoice facts of one work order (SPEC, "E-invoices").

Each is checked whenever it is given (a malformed country code is wrong on any invoice),
and, when the run makes e-invoices, what EN 16931 requires is required by name: the
messages carry the business term, ``bill_to_country (BT-55): required for an e-invoice``.
What each VAT category asks is :data:`pipeline.core.einvoice.CATEGORIES`; this module only
applies it to a record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from ..core import einvoice
from ..core.company import Company
from ..core.einvoice import CATEGORIES, REQUIRED

# The business term each input field states (EN 16931), named in every message about it.
TERMS = {"bill_to_street": "BT-50", "bill_to_postcode": "BT-53", "bill_to_city": "BT-52",
         "bill_to_country": "BT-55", "buyer_vat_id": "BT-48", "buyer_reference": "BT-10",
         "tax_category": "BT-118", "tax_exemption_reason": "BT-120", "tax_rate": "BT-119",
         "currency": "BT-5"}

Fail = Callable[[str, str], None]  # field, reason


def einvoice_facts(text: dict[str, str], tax_rate: Decimal, service_date: date | None,
                   fail: Callable[..., None], *, seller: Company | None,
                   currency: str) -> dict[str, Any]:
    """The WorkOrder's e-invoice fields from the record's cleaned ``text``; each problem goes
    to ``fail(field, reason, term=...)``. ``seller``: the run makes e-invoices from it."""

    def problem(field: str, reason: str) -> None:
        fail(field, reason, term=TERMS[field])

    facts: dict[str, Any] = {name: text[name] for name in
                             ("bill_to_street", "bill_to_postcode", "bill_to_city",
                              "buyer_reference", "tax_exemption_reason")}
    facts["service_date"] = service_date
    for field, normal in (("bill_to_country", einvoice.country),
                          ("buyer_vat_id", einvoice.vat_id)):
        facts[field] = ""
        if text[field]:
            try:
                facts[field] = normal(text[field])
            except ValueError as error:
                problem(field, str(error))
    category = text["tax_category"].upper()
    if category and category not in CATEGORIES:
        problem("tax_category", f"{text['tax_category'][:20]!r} is not a VAT category code "
                f"(UNCL 5305): {', '.join(CATEGORIES)}")
        category = ""
    facts["tax_category"] = category
    if seller is not None:
        try:
            einvoice.check_currency(currency)
        except ValueError as error:
            problem("currency", str(error))
        _required(facts, text, tax_rate, seller, problem)
    return facts


def _required(facts: dict[str, Any], text: dict[str, str], tax_rate: Decimal,
              seller: Company, problem: Fail) -> None:
    """What EN 16931 requires of the buyer and the VAT category, by name."""
    if not facts["bill_to_country"] and not text["bill_to_country"]:
        problem("bill_to_country", REQUIRED)
    code = einvoice.category(facts["tax_category"], tax_rate)
    if not code:
        if not text["tax_category"]:
            problem("tax_category", f"{REQUIRED} when tax_rate is 0: "
                    "Z, E, AE, K, G or O")
        return
    category = CATEGORIES[code]
    named = f"tax_category {code} ({category.words})"
    if category.rate == "positive" and tax_rate <= 0:
        problem("tax_rate", f"{named} needs a rate above 0")
    elif category.rate == "zero" and tax_rate != 0:
        problem("tax_rate", f"{tax_rate} is not 0, as {named} needs")
    reason = facts["tax_exemption_reason"]
    if category.reason == "forbidden" and reason:
        problem("tax_exemption_reason", f"not allowed with {named}")
    elif category.reason == "required" and not reason:
        problem("tax_exemption_reason", f"{REQUIRED} with {named}")
    if category.buyer_vat and not facts["buyer_vat_id"] and not text["buyer_vat_id"]:
        problem("buyer_vat_id", f"{REQUIRED} with {named}")
    elif not category.vat_ids and text["buyer_vat_id"]:
        problem("buyer_vat_id", f"not allowed with {named}")
    if not category.vat_ids and not seller.registration_id:
        problem("tax_category", f"{code} ({category.words}) names no VAT identifier "
                "(BR-O-02), so the seller needs [company] registration_id (BT-30)")
