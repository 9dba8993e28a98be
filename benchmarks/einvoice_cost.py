"""What an e-invoice costs to render against a plain PDF/A-3b (``make bench``).

The same synthetic invoices (synthetic.py, with a German buyer added) are run through the
whole pipeline twice in this process, one render worker, each configuration twice in
turns so a noisy machine does not favour one: once as PDF/A-3b, once with
``--einvoice factur-x`` (PDF/A-3b plus the CII XML, its XSD check and the Factur-X XMP).
Prints seconds per invoice and the PDF's size for both, and the difference.

    .venv/bin/python benchmarks/einvoice_cost.py [--count 200]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from synthetic import PARTNER, SECRET, generate_orders

from pipeline import batch
from pipeline.core.config import Company, Settings

SELLER = Company(name="Kälte & Klima Huber GmbH", street="Industriestraße 14",
                 postcode="80939", city="München", country="DE", vat_id="DE811907980",
                 iban="DE89370400440532013000", bic="COBADEFFXXX")
BUYER = {"bill_to_country": "DE", "bill_to_street": "Leopoldstraße 7",
         "bill_to_postcode": "80802", "bill_to_city": "München", "tax_rate": "19",
         "currency": "EUR"}


def german(source: Path, target: Path) -> None:
    """The synthetic export with what an e-invoice needs of its buyer."""
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(dict.fromkeys([*rows[0], *BUYER])))
        writer.writeheader()
        writer.writerows({**row, **BUYER} for row in rows)


def timed(source: Path, settings: Settings) -> tuple[float, int]:
    """Seconds per invoice of one whole run, and the bytes of its PDFs per invoice."""
    started = time.perf_counter()
    outcome = batch.run([source], settings, force=True)
    seconds = time.perf_counter() - started
    assert outcome.ok, outcome.summary()
    pdfs = list((settings.out / "invoices").glob("*.pdf"))
    return seconds / len(outcome.rendered), sum(p.stat().st_size for p in pdfs) // len(pdfs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        generate_orders(work / "plain.csv", count)
        german(work / "plain.csv", work / "orders.csv")
        base = Settings(partner_id=PARTNER, share_secret=SECRET, workers=1, quiet=True,
                        company=SELLER, pdf_variant="pdf/a-3b", locale="de_DE")
        kinds = {"PDF/A-3b": base, "Factur-X": replace(base, einvoice="factur-x")}
        results: dict[str, list[tuple[float, int]]] = {kind: [] for kind in kinds}
        for turn in range(2):
            for kind, settings in kinds.items():
                out = work / f"{kind.replace('/', '')}-{turn}"
                results[kind].append(timed(work / "orders.csv", replace(settings, out=out)))
    print(f"e-invoice cost, {count} invoices, one render worker, best of 2 runs each:")
    best = {kind: min(seconds for seconds, _ in runs) for kind, runs in results.items()}
    for kind, runs in results.items():
        size = statistics.mean(size for _, size in runs)
        print(f"  {kind:9} {best[kind] * 1000:7.1f} ms/invoice  {size / 1024:6.1f} KiB/PDF")
    extra = best["Factur-X"] - best["PDF/A-3b"]
    print(f"  the e-invoice adds {extra * 1000:+.1f} ms/invoice "
          f"({extra / best['PDF/A-3b'] * 100:+.1f} %)")


if __name__ == "__main__":
    main()
