"""Synthetic work orders and configuration for ``make bench`` (see bench.py).

Realistic MEP service work: ~6 line items per invoice (one page), a 70-item four-page
invoice every 400 tickets, names, addresses, notes and tags drawn from a fixed seed so
every run renders the same documents.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from pathlib import Path

PARTNER = "bench-partner"
SECRET = "bench-secret-not-for-production-0123456789"  # noqa: S105  (synthetic data)
BASE_URL = "https://vision.xoeye.io"
LONG_EVERY = 400   # one long invoice per LONG_EVERY tickets, at position 199, 599, ...
LONG_ITEMS = 70    # four pages

COLUMNS = ["service_ticket", "customer", "location", "confirmed", "share_id", "tags",
           "invoice_number", "invoice_date", "due_date", "bill_to_name", "bill_to_email",
           "bill_to_address", "technician", "notes", "po_number", "currency", "tax_rate",
           "item_description", "item_quantity", "item_unit_price"]
FIRST = ["Karen", "Luis", "Aisha", "Tom", "Mei", "Olga", "Ravi", "Grace", "Jamal", "Sofia",
         "Noah", "Priya", "Ethan", "Zoe", "Hiro", "Fatima", "Owen", "Lena", "Marco", "Ines"]
LAST = ["Whitfield", "Romero", "Khan", "Becker", "Chen", "Petrova", "Nair", "O'Neill",
        "Brooks", "García", "Larsen", "Iyer", "Novak", "Dubois", "Tanaka", "Haddad",
        "Fischer", "Moreau", "Rossi", "Silva"]
COMPANIES = ["Front Range Dental", "Cherry Creek Apartments LLC", "Sloan's Lake Bakery",
             "Mile High Self Storage", "Golden Triangle Lofts HOA", "Platte Street Brewing"]
STREETS = ["S Clayton St", "W Colfax Ave", "E Evans Ave", "Tennyson St", "Blake St",
           "S Broadway", "York St", "Federal Blvd", "E 17th Ave", "Sheridan Blvd"]
CITIES = [("Denver", "CO", "802"), ("Lakewood", "CO", "802"), ("Aurora", "CO", "800"),
          ("Boulder", "CO", "803"), ("Golden", "CO", "804")]
TECHS = ["Marcus Delgado", "Jenna Holt", "Sam Okafor", "Rita Lindqvist", "Dev Patel"]
TAGS = ["HVAC", "Plumbing", "Electrical", "Residential", "Commercial", "Repair",
        "Maintenance", "Install", "No Cool", "No Heat", "Leak", "Warranty"]
ITEMS = [("Diagnostic service call", "129.00"), ("Labor, HVAC technician (hours)", "118.00"),
         ("Dual run capacitor 45/5 MFD, 440V", "86.50"), ("Contactor, 1-pole 30A, 24V coil",
         "64.00"), ("Condensate pump, 115V", "142.75"), ("Refrigerant R-410A (lb)", "89.00"),
         ("Pleated air filter MERV 11, 16x25x1", "18.40"), ("Flame sensor", "39.95"),
         ("Labor, licensed plumber (hours)", "125.00"), ("PEX-A pipe 3/4 in (ft)", "2.35"),
         ("Shut-off valve, 1/2 in quarter turn", "24.10"), ("GFCI outlet 20A", "31.60"),
         ("Thermostat, programmable Wi-Fi", "219.00"), ("Trip charge", "49.00"),
         ("Ignitor, hot surface", "58.25"), ("Drain line flush and treatment", "95.00")]
NOTES = ["No cooling upstairs. Replaced failed capacitor and pitted contactor; verified amp "
         "draw and an 18°F split.", "Water heater leaking at the relief valve; replaced the "
         "valve and checked the expansion tank.", "Annual maintenance: cleaned coils, "
         "flushed the drain line, replaced the filter.", "Breaker tripping under load; "
         "found a loose neutral, re-terminated and tested.", ""]


def _row(ticket: str, items: list[tuple[str, str, str]], rng: random.Random) -> list[dict[
        str, str]]:
    city, state, zip3 = rng.choice(CITIES)
    if rng.random() < 0.25:
        customer = rng.choice(COMPANIES)
    else:
        customer = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    location = f"{rng.randint(100, 9999)} {rng.choice(STREETS)}, {city}, {state} " \
               f"{zip3}{rng.randint(10, 99)}"
    base = {
        "service_ticket": ticket, "customer": customer, "location": location,
        "confirmed": "Yes", "share_id": "", "tags": "|".join(rng.sample(TAGS, 3)),
        "invoice_number": "", "invoice_date": f"2026-11-{rng.randint(1, 28):02d}",
        "due_date": "", "bill_to_name": "", "bill_to_email": "", "bill_to_address": "",
        "technician": rng.choice(TECHS), "notes": rng.choice(NOTES),
        "po_number": f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.3 else "",
        "currency": "USD", "tax_rate": "8.25",
    }
    return [{**base, "item_description": description, "item_quantity": quantity,
             "item_unit_price": price} for description, quantity, price in items]


def _items(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    chosen = []
    for _ in range(count):
        description, price = rng.choice(ITEMS)
        quantity = str(rng.choice([1, 1, 1, 2, 3])) if "(" not in description else \
            f"{rng.choice([1, 1.5, 2, 2.5, 3])}"
        chosen.append((description, quantity, price))
    return chosen


def is_long(index: int) -> bool:
    return index % LONG_EVERY == LONG_EVERY // 2 - 1


def _write(path: Path, rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def generate_orders(path: Path, count: int, seed: int = 5) -> None:
    """``count`` confirmed work orders, ~6 line items each; a long one every 400."""
    rng = random.Random(seed)
    _write(path, (row for index in range(count) for row in _row(
        f"BW-{index:06d}", _items(rng, LONG_ITEMS if is_long(index) else
                                  rng.choice([5, 6, 6, 6, 7])), rng)))


def generate_rows(path: Path, rows: int, seed: int = 7, *, all_confirmed: bool = False) -> None:
    """``rows`` CSV rows for ``validate``: one work order with one line item per row;
    every tenth unconfirmed unless ``all_confirmed``."""
    rng = random.Random(seed)

    def row(index: int) -> dict[str, str]:
        fields = _row(f"VW-{index:07d}", _items(rng, 1), rng)[0]
        unconfirmed = index % 10 == 3 and not all_confirmed
        return {**fields, "confirmed": "" if unconfirmed else fields["confirmed"]}

    _write(path, (row(index) for index in range(rows)))


CONFIG = f"""\
partner_id = "{PARTNER}"
share_secret = "{SECRET}"
currency = "USD"

[company]
name = "Summit Mechanical Services"
address = "4100 Industrial Parkway, Suite 200\\nDenver, CO 80216"
phone = "(303) 555-0142"
email = "billing@summitmech.example"
website = "summitmech.example"
tax_id = "84-1234567"
payment_instructions = "Pay online at pay.summitmech.example or mail a check to the address above."
footer = "Summit Mechanical Services · Licensed HVAC, plumbing and electrical contractor"
"""
