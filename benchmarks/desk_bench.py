"""The billing desk's index at scale: a 1,000,000-invoice ledger, its backfill, every kind of
front-page query, and what the index's triggers cost a nightly run's ledger writes.

The ledger is made by :class:`pipeline.store.Ledger` (with send's tables, as a run makes
it), then filled with ``executemany`` in large transactions on a connection of its own
(``synchronous=OFF``: a bench's file, not a ledger anyone keeps): tickets ``WO-000001``..,
~5,000 customers, their billing emails in send's facts, ~80 % with a ``sent`` delivery,
~2 % a ``failed`` one, ~1 % withdrawn, rendered over 400 nights. Then, over the ledger's
own :class:`~pipeline.store.Database`:

- ``Index.ensure()`` on it (the backfill of a ledger made before the desk existed);
- each query kind, the median of 5 runs in ms (after one run that warms the system's
  cache), each on a fresh connection as the desk's requests are, with a FAIL line over
  :data:`TARGET_MS`;
- a night's ledger writes through ``Ledger.record`` with send's annex (:data:`NIGHT` new
  invoices, then the same re-rendered), with the triggers, then (other tickets) after
  dropping them: what the index costs a run.

``make bench`` runs it (section j); alone:

    .venv/bin/python benchmarks/desk_bench.py [--rows N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from desk_pages import measure_pages

from pipeline.core.models import Invoice, Rendered, WorkOrder
from pipeline.desk.index import Index
from pipeline.send import BillingFacts
from pipeline.store import LEDGER, Database, Ledger

ROWS = 1_000_000
TARGET_MS = 200.0
NIGHT = 20_000
RUNS = 5
LIMIT = "(limit) "  # a query outside the target: a term under 3 letters that matches nothing
PER_TRANSACTION = 100_000
WORDS = ["Whitfield", "Romero", "Khan", "Becker", "Chen", "Petrova", "Nair", "Brooks",
         "Larsen", "Iyer", "Novak", "Dubois", "Tanaka", "Haddad", "Fischer", "Moreau",
         "Rossi", "Silva", "Okafor", "Lindqvist", "Delgado", "Holt", "Patel", "Smith",
         "Jensen"]
KINDS = ["Dental", "Apartments", "Bakery", "Self Storage", "Lofts HOA", "Brewing",
         "Property Services", "Medical Group", "Schools", "Hotel", "Church", "Auto Body",
         "Veterinary", "Fitness", "Library", "Services Inc", "Warehouse", "Pharmacy",
         "Deli", "Realty"]
START = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)


def customers(count: int = 5000) -> list[tuple[str, str]]:
    """``count`` (customer, email) pairs: two surnames and a kind of business."""
    rng = random.Random(7)
    names: dict[str, str] = {}
    while len(names) < count:
        first, second, kind = rng.choice(WORDS), rng.choice(WORDS), rng.choice(KINDS)
        name = f"{first} & {second} {kind}" if rng.random() < 0.3 else f"{first} {kind}"
        name += " LLC" if rng.random() < 0.5 else ""
        name += f" #{len(names)}" if name in names else ""
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:24]
        names[name] = f"ap.{slug}{len(names)}@example.com"
    return list(names.items())


def build(path: Path, rows: int) -> float:
    """A ledger of ``rows`` invoices at ``path``; the seconds it took."""
    started = time.perf_counter()
    Ledger(path, annex=BillingFacts()).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-400000")
    people = customers()
    rng = random.Random(11)
    nights = 400
    for start in range(1, rows + 1, PER_TRANSACTION):
        invoices, facts, deliveries = [], [], []
        for n in range(start, min(start + PER_TRANSACTION, rows + 1)):
            ticket, number = f"WO-{n:06d}", f"INV-{n:07d}"
            customer, email = people[rng.randrange(len(people))]
            if n <= rows // 2 and rng.random() < 0.1:  # a customer gone since: all old
                customer, email = f"Zenith Mechanical {n % 50}", f"ap@zenith{n % 50}.example"
            night = START + timedelta(days=(n - 1) * nights // rows)
            rendered = (night + timedelta(seconds=n % 7200)).isoformat(timespec="seconds")
            sha = f"{n:064x}"
            withdrawn = rendered if rng.random() < 0.01 else None
            invoices.append((ticket, number, customer, f"shr{n:020d}",
                             f"https://vision.xoeye.io/s/shr{n:020d}", f"invoices/{number}.pdf",
                             sha, 1, f"{rng.randrange(8000, 250000) / 100:.2f}", "USD",
                             night.date().isoformat(), "fp", rendered, withdrawn,
                             number.lower()))
            facts.append((ticket, sha, json.dumps({"invoice_number": number,
                                                   "service_ticket": ticket,
                                                   "due_date": night.date().isoformat(),
                                                   "customer": customer, "bill_to": {
                                                       "name": customer, "email": email,
                                                       "address": "1200 Blake St, Denver"},
                                                   "total": "0", "currency": "USD"})))
            luck = rng.random()
            if luck < 0.80:
                deliveries.append((ticket, number, email, sha, f"<{n}@x>", "sent", rendered,
                                   rendered, ""))
            elif luck < 0.82:
                deliveries.append((ticket, number, email, sha, f"<{n}@x>", "failed", rendered,
                                   "", "550 mailbox unavailable"))
        db.execute("BEGIN")
        db.executemany("INSERT INTO invoices (service_ticket, invoice_number, customer, "
                       "share_id, share_url, pdf, sha256, pages, total, currency, "
                       "invoice_date, fingerprint, rendered_at, withdrawn_at, file_key) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", invoices)
        db.executemany("INSERT INTO invoice_mail VALUES (?, ?, ?)", facts)
        db.executemany("INSERT INTO deliveries (service_ticket, invoice_number, recipient, "
                       "sha256, message_id, status, tried_at, sent_at, reason) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", deliveries)
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


def queries(index: Index) -> Iterator[tuple[str, Callable[[Index], object]]]:
    """Each kind of query the front page makes, named."""
    deep = None
    for _ in range(200):  # the cursor of page 201 (10,000 rows in)
        deep = index.page(after=deep).next
    yield "first page", lambda index: index.page()
    yield "page 201 (by cursor)", lambda index: index.page(after=deep)
    for status in ("unsent", "failed", "withdrawn"):
        yield f"filter {status}", lambda index, status=status: index.page(  # type: ignore[misc]
            status=status)
    for label, term in (
            ("common 'llc' (~1/2)", "llc"), ("every row 'example'", "example"),
            ("'services' (~1/10)", "services"), ("'wo-1' (1/10, all old)", "wo-1"),
            ("'smith' (~1/20)", "smith"), ("'zenith' (1/20, all old)", "zenith"),
            ("rare 'lindqvist bakery'", "lindqvist bakery"), ("ticket '10421'", "10421"),
            ("email 'ap.smithdental'", "ap.smithdental"), ("nothing 'zzqx'", "zzqx"),
            ("nothing 'llc lindqvist'", "llc lindqvist"), ("2 letters 'wo'", "wo")):
        yield f"search {label}", lambda index, term=term: index.page(q=term)  # type: ignore[misc]
    yield "search 'smith' + failed", lambda index: index.page(q="smith", status="failed")
    yield "search 'services' + withdrawn", lambda index: index.page(q="services",
                                                                    status="withdrawn")
    yield LIMIT + "2 letters, nothing 'zq'", lambda index: index.page(q="zq")
    yield "count, all four tabs", lambda index: [index.count(s) for s in (
        None, "unsent", "failed", "withdrawn")]


def timed(path: Path, call: Callable[[Index], object]) -> tuple[float, object]:
    """The median of :data:`RUNS` runs in ms (after one warming run), and the last result;
    each on a connection of its own, as the desk opens the ledger per request (SQLite's
    page cache starts empty; the system's holds the file)."""
    times, result = [], None
    for run in range(RUNS + 1):
        db = Database(path)
        started = time.perf_counter()
        result = call(Index(db))
        if run:
            times.append((time.perf_counter() - started) * 1000)
        db.close()
    return statistics.median(times), result


def invoice(n: int, people: list[tuple[str, str]]) -> tuple[Rendered, Invoice]:
    """A new invoice of tonight's run, for one of the usual customers."""
    ticket, number = f"NW-{n:06d}", f"NINV-{n:07d}"
    customer, email = people[n % len(people)]
    order = WorkOrder("night.csv", n, ticket, customer, "", True, None, (), number, None,
                      None, customer, email, "", "", "", "", "USD", Decimal(0), (),
                      Decimal("99.00"), Decimal(0), Decimal("99.00"))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return (Rendered(ticket, number, customer, f"nshr{n:020d}", "https://x/s",
                     f"invoices/{number}.pdf", f"{n:064x}", 1, Decimal("99.00"), "USD", "fp",
                     now, "2026-12-05"),
            Invoice(order, f"nshr{n:020d}", "https://x/s", date(2026, 12, 5), date(2027, 1, 4)))


def night(path: Path, first: int, count: int) -> tuple[float, float]:
    """Rows/s of ``count`` new invoices recorded as a run records them, then of the same
    re-rendered (INSERT OR REPLACE of rows that exist)."""
    people = customers()
    items = [invoice(n, people) for n in range(first, first + count)]
    rates = []
    for _ in range(2):
        ledger = Ledger(path, annex=BillingFacts())
        started = time.perf_counter()
        for rendered, bill in items:
            ledger.record(rendered, bill)
        ledger.close()
        rates.append(count / (time.perf_counter() - started))
    return rates[0], rates[1]


def measure_desk(work: Path, rows: int = ROWS) -> tuple[list[str], list[str]]:
    """The lines of the desk's section, and the targets it missed."""
    path = work / "out" / LEDGER  # an output folder the desk can serve
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    built = build(path, rows)
    lines = [f"desk index over {rows:,} invoices (ledger built in {built:.0f} s, "
             f"{path.stat().st_size / 1e6:.0f} MB)"]
    db = Database(path)
    index = Index(db)
    started = time.perf_counter()
    index.ensure()
    lines.append(f"  {'ensure() backfill':<40}{time.perf_counter() - started:>9.1f} s  "
                 f"(file now {path.stat().st_size / 1e6:.0f} MB)")
    fails = []
    for label, call in queries(index):
        ms, result = timed(path, call)
        shown = len(result.rows) if hasattr(result, "rows") else result
        verdict = "" if label.startswith(LIMIT) else "PASS" if ms <= TARGET_MS else "FAIL"
        lines.append(f"  {label:<40}{ms:>9.1f} ms  {verdict:4}  ({shown})")
        if verdict == "FAIL":
            fails.append(f"desk {label}: {ms:.0f} ms > {TARGET_MS:.0f} ms")
    for label, ms in measure_pages(path.parent):
        verdict = "PASS" if ms <= TARGET_MS else "FAIL"
        lines.append(f"  {label:<40}{ms:>9.1f} ms  {verdict:4}  (over HTTP)")
        if verdict == "FAIL":
            fails.append(f"desk {label}: {ms:.0f} ms > {TARGET_MS:.0f} ms")
    with_triggers = night(path, 1, NIGHT)
    for (name,) in list(db.rows("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                "AND name LIKE 'desk%'")):
        db.execute(f"DROP TRIGGER {name}")
    without = night(path, NIGHT + 1, NIGHT)
    db.close()
    for kind, on, off in zip(("new", "re-rendered"), with_triggers, without, strict=True):
        lines.append(f"  ledger writes, {NIGHT:,} {kind} invoices: {on:>8,.0f} rows/s with the "
                     f"triggers, {off:>8,.0f} without ({on / off - 1:+.0%})")
    path.unlink()
    return lines, fails


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS, help=f"invoices [{ROWS:,}]")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    arguments = parser.parse_args()
    work = arguments.keep.resolve() if arguments.keep else Path(tempfile.mkdtemp(prefix="desk-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        lines, fails = measure_desk(work, max(arguments.rows, 1))
        print("\n".join([*lines, *(f"FAIL: {what}" for what in fails)]))
    finally:
        if not arguments.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
