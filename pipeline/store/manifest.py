"""What a run leaves for people and programs: the text of ``manifest.csv`` and
``report.json`` (:mod:`folder` writes them)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence

from ..core import money
from ..core.models import Outcome, Rendered
from ..core.terminal import json_text

MANIFEST_HEADER = ("service_ticket", "invoice_number", "customer", "share_id", "share_url",
                   "pdf", "sha256", "pages", "total", "currency")
_FORMULA_START = ("=", "+", "-", "@")
ROWS_PER_PART = 1000


def spreadsheet_safe(value: str) -> str:
    """A leading ``'`` keeps a spreadsheet from running the cell as a formula.

    Tab, carriage return and line feed start formulas in some spreadsheets too.
    """
    starts_formula = value.startswith(_FORMULA_START) or value[:1] in ("\t", "\r", "\n")
    # A value that already looks neutralized gets its own quote too, so reading it back
    # (verify.unneutralized) gives the value, not the value less its quote.
    if starts_formula or (value[:1] == "'" and spreadsheet_safe(value[1:]) != value[1:]):
        return "'" + value
    return value


def manifest_row(item: Rendered) -> tuple[str, ...]:
    text = (item.service_ticket, item.invoice_number, item.customer, item.share_id,
            item.share_url, item.pdf, item.sha256)
    # The numbers stay plain: a spreadsheet reads -25.50 as a number, not a formula.
    return (*(spreadsheet_safe(cell) for cell in text), str(item.pages),
            money.plain(item.total), item.currency)


def manifest_csv(invoices: Iterable[Rendered]) -> Iterator[bytes]:
    """The text of ``manifest.csv``; ``invoices`` come sorted by ticket, as the ledger
    gives them (SQLite compares text as UTF-8 bytes, which orders as Python compares the
    strings)."""
    return csv_parts(MANIFEST_HEADER, (manifest_row(item) for item in invoices))


def csv_parts(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[bytes]:
    """A CSV file's text in parts of :data:`ROWS_PER_PART` rows, for a million of them."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    rows = iter(rows)
    while True:
        writer.writerows(itertools.islice(rows, ROWS_PER_PART))
        part = buffer.getvalue()
        if not part:
            return
        # A lone surrogate (text no encoding writes) as its escape, not a failed run.
        yield part.encode(errors="backslashreplace")
        buffer.seek(0)
        buffer.truncate()


def report_data(outcome: Outcome) -> dict[str, object]:
    return {
        "read": outcome.read,
        "confirmed": outcome.confirmed,
        "unconfirmed": sorted(outcome.unconfirmed),
        "rejected": [problem.as_report() for problem in outcome.rejected],
        "rendered": sorted(outcome.rendered),
        "unchanged": sorted(outcome.unchanged),
        "failed": [{"service_ticket": failure.service_ticket, "reason": failure.reason}
                   for failure in sorted(outcome.failed, key=lambda f: f.service_ticket)],
        "withdrawn": sorted(outcome.withdrawn),
        "warnings": [warning.as_report() for warning in outcome.warnings],
        "others_rejected": outcome.others_rejected,
        "others_unconfirmed": outcome.others_unconfirmed,
        "interrupted": outcome.interrupted,
        "left": outcome.left,
        "seconds": round(outcome.seconds, 3),
        # Only when the run sent (``run --send``): a run that did not says nothing about it.
        **({"delivery": outcome.delivery.counts()} if outcome.delivery is not None else {}),
    }


def report_json(outcome: Outcome, *, command: str = "run") -> bytes:
    """report.json's text: the outcome of ``command`` (``run`` or ``regenerate``)."""
    data = {"command": command, **report_data(outcome)}
    return (json_text(data, indent=2) + "\n").encode()
