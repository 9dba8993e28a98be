"""The naive loop ``make bench`` compares xoi-invoices with, as a user would write it.

Per invoice: Jinja renders the same invoice design (flexbox layout, as one writes it for
a browser) with an inline SVG QR code, and ``weasyprint.HTML(string=...).write_pdf()``
runs with nothing reused. ``--stock`` simulates an install without Debian's
``libharfbuzz-subset0`` (WeasyPrint then subsets fonts with fontTools).

    python benchmarks/naive.py ORDERS.csv COUNT OUT_DIR [--stock]

Prints one JSON line: invoices, loop seconds, loop CPU seconds, subsetter.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from synthetic import BASE_URL, PARTNER, SECRET

from pipeline.link.share import derive_share_id

NAIVE_CSS = """
@page { size: letter; margin: 16mm 16mm 20mm 16mm;
  @bottom-left { content: "Summit Mechanical Services"; font: 7.5pt "Noto Sans", sans-serif;
                 color: #6b7280; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages);
                  font: 7.5pt "Noto Sans", sans-serif; color: #6b7280; } }
html { font-family: "Noto Sans", "DejaVu Sans", sans-serif; font-size: 9.5pt;
       line-height: 1.35; color: #1f2937; }
body { margin: 0; }
h1, h2 { margin: 0; font-weight: 700; }
h2 { font-size: 7.5pt; letter-spacing: 0.08em; text-transform: uppercase; color: #0b5cad;
     margin-bottom: 1.5mm; }
.muted { color: #6b7280; } .strong { font-weight: 700; }
.address, .notes { white-space: pre-line; }
.masthead { display: flex; justify-content: space-between; align-items: flex-start;
            border-bottom: 2.5pt solid #0b5cad; padding-bottom: 4mm; }
.issuer-name { font-size: 14pt; font-weight: 700; color: #111827; }
.issuer-address { white-space: pre-line; color: #374151; }
.issuer-contact { color: #4b5563; font-size: 8.5pt; }
.title-block { text-align: right; }
.title-block h1 { font-size: 24pt; letter-spacing: 0.12em; text-transform: uppercase;
                  color: #0b5cad; margin-bottom: 2mm; }
.facts { margin-left: auto; border-collapse: collapse; }
.facts th { text-align: right; font-weight: 400; color: #6b7280; padding: 0.4mm 3mm 0.4mm 0; }
.facts td { text-align: right; font-weight: 700; padding: 0.4mm 0; }
.parties { display: flex; gap: 6mm; margin: 5mm 0 4mm; }
.party { flex: 1; } .amount-due { text-align: right; }
.due-total { font-size: 16pt; font-weight: 700; color: #111827; }
.xoi { display: flex; align-items: center; gap: 5mm; border: 0.75pt solid #d1d5db;
       border-left: 3pt solid #0b5cad; border-radius: 2mm; background: #f8fafc;
       padding: 3mm 4mm; margin-bottom: 5mm; break-inside: avoid; }
.qr { display: block; flex: none; }
.qr svg { display: block; width: 30mm; height: 30mm; }
.xoi-text p { margin: 1mm 0; }
.share-link { white-space: nowrap; font-size: 8pt; }
.share-link a { color: #0b5cad; text-decoration: underline; }
table.items { width: 100%; border-collapse: collapse; }
table.items thead { display: table-header-group; }
table.items th { background: #0b5cad; color: #fff; font-weight: 700; font-size: 8pt;
                 text-transform: uppercase; letter-spacing: 0.05em; padding: 2mm 2.5mm;
                 text-align: left; }
table.items td { padding: 1.5mm 2.5mm; border-bottom: 0.5pt solid #e5e7eb; }
table.items tbody tr { break-inside: avoid; }
table.items tbody tr:nth-child(even) td { background: #f9fafb; }
table.items .num { text-align: right; white-space: nowrap; width: 22mm; }
.closing { display: flex; justify-content: space-between; gap: 8mm; margin-top: 4mm;
           break-inside: avoid; }
.remarks { flex: 1; } .remarks p { margin: 0 0 3mm; }
.tags span { display: inline-block; border: 0.5pt solid #d1d5db; border-radius: 1mm;
             padding: 0.2mm 1.5mm; margin: 0 1mm 1mm 0; font-size: 7.5pt; color: #4b5563; }
table.totals { border-collapse: collapse; min-width: 70mm; }
table.totals th { text-align: left; font-weight: 400; color: #4b5563;
                  padding: 1.2mm 4mm 1.2mm 0; }
table.totals td { text-align: right; padding: 1.2mm 0; white-space: nowrap; }
table.totals tr.grand th, table.totals tr.grand td { border-top: 1.5pt solid #0b5cad;
  font-weight: 700; font-size: 11pt; color: #111827; padding-top: 2mm; }
"""

NAIVE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice {{ o.number }}</title>
<style>{{ css|safe }}</style></head><body>
<header class="masthead">
  <div class="issuer"><div class="issuer-name">Summit Mechanical Services</div>
    <div class="issuer-address">4100 Industrial Parkway, Suite 200
Denver, CO 80216</div>
    <div class="issuer-contact">(303) 555-0142 · billing@summitmech.example</div></div>
  <div class="title-block"><h1>Invoice</h1><table class="facts">
    <tr><th>Invoice number</th><td>{{ o.number }}</td></tr>
    <tr><th>Invoice date</th><td>{{ o.date }}</td></tr>
    <tr><th>Service ticket</th><td>{{ o.ticket }}</td></tr>
    {% if o.po %}<tr><th>PO number</th><td>{{ o.po }}</td></tr>{% endif %}
  </table></div>
</header>
<section class="parties">
  <div class="party"><h2>Bill to</h2><div class="strong">{{ o.customer }}</div>
    <div class="address">{{ o.location }}</div></div>
  <div class="party"><h2>Service location</h2><div class="strong">{{ o.customer }}</div>
    <div class="address">{{ o.location }}</div>
    <div class="muted">Technician: {{ o.technician }}</div></div>
  <div class="party amount-due"><h2>Amount due</h2>
    <div class="due-total">{{ o.total }}</div></div>
</section>
<section class="xoi">
  <a class="qr" href="{{ o.url }}">{{ qr|safe }}</a>
  <div class="xoi-text"><h2>See the work</h2>
    <p>Scan the code or open the link to see the photos and videos of this job.</p>
    <p class="share-link"><a href="{{ o.url }}">{{ o.url }}</a></p></div>
</section>
<table class="items"><thead><tr><th>Description</th><th class="num">Qty</th>
  <th class="num">Unit price</th><th class="num">Amount</th></tr></thead><tbody>
{% for i in o.lines %}<tr><td>{{ i.description }}</td><td class="num">{{ i.quantity }}</td>
  <td class="num">{{ i.price }}</td><td class="num">{{ i.amount }}</td></tr>
{% endfor %}</tbody></table>
<section class="closing"><div class="remarks">
  {% if o.notes %}<h2>Notes</h2><p class="notes">{{ o.notes }}</p>{% endif %}
  <p class="tags">{% for t in o.tags %}<span>{{ t }}</span>{% endfor %}</p>
  <h2>Payment</h2><p class="notes">Pay online at pay.summitmech.example.</p></div>
  <table class="totals"><tr><th>Subtotal</th><td>{{ o.subtotal }}</td></tr>
    <tr><th>Tax ({{ o.rate }}%)</th><td>{{ o.tax }}</td></tr>
    <tr class="grand"><th>Total (USD)</th><td>{{ o.total }}</td></tr></table>
</section></body></html>
"""


def _naive_orders(path: Path, limit: int) -> list[dict[str, Any]]:
    """The CSV grouped by ticket, money as a user would do it (Decimal, two places)."""
    cent = Decimal("0.01")

    def dollars(value: Decimal) -> str:
        return f"${value:,.2f}"

    grouped: dict[str, list[dict[str, str]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            grouped.setdefault(row["service_ticket"], []).append(row)
    orders = []
    for ticket, rows in list(grouped.items())[:limit]:
        first = rows[0]
        # The same links as the CLI's: the comparison is about rendering, not the URLs.
        share = derive_share_id(SECRET, PARTNER, ticket)
        items, subtotal = [], Decimal(0)
        for row in rows:
            amount = (Decimal(row["item_quantity"]) * Decimal(row["item_unit_price"])
                      ).quantize(cent, ROUND_HALF_UP)
            subtotal += amount
            items.append({"description": row["item_description"],
                          "quantity": row["item_quantity"],
                          "price": dollars(Decimal(row["item_unit_price"])),
                          "amount": dollars(amount)})
        rate = Decimal(first["tax_rate"])
        tax = (subtotal * rate / 100).quantize(cent, ROUND_HALF_UP)
        orders.append({"ticket": ticket, "number": f"INV-{ticket}",
                       "date": first["invoice_date"], "po": first["po_number"],
                       "customer": first["customer"], "location": first["location"],
                       "technician": first["technician"], "notes": first["notes"],
                       "tags": first["tags"].split("|"), "lines": items,
                       "url": f"{BASE_URL}/share/{share}", "rate": str(rate),
                       "subtotal": dollars(subtotal), "tax": dollars(tax),
                       "total": dollars(subtotal + tax)})
    return orders


def naive_main(csv_path: Path, limit: int, out: Path, stock: bool) -> None:
    """The loop: Jinja → HTML with an inline SVG QR → ``HTML(string=).write_pdf()``."""
    import jinja2
    import qrcode
    import qrcode.image.svg
    import weasyprint
    import weasyprint.pdf.fonts

    if stock:
        # What WeasyPrint does without Debian's libharfbuzz-subset0: fontTools subsetting.
        weasyprint.pdf.fonts.harfbuzz_subset = None
    subsetter = "fontTools" if weasyprint.pdf.fonts.harfbuzz_subset is None else "HarfBuzz"
    orders = _naive_orders(csv_path, limit)
    template = jinja2.Environment(autoescape=True).from_string(NAIVE_TEMPLATE)
    out.mkdir(parents=True, exist_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    for order in orders:
        svg = qrcode.make(order["url"], image_factory=qrcode.image.svg.SvgPathImage)
        html = template.render(o=order, css=NAIVE_CSS, qr=svg.to_string(encoding="unicode"))
        pdf = weasyprint.HTML(string=html).write_pdf()
        (out / f"{order['number']}.pdf").write_bytes(pdf)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"count": len(orders), "loop_seconds": seconds, "loop_cpu_seconds": cpu,
                      "subsetter": subsetter}))


if __name__ == "__main__":
    naive_main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]),
               stock="--stock" in sys.argv[4:])
