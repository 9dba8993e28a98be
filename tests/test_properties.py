"""Properties over random inputs: reading and checking never crash, whatever the file holds.

Every record ends as a WorkOrder or as a Problem naming its file and a line; the only
exception a caller ever sees is InputError (the file as a whole cannot be read).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline import batch
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.models import Problem, RawRecord, WorkOrder
from pipeline.read import read_file
from pipeline.store import spreadsheet_safe
from pipeline.store.audit import unneutralized
from pipeline.validate import inputs, validate

from .conftest import PARTNER, SECRET

EXAMPLES = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REQUIRED = ["service_ticket", "customer", "location", "confirmed"]
KNOWN = [*REQUIRED, "share_id", "tags", "invoice_number", "invoice_date", "due_date",
         "bill_to_name", "bill_to_email", "bill_to_address", "technician", "notes", "po_number",
         "currency", "tax_rate", "item_description", "item_quantity", "item_unit_price",
         "line_items"]
ITEM = ["item_description", "item_quantity", "item_unit_price"]

# Cells a real export or a hostile one might hold.
TRICKY = st.sampled_from([
    "", " ", "yes", "No", "Y", "0", "1", "maybe", "TRUE", "=HYPERLINK(\"http://x\")",
    "+1-555-0100", "-5", "@SUM(A1)", "\t=1", "a,b", 'say "hi"', "two\nlines", "cr\rlf\r\n",
    "\u2028", "\x85", "\x00", "\ufeff", "北京", "شركة", "e\u0301", "1e400", "NaN", "-0",
    "0.0000001", "999999999999", "12.50", "USD", "jpy", "KWD", "XYZ", "2026-11-28",
    "2026-02-30", "hvac|roof||", "|", "WO-1", "WO-1 ", " wo-1", "x" * 300, "1_000",
])
CELL = st.one_of(TRICKY, st.text(max_size=30),
                 st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
NAME = st.text(st.characters(categories=["L", "N", "Zs", "P"]), min_size=1,
               max_size=25).filter(str.strip)


def amount(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(low), Decimal(high), places=places)


# What a sound export holds in each column, as the Python value a JSON parser returns.
VALID: dict[str, st.SearchStrategy[Any]] = {
    "service_ticket": st.sampled_from(["WO-1", "WO-2", "WO-3", " WO-1", "10421"]),
    "customer": NAME, "location": NAME, "bill_to_name": NAME, "technician": NAME,
    "confirmed": st.sampled_from(["yes", "no", "", "Y", "n", "TRUE", "false", "1", "0"]),
    "share_id": st.sampled_from(["", "k7Qm2xR9vT4pL8sN3wZ6yB1c", "short", "12345", "a/b c"]),
    "tags": st.sampled_from(["", "HVAC", "HVAC|Repair", " a | b |"]),
    "invoice_number": st.sampled_from(["", "INV-1", "A/1", "=1+1"]),
    "invoice_date": st.dates().map(str), "due_date": st.dates().map(str),
    "currency": st.sampled_from(["", "USD", "eur", "JPY", "KWD"]),
    "tax_rate": amount("0", "100", 3),
    "item_description": NAME,
    "item_quantity": amount("0.001", "1000", 3),
    "item_unit_price": amount("-100", "100000", 4),
}


def column(name: str, clean: bool = False) -> st.SearchStrategy[Any]:
    """A sound value when ``clean``, else mostly sound and sometimes anything at all."""
    valid = VALID.get(name, NAME if clean else CELL)
    return valid if clean else st.one_of(valid, valid, valid, CELL)


def header_name(name: str) -> st.SearchStrategy[str]:
    """The same column as exporters spell it: any case, stray spaces."""
    return st.sampled_from([name, name.upper(), name.title(), f" {name} ", f"{name}\t"])


@st.composite
def csv_documents(draw: st.DrawFn) -> str:
    optional = draw(st.lists(st.sampled_from(KNOWN[4:-1]), unique=True, max_size=10))
    unknown = draw(st.lists(st.text(max_size=8), max_size=2))
    clean = draw(st.booleans())
    if clean and any(name.startswith("item_") for name in optional):
        optional = [name for name in optional if not name.startswith("item_")] + ITEM
    names = draw(st.permutations([*REQUIRED, *optional])) + unknown
    header = [draw(header_name(name)) for name in names]
    rows = []
    shared: dict[str, list[str]] = {}  # clean: a ticket's rows agree on all but the item
    for _ in range(draw(st.integers(0, 8))):
        row = [str(draw(column(name, clean))) for name in names]
        if clean:
            ticket = row[names.index("service_ticket")].strip()
            first = shared.setdefault(ticket, row)
            row = [cell if name.startswith("item_") else first[i]
                   for i, (name, cell) in enumerate(zip(names, row, strict=True))]
        elif draw(st.integers(0, 5)) == 0:  # a row cut short, or one too long
            row = row[: draw(st.integers(0, len(row)))] + draw(st.lists(CELL, max_size=1))
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    if not clean and draw(st.integers(0, 3)) == 0:  # sometimes damage it the way hand edits do
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.sampled_from(['"', "\n", ",", "\x00", "\r"])) + \
            text[position:]
    return text


JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30),
                        st.decimals(allow_nan=False, allow_infinity=False, places=4),
                        CELL)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["description", "quantity", "unit_price", "x"]), children, max_size=3),
    max_leaves=8,
)


def number(name: str, clean: bool = False) -> st.SearchStrategy[Any]:
    """A JSON number (kept exact through a float's shortest repr), text, or anything."""
    valid = VALID[name]
    as_number = valid.map(lambda d: float(d) if d % 1 else int(d))
    if clean:
        return st.one_of(as_number, valid.map(str))
    return st.one_of(as_number, as_number, valid.map(str), JSON_SCALAR)


def line_item(clean: bool = False) -> st.SearchStrategy[Any]:
    sound = st.fixed_dictionaries(
        {"description": column("item_description", clean),
         "quantity": number("item_quantity", clean),
         "unit_price": number("item_unit_price", clean)},
        optional={"sku": CELL})
    if clean:
        return sound
    sloppy = st.fixed_dictionaries({}, optional={
        "Description ": st.one_of(CELL, JSON_VALUE), "QUANTITY": JSON_SCALAR,
        " unit_price": JSON_SCALAR, "price": JSON_SCALAR})
    return st.one_of(sound, sound, sloppy, JSON_VALUE)


def work_order(clean: bool) -> st.SearchStrategy[Any]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        name: column(name, clean) for name in KNOWN[4:] if not name.startswith("item_")}
    optional["tax_rate"] = number("tax_rate", clean)
    optional["line_items"] = st.lists(line_item(clean), max_size=4)
    optional["tags"] = st.one_of(st.lists(NAME, max_size=3), column("tags", clean))
    confirmed = st.one_of(st.booleans(), column("confirmed", clean))
    if not clean:
        optional = {name: st.one_of(value, JSON_VALUE) for name, value in optional.items()}
        confirmed = st.one_of(confirmed, JSON_VALUE)
    sound = st.fixed_dictionaries(
        {**{name: column(name, clean) for name in REQUIRED[:3]}, "confirmed": confirmed},
        optional=optional)
    return sound if clean else st.one_of(sound, sound, sound, JSON_VALUE)


