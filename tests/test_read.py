"""Reading exports: CSV, JSON, JSON Lines into raw records with file and line, or InputError."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest

from pipeline.core.errors import InputError, OutputError
from pipeline.core.models import Problem, RawRecord
from pipeline.read import csv_rows, read_file

from .conftest import order, write_csv

REQUIRED = "service_ticket,customer,location,confirmed"


def records(path: Path) -> list[RawRecord | Problem]:
    return list(read_file(path))


def raw(path: Path) -> list[RawRecord]:
    items = records(path)
    assert all(isinstance(item, RawRecord) for item in items), items
    return items  # type: ignore[return-value]


def input_error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        records(path)
    assert caught.value.source == str(path)
    return caught.value


def json_order(ticket: str, **fields: object) -> dict[str, object]:
    return {"service_ticket": ticket, "customer": f"Customer {ticket}",
            "location": f"{ticket} Main St", "confirmed": True, **fields}


# --- CSV ---------------------------------------------------------------------------------


def test_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{REQUIRED}\r\nWO-1,Acme,1 Main St,yes\r\n"
                     "WO-2,Beta,2 Main St,no\r\n".encode())
    first, second = raw(path)
    assert first.line == 2 and second.line == 3
    row = first.rows[0][1]
    # The BOM is not part of the first column's name and no \r sticks to the last cell.
    assert row == {"service_ticket": "WO-1", "customer": "Acme", "location": "1 Main St",
                   "confirmed": "yes"}
    assert second.rows[0][1]["confirmed"] == "no"


def test_csv_header_names_ignore_case_and_surrounding_spaces(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(" Service_Ticket ,CUSTOMER,  Location,Confirmed  , Item_Quantity\n"
                    "WO-1,Acme,1 Main St,Y,2\n", encoding="utf-8")
    (record,) = raw(path)
    assert record.rows[0][1] == {"service_ticket": "WO-1", "customer": "Acme",
                                 "location": "1 Main St", "confirmed": "Y",
                                 "item_quantity": "2"}


def test_csv_rows_of_a_ticket_need_not_be_adjacent(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [
        order("WO-1", item_description="Labor"),            # line 2
        order("WO-2", item_description="Filter"),           # line 3
        order("WO-1", item_description="Compressor"),       # line 4
        order("WO-3", item_description="Visit"),            # line 5
        order("WO-1", item_description="Refrigerant"),      # line 6
    ])
    items = raw(path)
    assert [(item.rows[0][1]["service_ticket"], item.line) for item in items] == \
        [("WO-1", 2), ("WO-2", 3), ("WO-3", 5)]
    wo1 = items[0]
    assert [(line, row["item_description"]) for line, row in wo1.rows] == \
        [(2, "Labor"), (4, "Compressor"), (6, "Refrigerant")]
    assert wo1.source == str(path)


def test_csv_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"{REQUIRED},notes\n"
                    'WO-1,Acme,1 Main St,yes,"two\nlines"\n'
                    "\n"
                    "WO-2,Beta,2 Main St,yes,\n", encoding="utf-8")
    first, second = raw(path)
    assert (first.line, second.line) == (2, 5)
    assert first.rows[0][1]["notes"] == "two\nlines"


def test_csv_short_row_gets_blank_cells_and_long_row_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"{REQUIRED},notes\nWO-1,Acme,1 Main St\nWO-2,B,L,yes,n,extra\n",
                    encoding="utf-8")
    short, long = records(path)
    assert isinstance(short, RawRecord)
    assert short.rows[0][1]["confirmed"] == "" and short.rows[0][1]["notes"] == ""
    assert isinstance(long, Problem)
    assert (long.source, long.line) == (str(path), 3) and "6 cells" in long.reason


def test_csv_ticket_with_a_row_too_long_to_read_is_rejected_whole(tmp_path: Path) -> None:
    """Invoicing its other rows would leave a line item off and bill too little."""
    path = tmp_path / "in.csv"
    path.write_text(f"{REQUIRED},item_description,item_unit_price\n"
                    "P-1,A,L,yes,first,200\nP-2,B,L,yes,other,5\nP-1,A,L,yes,second,200,oops\n"
                    "P-1,A,L,yes,third,200\n", encoding="utf-8")
    problem, other = records(path)
    assert isinstance(other, RawRecord) and other.rows[0][1]["service_ticket"] == "P-2"
    assert isinstance(problem, Problem)
    assert (problem.line, problem.service_ticket, problem.reason) == (
        4, "P-1", "row has 7 cells, the header has 6; none of the ticket's rows is invoiced")


def test_csv_cell_beyond_the_csv_module_limit_is_one_record_problem(tmp_path: Path) -> None:
    """csv refuses cells over 128 KiB by default: the whole file would be unreadable."""
    path = tmp_path / "in.csv"
    path.write_text(f"{REQUIRED},notes\nB1,A,L,yes,{'x' * 200_000}\nB2,B,L,yes,ok\n",
                    encoding="utf-8")
    first, second = records(path)
    assert isinstance(first, RawRecord) and len(first.rows[0][1]["notes"]) == 200_000
    assert isinstance(second, RawRecord)


def test_csv_header_only_is_no_records(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(REQUIRED + "\n", encoding="utf-8")
    assert records(path) == []


# --- CSV larger than the in-memory budget: rows grouped in a temporary SQLite file -------


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CSV file but the smallest is "large": its rows go to the temporary index."""
    monkeypatch.setattr(csv_rows, "IN_MEMORY_BYTES", 2_000)


