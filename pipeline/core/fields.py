"""The input contract's field names (SPEC, "Input"): which are required, which the CSV
item columns are, how a yes/no is written, and how a name is compared.

The readers, the validator, mapping files and ``mapping draft`` all take them from here.
"""

from __future__ import annotations

YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})
# What an e-invoice states besides the invoice's own facts (SPEC, "E-invoices").
EINVOICE_TEXT = (
    "bill_to_street", "bill_to_postcode", "bill_to_city", "bill_to_country", "buyer_vat_id",
    "buyer_reference", "tax_category", "tax_exemption_reason",
)
TEXT_FIELDS = (
    "service_ticket", "customer", "location", "share_id", "invoice_number", "bill_to_name",
    "bill_to_email", "bill_to_address", "technician", "notes", "po_number",
    *EINVOICE_TEXT,
)
REQUIRED = ("service_ticket", "customer", "location")
# A CSV header must name them: ``confirmed`` too, which a JSON record may leave out.
REQUIRED_COLUMNS = (*REQUIRED, "confirmed")
SHARED_FIELDS = (*TEXT_FIELDS, "confirmed", "tags", "invoice_date", "due_date", "currency",
                 "tax_rate", "service_date")
ITEM_COLUMNS = ("item_description", "item_quantity", "item_unit_price", "item_unit")


def field_name(key: object) -> str:
    """Field names are case-insensitive and surrounding spaces do not count."""
    return str(key).strip().lower()
