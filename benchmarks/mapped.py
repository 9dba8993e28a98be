"""``validate`` through a mapping against the same rows in our own format (issue 14).

The rows are ``validate``'s 100,000 (see synthetic.py), written a second time as a
European FSM would export them: its own column names, the address in four columns,
``;`` between cells, dates 11/28/2026, a decimal comma, unit prices in cents. Target: at
most 1.5 times our format's time. ``make bench`` runs it; alone:

    .venv/bin/python benchmarks/mapped.py [--rows N] [--keep DIR]
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from reading import CLI, Figure, measure, standalone
from synthetic import generate_rows

ROWS = 100_000
TARGET_RATIO = 1.5
RUNS = 3  # the best of three each: the machine is shared
MAPPING = """\
[fields]
service_ticket = "Job #"
customer = "Customer Name"
location = ["Street", "City", "State", "Zip"]
confirmed = "XOi Completed"
invoice_date = "Invoice Date"
technician = "Tech"
notes = "Job Notes"
po_number = "PO"
tax_rate = "Tax %"
item_description = "Item"
item_quantity = "Qty"
item_unit_price = "Price"

[values]
yes = ["Completed"]

[format]
date = "%m/%d/%Y"
decimal = ","
cents = ["item_unit_price"]
delimiter = ";"
"""
_RENAMED = {"service_ticket": "Job #", "customer": "Customer Name", "technician": "Tech",
            "notes": "Job Notes", "po_number": "PO", "item_description": "Item"}


def _exported(row: dict[str, str]) -> dict[str, str]:
    """One of our rows as the FSM above writes it."""
    street, city, state_zip = row["location"].rsplit(", ", 2)
    state, zip_code = state_zip.split(" ")
    year, month, day = row["invoice_date"].split("-")
    cents = round(float(row["item_unit_price"]) * 100)
    kept = {key: value for key, value in row.items()
            if key in ("share_id", "tags", "invoice_number", "due_date", "bill_to_name",
                       "bill_to_email", "bill_to_address", "currency")}
    return {**kept, **{theirs: row[ours] for ours, theirs in _RENAMED.items()},
            "Street": street, "City": city, "State": state, "Zip": zip_code,
            "XOi Completed": "Completed" if row["confirmed"] else "",
            "Invoice Date": f"{month}/{day}/{year}", "Tax %": row["tax_rate"].replace(".", ","),
            "Qty": row["item_quantity"].replace(".", ","), "Price": str(cents)}


def write_export(ours: Path, theirs: Path) -> None:
    with ours.open(newline="", encoding="utf-8") as source, \
            theirs.open("w", newline="", encoding="utf-8") as target:
        rows = map(_exported, csv.DictReader(source))
        first = next(rows)
        writer = csv.DictWriter(target, fieldnames=list(first), delimiter=";",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerow(first)
        writer.writerows(rows)


@dataclass
class Compared:
    ours: Figure
    mapped: Figure
    rows: int

    @property
    def ratio(self) -> float:
        return self.mapped.seconds / self.ours.seconds

    def ok(self) -> bool:
        return self.ours.status == 0 and self.mapped.status == 0 and \
            self.ratio <= TARGET_RATIO

    def lines(self) -> list[str]:
        return [f"validate {self.rows:,} rows, our format{self.ours.seconds:>23.2f} s",
                f"validate the same rows through a mapping{self.mapped.seconds:>12.2f} s",
                f"mapping vs our format                <= {TARGET_RATIO}x"
                f"{self.ratio:>14.2f}x{'PASS' if self.ok() else 'FAIL':>10}"]


def measure_mapping(work: Path, config: Path, rows: int = ROWS) -> Compared:
    """Both files validated ``RUNS`` times each, in turns; the best time of each."""
    ours = work / f"rows-{rows}.csv"
    if not ours.exists():
        generate_rows(ours, rows)
    theirs, mapping = work / f"exported-{rows}.csv", work / "mapping.toml"
    write_export(ours, theirs)
    mapping.write_text(MAPPING, encoding="utf-8")
    figures: dict[str, list[Figure]] = {"ours": [], "mapped": []}
    for _ in range(RUNS):
        figures["ours"].append(measure(
            "validate, our format", [str(CLI), "validate", str(ours), "--config",
                                     str(config)], work, target=False))
        figures["mapped"].append(measure(
            "validate, through a mapping", [str(CLI), "validate", str(theirs), "--config",
                                            str(config), "--mapping", str(mapping)],
            work, target=False))
    best = {key: min(runs, key=lambda figure: figure.seconds)
            for key, runs in figures.items()}
    return Compared(best["ours"], best["mapped"], rows)


def main() -> None:
    standalone(__doc__, ROWS, "xoi-mapped-",
               lambda work, config, rows: measure_mapping(work, config, rows).lines())


if __name__ == "__main__":
    main()