def temporary_files() -> list[str]:
    """SQLite's temporary files this process holds; SQLite deletes each as it creates it."""
    held = []
    for descriptor in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used
            held.append(os.readlink(f"/proc/self/fd/{descriptor}"))
    return [name for name in held if "etilqs_" in name]


def many_rows(count: int) -> list[dict[str, object]]:
    """``count`` rows; WO-1 has rows at the start, in the middle and at the very end."""
    rows = [order(f"T-{index}", item_description=f"item {index}") for index in range(count)]
    rows[0] = order("WO-1", item_description="first")
    rows[count // 2] = order("WO-1", item_description="middle")
    rows.append(order("WO-1", item_description="last"))
    return rows


def test_large_csv_gathers_a_ticket_from_far_apart_rows(tmp_path: Path, large: None) -> None:
    path = write_csv(tmp_path / "in.csv", many_rows(500))
    items = raw(path)
    assert [item.line for item in items] == [2, *range(3, 252), *range(253, 502)]
    wo1 = items[0]
    assert [(line, row["item_description"]) for line, row in wo1.rows] == \
        [(2, "first"), (252, "middle"), (502, "last")]
    assert [(line, row["item_description"]) for line, row in items[1].rows] == [(3, "item 1")]


def test_large_csv_gives_the_records_of_the_in_memory_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind of row: blank lines, a two-line cell, short, long and ticketless rows."""
    rows: list[str] = []
    for index in range(300):
        ticket = f"T-{index % 70}"
        rows += [f"{ticket},A,L,yes,item {index}", "",
                 f'{ticket},A,L,yes,"two\nlines {index}"', f"{ticket},A",
                 f",A,L,yes,no ticket {index}"]
        if index % 50 == 7:
            rows += [f"{ticket},A,L,yes,too,long", ",A,L,yes,too,long"]
    path = tmp_path / "in.csv"
    path.write_text(f"{REQUIRED},notes\r\n" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    in_memory = records(path)
    monkeypatch.setattr(csv_rows, "IN_MEMORY_BYTES", 500)
    assert records(path) == in_memory
    problems = [item for item in in_memory if isinstance(item, Problem)]
    assert len(problems) == 12 and problems[0].service_ticket == "T-7"


def test_large_csv_with_bom_and_crlf(tmp_path: Path, large: None) -> None:
    lines = [f"WO-{index},Acme,{index} Main St,yes" for index in range(200)]
    path = tmp_path / "in.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (f"{REQUIRED}\r\n" + "\r\n".join(lines) + "\r\n").encode())
    items = raw(path)
    assert [item.line for item in items] == list(range(2, 202))
    assert items[-1].rows[0][1] == {"service_ticket": "WO-199", "customer": "Acme",
                                    "location": "199 Main St", "confirmed": "yes"}


def test_temporary_index_is_removed_after_reading_and_after_an_error(
        tmp_path: Path, large: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Removed from its folder at once; its space freed when reading ends in any way."""
    monkeypatch.setattr(csv_rows, "INDEX_CACHE_KIB", 64)  # beyond it, SQLite writes the file
    path = write_csv(tmp_path / "in.csv", many_rows(2_000))
    assert temporary_files() == []
    items = read_file(path)
    next(items)
    (index,) = temporary_files()  # the rows are on disk while records come
    assert index.endswith(" (deleted)")
    list(items)
    assert temporary_files() == []
    abandoned = read_file(path)
    next(abandoned)
    abandoned.close()
    assert temporary_files() == []
    with path.open("a", encoding="utf-8") as handle:
        handle.write('WO-9,"Be"ta,L,yes\n')  # malformed, after the rows went to disk
    error = input_error(path)
    assert "malformed CSV" in error.message and error.line == 2_003
    assert temporary_files() == []


def test_temporary_index_that_cannot_be_written_is_an_output_error(
        tmp_path: Path, large: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite3, "connect", full)
    path = write_csv(tmp_path / "in.csv", many_rows(100))
    with pytest.raises(OutputError) as caught:
        records(path)
    assert str(caught.value).startswith(f"{path}: cannot write the temporary index")
    assert str(caught.value).endswith(": database or disk is full")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_not_utf8_far_into_a_file_names_its_line(tmp_path: Path, large: None, bom: bytes,
                                                 suffix: str) -> None:
    """Far beyond the first chunk of text the decoder reads; a BOM shifts nothing."""
    if suffix == ".csv":
        lines = [REQUIRED] + [f"WO-{index},Acme,{index} Main St,yes" for index in range(9999)]
    else:
        lines = [json.dumps(json_order(f"WO-{index}")) for index in range(10_000)]
    lines[7_000] = lines[7_000].replace("Main", "Société Générale")
    path = tmp_path / f"in{suffix}"
    path.write_bytes(bom + "\n".join(lines[:7_000]).encode() + b"\n"
                     + "\n".join(lines[7_000:]).encode("latin-1"))
    error = input_error(path)
    assert error.line == 7_001 and "(byte 0xe9)" in error.message


def test_not_utf8_comes_before_a_csv_error_earlier_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(f"{REQUIRED}\nWO-1,A,L,yes\nWO-2,\"B\"x,L,yes\n".encode()
                     + "WO-3,Société,L,yes\n".encode("latin-1"))
    error = input_error(path)
    assert error.line == 4 and "not UTF-8" in error.message


@pytest.mark.parametrize("budget", [csv_rows.IN_MEMORY_BYTES, 0])
def test_csv_field_size_limit_is_unchanged_after_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
        budget: int) -> None:
    """The oversized cell is read, yet csv's limit stays what the caller had set."""
    monkeypatch.setattr(csv_rows, "IN_MEMORY_BYTES", budget)
    before = 100_000  # below the 200 KB cell
    previous = csv.field_size_limit(before)
    request.addfinalizer(lambda: csv.field_size_limit(previous))
    path = tmp_path / "in.csv"
    path.write_text(f"{REQUIRED},notes\nB1,A,L,yes,{'x' * 200_000}\nB2,B,L,yes,ok\n",
                    encoding="utf-8")
    items = read_file(path)
    first = next(items)
    assert csv.field_size_limit() == before  # not even while records are yielded
    assert isinstance(first, RawRecord) and len(first.rows[0][1]["notes"]) == 200_000
    list(items)
    path.write_text(f"{REQUIRED}\nB1,\"A\"b,L,yes\n", encoding="utf-8")
    input_error(path)
    assert csv.field_size_limit() == before


