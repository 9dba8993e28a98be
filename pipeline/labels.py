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

SPANISH = {
    "invoice": "Factura",
    "invoice_number": "N.º de factura",
    "invoice_date": "Fecha de factura",
    "due_date": "Vencimiento",
    "service_ticket": "Orden de servicio",
    "po_number": "N.º de pedido",
    "bill_to": "Facturar a",
    "service_location": "Lugar del servicio",
    "technician": "Técnico",
    "amount_due": "Importe a pagar",
    "due_by": "Vence el",
    "xoi_heading": "Vea el trabajo realizado",
    "xoi_body": "Su técnico documentó este servicio con fotos, vídeos y notas en XOi Vision. "
    "Escanee el código o abra el enlace para verlos.",
    "description": "Descripción",
    "quantity": "Cant.",
    "unit_price": "Precio unitario",
    "amount": "Importe",
    "no_items": "Esta orden de trabajo no tiene conceptos facturables.",
    "notes": "Notas",
    "payment": "Cómo pagar",
    "subtotal": "Subtotal",
    "tax": "Impuesto",
    "total": "Total",
    "tax_id": "NIF",
    "thanks": "Gracias por su confianza.",
    "page": "Página",
    "of": "de",
}

FRENCH = {
    "invoice": "Facture",
    "invoice_number": "N° de facture",
    "invoice_date": "Date de facture",
    "due_date": "Échéance",
    "service_ticket": "Bon d'intervention",
    "po_number": "N° de commande",
    "bill_to": "Facturer à",
    "service_location": "Lieu d'intervention",
    "technician": "Technicien",
    "amount_due": "Montant dû",
    "due_by": "À régler avant le",
    "xoi_heading": "Découvrez notre intervention",
    "xoi_body": "Votre technicien a documenté cette intervention avec des photos, des vidéos "
    "et des notes dans XOi Vision. Scannez le code ou ouvrez le lien pour les consulter.",
    "description": "Description",
    "quantity": "Qté",
    "unit_price": "Prix unitaire",
    "amount": "Montant",
    "no_items": "Aucune prestation facturable sur ce bon.",
    "notes": "Remarques",
    "payment": "Modalités de paiement",
    "subtotal": "Sous-total",
    "tax": "TVA",
    "total": "Total",
    "tax_id": "N° TVA",
    "thanks": "Merci de votre confiance.",
    "page": "Page",
    "of": "sur",
}

GERMAN = {
    "invoice": "Rechnung",
    "invoice_number": "Rechnungsnr.",
    "invoice_date": "Rechnungsdatum",
    "due_date": "Fällig am",
    "service_ticket": "Serviceauftrag",
    "po_number": "Bestellnr.",
    "bill_to": "Rechnung an",
    "service_location": "Einsatzort",
    "technician": "Techniker",
    "amount_due": "Zu zahlen",
    "due_by": "Fällig bis",
    "xoi_heading": "Sehen Sie sich unsere Arbeit an",
    "xoi_body": "Ihr Techniker hat diesen Einsatz mit Fotos, Videos und Notizen in XOi Vision "
    "dokumentiert. Scannen Sie den Code oder öffnen Sie den Link.",
    "description": "Beschreibung",
    "quantity": "Menge",
    "unit_price": "Einzelpreis",
    "amount": "Betrag",
    "no_items": "Dieser Auftrag enthält keine abrechenbaren Positionen.",
    "notes": "Hinweise",
    "payment": "Zahlung",
    "subtotal": "Zwischensumme",
    "tax": "MwSt.",
    "total": "Gesamt",
    "tax_id": "USt-IdNr.",
    "thanks": "Vielen Dank für Ihren Auftrag.",
    "page": "Seite",
    "of": "von",
}

LABELS = {"en": ENGLISH, "es": SPANISH, "fr": FRENCH, "de": GERMAN}


def labels_for(locale: str) -> dict[str, str]:
    """The labels of the locale's language, English where a language has none."""
    return LABELS.get(locale.split("_")[0].lower(), ENGLISH)