def encode(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


@st.composite
def json_documents(draw: st.DrawFn) -> tuple[str, str]:
    clean = draw(st.booleans())
    orders = draw(st.lists(work_order(clean), max_size=5))
    kind = draw(st.sampled_from(["list", "object", "jsonl", "ndjson"]))
    if kind in ("jsonl", "ndjson"):
        lines = [encode(order) for order in orders]
        if lines and not clean and draw(st.integers(0, 3)) == 0:
            index = draw(st.integers(0, len(lines) - 1))
            lines[index] = lines[index][: draw(st.integers(0, len(lines[index])))]
        return f".{kind}", draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    if kind == "list":
        document: Any = orders
    else:
        key = draw(st.sampled_from(["work_orders", "WORK_ORDERS", " Work_Orders "]))
        document = {"meta": draw(JSON_VALUE), key: orders, "count": len(orders)}
    text = json.dumps(document, default=str, ensure_ascii=draw(st.booleans()),
                      indent=draw(st.sampled_from([None, 1, 2])))
    if not clean and draw(st.integers(0, 5)) == 0:
        text = text[: draw(st.integers(0, len(text)))]  # a truncated export
    return ".json", text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


@pytest.fixture(scope="module")
def config(workdir: Path) -> Settings:
    return Settings(partner_id=PARTNER, share_secret=SECRET, out=workdir / "out", workers=1)


def assert_priced(work: WorkOrder) -> None:
    """The contract's arithmetic, recomputed independently: half-up per line, then tax."""
    unit = Decimal(1).scaleb(-{"JPY": 0, "KWD": 3}.get(work.currency, 2))
    for item in work.line_items:
        assert type(item.amount) is Decimal and item.amount.as_tuple().exponent == \
            unit.as_tuple().exponent
        assert item.amount == (item.quantity * item.unit_price).quantize(unit, ROUND_HALF_UP)
    assert work.subtotal == sum((item.amount for item in work.line_items), Decimal(0))
    assert work.tax == (work.subtotal * work.tax_rate / 100).quantize(unit, ROUND_HALF_UP)
    assert work.total == work.subtotal + work.tax
    assert all(type(v) is Decimal for v in (work.subtotal, work.tax, work.total))


def assert_sound(path: Path, text: str) -> None:
    """Read and validate one file: InputError, or every record accounted for with its line."""
    lines = max(1, text.count("\n") + text.count("\r") + 1)
    try:
        items = list(read_file(path))
    except InputError as error:
        event("InputError")
        assert error.source == str(path)
        assert error.line is None or error.line >= 1
        return
    for item in items:
        result = item if isinstance(item, Problem) else validate(item, "USD")
        assert isinstance(item, RawRecord | Problem)
        assert isinstance(result, WorkOrder | Problem)
        event(type(result).__name__)
        assert result.source == str(path)
        assert 1 <= result.line <= lines
        if isinstance(result, Problem):
            assert result.reason and str(result).startswith(f"{path}:{result.line}: ")
        else:
            assert result.service_ticket and result.customer and result.location
            assert_priced(result)


def assert_checks(paths: list[Path], config: Settings) -> None:
    """inputs.check and batch.check_all: InputError or an account of every record read."""
    try:
        checked = inputs.check(paths, config)
        outcome = batch.check_all(paths, config)
    except InputError:
        return
    assert checked.read == outcome.read == \
        len(checked.confirmed) + len(checked.unconfirmed) + len(checked.problems)
    # check_all adds share-link rejections (no longer confirmed) and reports them all in
    # file order
    assert outcome.read == outcome.confirmed + len(outcome.unconfirmed) + len(outcome.rejected)
    assert all(problem in outcome.rejected for problem in checked.problems)
    order = {str(path): index for index, path in enumerate(paths)}
    assert outcome.rejected == sorted(outcome.rejected,
                                      key=lambda p: (order[p.source], p.line))
    for problem in outcome.rejected:
        assert problem.line >= 1 and problem.source in {str(p) for p in paths}
    assert not config.out.exists()


@EXAMPLES
@given(text=csv_documents(), bom=st.booleans())
def test_random_csv_never_crashes(workdir: Path, config: Settings, text: str,
                                  bom: bool) -> None:
    path = workdir / "random.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8", "surrogatepass"))
    assert_sound(path, text)
    assert_checks([path], config)


