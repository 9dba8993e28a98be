"""The words printed on an invoice, by language."""

from __future__ import annotations

ENGLISH = {
    "invoice": "Invoice",
    "invoice_number": "Invoice no.",
    "invoice_date": "Invoice date",
    "due_date": "Due date",
    "service_ticket": "Service ticket",
    "po_number": "PO number",
    "bill_to": "Bill to",
    "service_location": "Service location",
    "technician": "Technician",
    "amount_due": "Amount due",
    "due_by": "Due by",
    "xoi_heading": "See the work we did",
    "xoi_body": "Your technician documented this service with photos, videos and notes "
    "in XOi Vision. Scan the code or open the link to view them.",
    "description": "Description",
    "quantity": "Qty",
    "unit_price": "Unit price",
    "amount": "Amount",
    "no_items": "No billable items on this work order.",
    "notes": "Notes",
    "payment": "How to pay",
    "subtotal": "Subtotal",
    "tax": "Tax",
    "total": "Total",
    "tax_id": "Tax ID",
    "thanks": "Thank you for your business.",
    "page": "Page",
    "of": "of",
}

LABELS = {"en": ENGLISH}


def labels_for(locale: str) -> dict[str, str]:
    """The labels of the locale's language, English where a language has none."""
    return LABELS.get(locale.split("_")[0].lower(), ENGLISH)