def test_json_files_read_in_turns_keep_their_own_decoder_state(tmp_path: Path) -> None:
    """A field given twice in one file's record says nothing about another file's."""
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"service_ticket": "A", "notes": "x", "Notes": "y"}\n'
                     '{"service_ticket": "B"}\n', encoding="utf-8")
    once = tmp_path / "once.jsonl"
    once.write_text('{"service_ticket": "C"}\n{"service_ticket": "D"}\n', encoding="utf-8")
    first, second = read_file(twice), read_file(once)
    assert isinstance(next(first), Problem)
    assert isinstance(next(second), RawRecord)
    assert isinstance(next(first), RawRecord) and isinstance(next(second), RawRecord)


# --- JSON --------------------------------------------------------------------------------


def test_json_list_form(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps([json_order("WO-1"), json_order("WO-2")]), encoding="utf-8")
    first, second = raw(path)
    assert first.rows[0][1]["service_ticket"] == "WO-1"
    assert second.rows[0][1]["confirmed"] is True


@pytest.mark.parametrize("key", ["work_orders", "Work_Orders", "WORK_ORDERS", " work_orders "])
def test_json_object_form_key_in_any_case(tmp_path: Path, key: str) -> None:
    path = tmp_path / "in.json"
    document = {"exported_at": "2026-11-28", "meta": {"work_orders": "not this"},
                key: [json_order("WO-1")], "count": 1}
    path.write_text(json.dumps(document), encoding="utf-8")
    (record,) = raw(path)
    assert record.rows[0][1]["service_ticket"] == "WO-1"