@EXAMPLES
@given(document=json_documents())
def test_random_json_never_crashes(workdir: Path, config: Settings,
                                   document: tuple[str, str]) -> None:
    suffix, text = document
    path = workdir / f"random{suffix}"
    path.write_text(text, encoding="utf-8")
    assert_sound(path, text)
    assert_checks([path], config)


@EXAMPLES
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".csv", ".json", ".jsonl"]))
def test_random_bytes_never_crash(workdir: Path, config: Settings, data: bytes,
                                  suffix: str) -> None:
    path = workdir / f"bytes{suffix}"
    path.write_bytes(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    assert_sound(path, text if text else data.decode("latin-1"))
    assert_checks([path], config)


@EXAMPLES
@given(rows=st.lists(st.dictionaries(st.sampled_from(KNOWN), st.one_of(CELL, JSON_VALUE),
                                     max_size=12), min_size=1, max_size=4),
       line=st.integers(1, 10**6))
def test_random_field_values_never_crash_validate(rows: list[dict[str, Any]],
                                                  line: int) -> None:
    record = RawRecord("in.json", line, tuple((line + n, row) for n, row in enumerate(rows)))
    result = validate(record, "USD")
    assert isinstance(result, WorkOrder | Problem)
    assert result.source == "in.json" and line <= result.line < line + len(rows)
    if isinstance(result, Problem):
        assert result.reason
        # Each problem starts with the field it is about (values quoted in a message may
        # hold "; " themselves, so only the first is certain).
        field = result.reason.split(":")[0]
        assert field in KNOWN, result.reason


@EXAMPLES
@given(value=st.one_of(st.text(), st.sampled_from(["=1+1", "+1", "-1", "@x", "\t=1",
                                                   "'=1", "\r", "\n-"])))
def test_manifest_cells_never_start_a_formula(value: str) -> None:
    cell = spreadsheet_safe(value)
    assert cell in (value, "'" + value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))
    if cell != value:  # a formula, or a value that itself looks like a neutralized one
        assert value.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r", "\n")
    assert unneutralized(cell) == value  # verify reads back what was meant