def test_json_field_names_ignore_case_and_spaces(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{" Service_Ticket": "WO-1", "CUSTOMER ": "Acme",
                                 "Location": "L", "confirmed": "yes"}]), encoding="utf-8")
    (record,) = raw(path)
    assert set(record.rows[0][1]) == {"service_ticket", "customer", "location", "confirmed"}


def test_json_numbers_are_decimals(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text('[{"service_ticket": "WO-1", "tax_rate": 8.25, '
                    '"line_items": [{"unit_price": 0.1}]}]', encoding="utf-8")
    (record,) = raw(path)
    row = record.rows[0][1]
    assert repr(row["tax_rate"]) == "Decimal('8.25')"
    assert repr(row["line_items"][0]["unit_price"]) == "Decimal('0.1')"


def test_a_jsonl_line_that_is_no_object_says_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('[1, 2.5]\n"WO-1"\n7\nnull\ntrue\n', encoding="utf-8")
    assert [(item.line, item.reason) for item in records(path)  # type: ignore[union-attr]
            ] == [(line, f"a work order must be an object {{...}}, not {kind}") for line, kind
                  in enumerate(["a list", "a string", "a number", "null", "true"], start=1)]


def test_json_records_report_the_line_where_each_object_starts(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    text = json.dumps({"work_orders": [json_order("WO-1", notes="a\nb"), json_order("WO-2"),
                                       "not an object", json_order("WO-4")]}, indent=2)
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    starts = [number for number, line in enumerate(lines, start=1) if line == "    {"]
    not_object = next(n for n, line in enumerate(lines, start=1) if "not an object" in line)
    items = records(path)
    assert [item.line for item in items] == [starts[0], starts[1], not_object, starts[2]]
    assert isinstance(items[2], Problem) and "must be an object" in items[2].reason
    assert items[2].source == str(path)
    # Compact JSON: several objects on one line share it.
    path.write_text('[\n{"service_ticket": "A"}, {"service_ticket": "B"},\n'
                    '\n  {"service_ticket": "C"}]', encoding="utf-8")
    assert [item.line for item in records(path)] == [2, 2, 4]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_integers_beyond_int_limits_are_read_not_crashing(tmp_path: Path,
                                                               suffix: str) -> None:
    path = tmp_path / f"in{suffix}"
    digits = "9" * 5000  # int() refuses more than 4,300 digits
    text = f'{{"service_ticket": {digits}, "quantity": 3}}'
    path.write_text(f"[{text}]" if suffix == ".json" else text, encoding="utf-8")
    (record,) = raw(path)
    row = record.rows[0][1]
    assert str(row["service_ticket"]) == digits and str(row["quantity"]) == "3"


# --- JSON Lines --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".JSONL"])
def test_json_lines_broken_line_is_a_rejected_record(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"in{suffix}"
    path.write_text("\n".join([json.dumps(json_order("WO-1")), "",
                               '{"service_ticket": "WO-2", "customer": ',
                               "[1, 2]",
                               json.dumps(json_order("WO-5"))]) + "\n", encoding="utf-8")
    first, broken, not_object, last = records(path)
    assert isinstance(first, RawRecord) and first.line == 1
    assert isinstance(broken, Problem)
    assert (broken.source, broken.line, broken.service_ticket) == (str(path), 3, None)
    assert broken.reason.startswith("broken JSON")
    assert isinstance(not_object, Problem) and not_object.line == 4
    assert isinstance(last, RawRecord) and last.line == 5
    assert last.rows[0][1]["service_ticket"] == "WO-5"


def test_json_lines_with_bom_crlf_and_line_separators_in_strings(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    # U+2028, U+2029 and U+0085 are legal raw inside JSON strings: not line ends.
    first = json.dumps(json_order("WO-1", notes="a\u2028b\u2029c\x85d"), ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + f"{first}\r\n{json.dumps(json_order('WO-2'))}\r\n"
                     .encode())
    one, two = raw(path)
    assert (one.line, two.line) == (1, 2)
    assert one.rows[0][1]["notes"] == "a\u2028b\u2029c\x85d"


@pytest.mark.parametrize(("suffix", "text", "ticket", "field"), [
    (".json", '[{"service_ticket": "S-1", "customer": "A\\ud800B"}]', "S-1", "customer"),
    (".json", '[{"service_ticket": "S-\\udc00"}]', None, "service_ticket"),
    (".jsonl", '{"service_ticket": "S-1", "line_items": [{"description": "\\ud83d"}]}',
     "S-1", "line_items"),
])
def test_json_string_with_half_a_character_rejects_the_record(
        tmp_path: Path, suffix: str, text: str, ticket: str | None, field: str) -> None:
    """A lone surrogate escape decodes to a str no file or terminal can take."""
    path = tmp_path / f"in{suffix}"
    path.write_text(text, encoding="utf-8")
    [problem] = records(path)
    assert isinstance(problem, Problem) and problem.service_ticket == ticket
    assert problem.reason == f"{field}: holds half a character (an unpaired " \
        "\\ud800-\\udfff escape)"
    str(problem).encode("utf-8")  # unlike the value, the message can be printed


def test_empty_json_lines_file_is_no_records(tmp_path: Path) -> None:
    """Unlike CSV (a header) and JSON (``[]``), JSON Lines has no other way to say so."""
    path = tmp_path / "in.jsonl"
    path.write_text("", encoding="utf-8")
    assert records(path) == []


@pytest.mark.parametrize(("suffix", "text", "line"), [
    (".json", '[{"service_ticket": "A", "Confirmed": "no", "confirmed": "yes"}]', 1),
    (".json", '{"work_orders": [\n{"service_ticket": "A", "notes": "x", "notes": "y"}]}', 2),
    (".jsonl", '{"service_ticket": "B"}\n{"service_ticket": "A", " confirmed ": "no", '
     '"confirmed": "yes"}', 2),
])
def test_json_field_given_twice_rejects_the_record(tmp_path: Path, suffix: str, text: str,
                                                   line: int) -> None:
    """json.loads keeps the last silently; the clerk must say which one is meant."""
    path = tmp_path / f"in{suffix}"
    path.write_text(text, encoding="utf-8")
    problem = records(path)[-1]
    assert isinstance(problem, Problem)
    assert (problem.line, problem.service_ticket) == (line, "A")
    field = "notes" if "notes" in text else "confirmed"
    assert problem.reason == f"{field}: given twice in one object (names ignore letter " \
        "case and spaces); which one is meant?"


# --- file-level errors -------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["service_ticket", "customer", "location", "confirmed"])
def test_missing_required_column(tmp_path: Path, missing: str) -> None:
    header = [name for name in REQUIRED.split(",") if name != missing]
    path = tmp_path / "in.csv"
    path.write_text(",".join(header) + "\n" + ",".join("x" for _ in header) + "\n",
                    encoding="utf-8")
    error = input_error(path)
    assert error.line == 1 and missing in error.message
    assert str(error).startswith(f"{path}:1: ")


def test_column_twice_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"{REQUIRED}, Customer\nA,b,c,yes,d\n", encoding="utf-8")
    error = input_error(path)
    assert error.line == 1 and "customer" in error.message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(f"{REQUIRED}\nWO-1,Acme,1 Main St,yes\n".encode()
                     + "WO-2,Société Générale,Paris,yes\n".encode("latin-1"))
    error = input_error(path)
    assert error.line == 3 and "UTF-8" in error.message and "0xe9" in error.message


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_not_utf8_json(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"in{suffix}"
    path.write_bytes(b'[{"customer": "Caf\xe9"}]\n')
    error = input_error(path)
    assert error.line == 1 and "UTF-8" in error.message


@pytest.mark.parametrize(("text", "line"), [
    ('[\n{"service_ticket": "A"},\n{"service_ticket": "B"\n]', 4),
    ('[\n{"service_ticket": "A"},\n]', 3),                          # trailing comma
    ('{"work_orders": [\n{"service_ticket": "A"}\n]\n', 4),         # no closing brace
    ('[{"service_ticket": "A"}]\n]', 2),                              # extra data
    ("{'work_orders': []}", 1),
    ("[" * 100_000 + "]" * 100_000, 1),
    ('{"work_orders": [],\n "x": ' + "[" * 100_000 + "]" * 100_000 + "}", 1),
])
def test_broken_json(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "in.json"
    path.write_text(text, encoding="utf-8")
    error = input_error(path)
    assert error.message.startswith("broken JSON") and error.line == line


@pytest.mark.parametrize("text", ['{"orders": []}', '"text"', '{"work_orders": {}}', "42"])
def test_json_of_the_wrong_shape(tmp_path: Path, text: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(text, encoding="utf-8")
    error = input_error(path)
    assert "work_orders" in error.message and error.line == 1


@pytest.mark.parametrize("name", ["in.xlsx", "in.txt", "in", "in.csv.bak"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(f"{REQUIRED}\n", encoding="utf-8")
    error = input_error(path)
    assert "unsupported file type" in error.message and ".csv" in error.message


def test_missing_file(tmp_path: Path) -> None:
    error = input_error(tmp_path / "nope.csv")
    assert str(error) == f"{tmp_path / 'nope.csv'}: no such file"


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    assert "folder" in input_error(tmp_path / "dir.csv").message


@pytest.mark.parametrize(("name", "content"), [
    ("in.csv", b""), ("in.csv", b"\xef\xbb\xbf"), ("in.csv", b"\r\n \n"),
    ("in.json", b""), ("in.json", b"\xef\xbb\xbf  \n"),
])
def test_empty_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    error = input_error(path)
    assert "empty file" in error.message and error.line is not None and error.line >= 1


def test_malformed_csv_quote(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f'{REQUIRED}\nWO-1,Acme,1 Main St,yes\nWO-2,"Be"ta,L,yes\n',
                    encoding="utf-8")
    error = input_error(path)
    assert error.line == 3 and "malformed CSV" in error.message
