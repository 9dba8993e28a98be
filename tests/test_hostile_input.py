"""Hostile and odd inputs (issue 20): one canonical ticket from the first byte read, a
ticket that cannot be billed whole rejected whole, tickets that print alike, JSON that is
nested too deeply or not Unicode, inputs that are no files, an encoding that does not fit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.read import csv_rows

from .conftest import ENV, ROOT, order, pdf_text, write_csv, write_json

HEADER = "service_ticket,customer,location,confirmed,item_description,item_quantity," \
    "item_unit_price\n"
TWICE = "a ticket may appear in one record only"


def _cli(runner: CliRunner, *args: str) -> tuple[int, str, list[str]]:
    result = runner.invoke(main, [*args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr.splitlines()


def _manifest(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "manifest.csv").read_text("utf-8"))))


def _json_order(ticket: str, **fields: object) -> dict[str, object]:
    return {"service_ticket": ticket, "customer": "C", "location": "L", "confirmed": "yes",
            "line_items": [{"description": "Visit", "quantity": 1, "unit_price": 10}],
            **fields}


# --- item 1: one canonical ticket, billed whole or not at all -----------------------------


@pytest.mark.parametrize("budget", [csv_rows.IN_MEMORY_BYTES, 0])
def test_composed_and_decomposed_accents_are_one_ticket(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        budget: int) -> None:
    # Budget 0: the rows are grouped by the temporary SQLite index of a large file.
    monkeypatch.setattr(csv_rows, "IN_MEMORY_BYTES", budget)
    (tmp_path / "in.csv").write_text(HEADER + "Caf\u00e9-1,A,B,yes,Labor,1,100\n"
                                     "Cafe\u0301-1,A,B,yes,Parts,1,900\n", encoding="utf-8")
    status, _, stderr = _cli(runner, "run", "in.csv", "--workers", "1")
    assert (status, stderr) == (0, [])
    (row,) = _manifest(tmp_path / "output")
    assert (row["service_ticket"], row["invoice_number"], row["total"]) == \
        ("Caf\u00e9-1", "INV-Caf\u00e9-1", "1000.00")
    text = pdf_text(tmp_path / "output" / row["pdf"])
    assert "Labor" in text and "Parts" in text and "$1,000.00" in text


def test_a_ticket_in_two_files_is_rejected_whole(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [order("T1", item_unit_price="100.00"), order("T2")])
    write_json(tmp_path / "b.json", [_json_order("T1")])
    status, stdout, stderr = _cli(runner, "run", "a.csv", "b.json", "--workers", "1")
    assert status == 1
    assert stderr == [f"a.csv:2: ticket T1: service_ticket: also on b.json:2; {TWICE}",
                      f"b.json:2: ticket T1: service_ticket: also on a.csv:2; {TWICE}"]
    assert [row["service_ticket"] for row in _manifest(tmp_path / "output")] == ["T2"]
    assert not (tmp_path / "output" / "invoices" / "INV-T1.pdf").exists()
    report = json.loads((tmp_path / "output" / "report.json").read_text("utf-8"))
    assert [(r["source"], r["line"]) for r in report["rejected"]] == [("a.csv", 2),
                                                                      ("b.json", 2)]
    assert report["rendered"] == ["T2"]
    status, stdout, _ = _cli(runner, "validate", "a.csv", "b.json")
    assert (status, stdout) == (1, "checked 3 work orders: 1 confirmed, 0 unconfirmed, "
                                   "2 rejected, 0 warnings\n")


def test_regenerate_of_a_ticket_in_two_records_writes_nothing(runner: CliRunner,
                                                               tmp_path: Path) -> None:
    write_json(tmp_path / "b.json", [_json_order("T1")])
    write_csv(tmp_path / "a.csv", [order("T1")])
    status, _, stderr = _cli(runner, "regenerate", "T1", "--input", "a.csv", "--input",
                             "b.json")
    assert (status, stderr) == (1, [
        f"a.csv:2: ticket T1: service_ticket: also on b.json:2; {TWICE}",
        f"b.json:2: ticket T1: service_ticket: also on a.csv:2; {TWICE}",
        "Error: ticket T1: was rejected; run `xoi-invoices validate` to see why"])
    assert not (tmp_path / "output").exists()


def test_two_json_records_of_a_ticket_far_apart_are_both_rejected(
        runner: CliRunner, tmp_path: Path) -> None:
    # Chunks apart: the first record was planned long before its ticket came again.
    records = [_json_order(f"F-{n}") for n in range(600)]
    records[3], records[590] = _json_order("DUP"), _json_order("DUP", confirmed="no")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records),
                                       encoding="utf-8")
    status, stdout, stderr = _cli(runner, "validate", "in.jsonl")
    assert status == 1
    assert stdout == "checked 600 work orders: 598 confirmed, 0 unconfirmed, 2 rejected, " \
        "0 warnings\n"
    assert stderr == [f"in.jsonl:4: ticket DUP: service_ticket: also on in.jsonl:591; {TWICE}",
                      f"in.jsonl:591: ticket DUP: service_ticket: also on in.jsonl:4; {TWICE}"]


def test_a_rejected_duplicate_does_not_withdraw_the_issued_invoice(
        runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "first.csv", [order("T1")])
    assert _cli(runner, "run", "first.csv", "--workers", "1")[0] == 0
    write_csv(tmp_path / "a.csv", [order("T1", confirmed="no")])
    write_csv(tmp_path / "b.csv", [order("T1")])
    status, _, stderr = _cli(runner, "run", "a.csv", "b.csv", "--workers", "1")
    assert status == 1 and len(stderr) == 2
    report = json.loads((tmp_path / "output" / "report.json").read_text("utf-8"))
    assert (report["withdrawn"], report["unconfirmed"], report["unchanged"]) == ([], [], [])
    assert [row["service_ticket"] for row in _manifest(tmp_path / "output")] == ["T1"]
    assert (tmp_path / "output" / "invoices" / "INV-T1.pdf").is_file()


def test_a_ticket_found_again_after_a_rejected_record_is_rejected(
        runner: CliRunner, tmp_path: Path) -> None:
    # The rejected record may be the part the other one lacks.
    write_json(tmp_path / "in.json", [_json_order("T1", invoice_date="soon"),
                                      _json_order("T1")])
    status, _, stderr = _cli(runner, "validate", "in.json")
    assert status == 1
    assert stderr[1] == f"in.json:16: ticket T1: service_ticket: also on in.json:2; {TWICE}"


# --- item 3: a duplicated top-level key ----------------------------------------------------


def test_one_json_ticket_number_written_three_ways_is_one_ticket(
        runner: CliRunner, tmp_path: Path) -> None:
    orders = [json.dumps(_json_order("T"))[:-1].replace('"T"', number) + "}"
              for number in ("100", "1e2", "100.0")]
    (tmp_path / "in.json").write_text("[\n" + ",\n".join(orders) + "\n]", encoding="utf-8")
    status, _, stderr = _cli(runner, "run", "in.json")
    assert status == 1
    assert [line.split(": ", 2)[:2] for line in stderr[:3]] == [
        [f"in.json:{n}", "ticket 100"] for n in (2, 3, 4)]
    assert all(TWICE in line for line in stderr[:3])
    assert not list((tmp_path / "output" / "invoices").glob("*.pdf"))


@pytest.mark.parametrize("number", ["100.5", "-3", "1e400", "1e999999999"])
def test_a_json_ticket_that_is_no_whole_number_is_refused(
        runner: CliRunner, tmp_path: Path, number: str) -> None:
    order_ = json.dumps(_json_order("T"))[:-1].replace('"T"', number) + "}"
    (tmp_path / "in.json").write_text(f"[{order_}]", encoding="utf-8")
    status, _, stderr = _cli(runner, "validate", "in.json")
    assert status == 1
    assert "service_ticket: " in stderr[0]
    assert stderr[0].endswith("is not a whole number of up to 64 digits: give it as text")


@pytest.mark.parametrize("second", ["Work_Orders", " work_orders ", "WORK_ORDERS"])
def test_a_duplicated_top_level_key_is_refused(runner: CliRunner, tmp_path: Path,
                                               second: str) -> None:
    (tmp_path / "in.json").write_text(
        '{"work_orders": [\n' + json.dumps(_json_order("A1")) + "],\n"
        f'"{second}": [' + json.dumps(_json_order("A2")) + "]}\n", encoding="utf-8")
    for command in ("validate", "run"):
        status, _, stderr = _cli(runner, command, "in.json")
        assert (status, stderr) == (2, [
            "Error: in.json:3: work_orders: given twice in one object (names ignore letter "
            "case and spaces); which one is meant?"])
    assert not (tmp_path / "output" / "invoices").exists()


def test_a_duplicated_key_on_a_mapping_records_path_is_refused(
        runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "map.toml").write_text('[json]\nrecords = "data.jobs"\n', encoding="utf-8")
    (tmp_path / "in.json").write_text(
        '{"data": {"jobs": [' + json.dumps(_json_order("A1")) + '],\n"Jobs": []}}',
        encoding="utf-8")
    status, _, stderr = _cli(runner, "validate", "in.json", "--mapping", "map.toml")
    assert (status, stderr) == (2, [
        "Error: in.json:2: jobs: given twice in one object (names ignore letter case and "
        "spaces); which one is meant?"])


# --- item 4: tickets that print alike --------------------------------------------------------


@pytest.mark.parametrize(("char", "name"), [
    ("\u200b", "U+200B ZERO WIDTH SPACE"), ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("\u200e", "U+200E LEFT-TO-RIGHT MARK"), ("\u2028", "U+2028 LINE SEPARATOR"),
    ("\u2029", "U+2029 PARAGRAPH SEPARATOR"), ("\u00ad", "U+00AD SOFT HYPHEN"),
    ("\u2060", "U+2060 WORD JOINER"), ("\t", "U+0009 without a name"),
    ("\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
])
@pytest.mark.parametrize("field", ["service_ticket", "invoice_number"])
def test_invisible_or_line_breaking_characters_are_refused(
        runner: CliRunner, tmp_path: Path, char: str, name: str, field: str) -> None:
    fields = {field: f"J{char}1"} if field == "invoice_number" else {}
    write_json(tmp_path / "in.json", [_json_order("J1" if fields else f"J{char}1", **fields)])
    status, _, stderr = _cli(runner, "validate", "in.json")
    ticket = "ticket J1: " if fields else ""
    assert (status, stderr) == (1, [f"in.json:2: {ticket}{field}: holds {name}, which prints "
                                    "as nothing or breaks a line"])


def test_a_ticket_with_an_invisible_character_rejects_its_twin(
        runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text(HEADER + "J1,A,B,yes,x,1,1\nJ1\u200b,A,B,yes,x,1,1\n",
                                     encoding="utf-8")
    status, _, stderr = _cli(runner, "validate", "in.csv")
    assert (status, stderr) == (1, [
        f"in.csv:2: ticket J1: service_ticket: 'J1' prints like 'J1\\u200b' on in.csv:3; "
        f"{TWICE}",
        "in.csv:3: service_ticket: holds U+200B ZERO WIDTH SPACE, which prints as nothing or "
        "breaks a line"])


@pytest.mark.parametrize("twin", ["\uff2a\uff11", "j1", "J\u00b9"])
def test_tickets_that_print_alike_are_both_rejected(runner: CliRunner, tmp_path: Path,
                                                    twin: str) -> None:
    (tmp_path / "in.csv").write_text(HEADER + f"J1,A,B,yes,x,1,1\n{twin},A,B,yes,x,1,1\n"
                                     "K2,A,B,yes,x,1,1\n", encoding="utf-8")
    status, _, stderr = _cli(runner, "run", "in.csv", "--workers", "1")
    assert (status, stderr) == (1, [
        f"in.csv:2: ticket J1: service_ticket: 'J1' prints like {twin!r} on in.csv:3; {TWICE}",
        f"in.csv:3: ticket {twin}: service_ticket: {twin!r} prints like 'J1' on in.csv:2; "
        f"{TWICE}"])
    assert [row["service_ticket"] for row in _manifest(tmp_path / "output")] == ["K2"]


def test_a_ticket_printing_like_one_in_the_ledger_is_rejected(
        runner: CliRunner, tmp_path: Path) -> None:
    # The ledger knows the invoice file names: INV- and a full-width J1 prints as INV-J1.
    (tmp_path / "first.csv").write_text(HEADER + "J1,A,B,yes,x,1,1\n", encoding="utf-8")
    assert _cli(runner, "run", "first.csv", "--workers", "1")[0] == 0
    (tmp_path / "next.csv").write_text(HEADER + "\uff2a\uff11,A,B,yes,x,1,1\n",
                                       encoding="utf-8")
    status, _, stderr = _cli(runner, "run", "next.csv", "--workers", "1")
    assert (status, stderr) == (1, [
        "next.csv:2: ticket \uff2a\uff11: invoice_number: 'INV-\uff2a\uff11' prints like "
        "'INV-J1', the invoice number of ticket J1"])


# --- item 16: the line that disagrees --------------------------------------------------------


def test_a_disagreeing_row_is_named_among_other_problems(runner: CliRunner,
                                                         tmp_path: Path) -> None:
    (tmp_path / "dis2.csv").write_text(
        HEADER + "T1,Highland Lofts HOA,L,maybe,a,1,1\nT1,Highland Lofts HOA,L,,b,1,1\n"
        "T1,Highland Lofts,L,,c,1,1\n", encoding="utf-8")
    status, _, stderr = _cli(runner, "validate", "dis2.csv")
    assert (status, stderr) == (1, [
        "dis2.csv:2: ticket T1: customer: 'Highland Lofts' on line 4 disagrees with "
        "'Highland Lofts HOA' on line 2 of the same ticket; confirmed: \"maybe\" is not "
        "yes/no, y/n, true/false or 1/0"])


# --- item 8: what reading stops at its boundary ------------------------------------------------


def _deep(depth: int) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [65, 600, 900])
@pytest.mark.parametrize("command", ["validate", "run", "launch"])
def test_a_deeply_nested_record_is_rejected(runner: CliRunner, tmp_path: Path,
                                            depth: int, command: str) -> None:
    text = json.dumps([_json_order("D1", notes=_deep(depth)), _json_order("D2")])
    (tmp_path / "in.json").write_text(text, encoding="utf-8")
    (tmp_path / "in.jsonl").write_text(text[1:-1].replace("]]}, {", "]]}\n{", 1),
                                       encoding="utf-8")
    for name in ("in.json", "in.jsonl"):
        status, _, stderr = _cli(runner, command, name, "--workers", "1") \
            if command == "run" else _cli(runner, command, name)
        assert (status, stderr) == (1, [f"{name}:1: ticket D1: notes: nested more than 64 "
                                        "levels deep"])


def test_nesting_within_the_limit_is_read(runner: CliRunner, tmp_path: Path) -> None:
    write_json(tmp_path / "in.json", [_json_order("D1", notes=_deep(64))])
    status, _, stderr = _cli(runner, "validate", "in.json")
    assert (status, stderr) == (1, ['in.json:2: ticket D1: notes: expected text, got '
                                    '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['])


@pytest.mark.parametrize(("record", "shown"), [
    ('"x\\udc00": 1', "x\\udc00"), ('"notes": ["a", {"b": "\\ud800"}]', "notes"),
    ('"service_ticket": "S\\udfff"', "service_ticket"),
])
def test_a_lone_surrogate_is_a_problem_of_its_record(runner: CliRunner, tmp_path: Path,
                                                     record: str, shown: str) -> None:
    ticket = '"service_ticket": "S1", ' if "service_ticket" not in record else ""
    (tmp_path / "in.json").write_text(
        '[{' + ticket + '"customer": "C", "location": "L", "confirmed": "yes", ' + record
        + "}]", encoding="utf-8")
    status, _, stderr = _cli(runner, "run", "in.json", "--workers", "1")
    where = "in.json:1: ticket S1: " if ticket else "in.json:1: "
    assert (status, stderr) == (1, [f"{where}{shown}: holds half a character (an unpaired "
                                    "\\ud800-\\udfff escape)"])
    report = json.loads((tmp_path / "output" / "report.json").read_text("utf-8"))
    assert report["rejected"][0]["reason"].startswith(f"{shown}: holds half a character")


@pytest.mark.parametrize("kind", ["fifo", "zero", "symlink to fifo"])
@pytest.mark.parametrize("command", ["validate", "run", "launch", "mapping draft"])
def test_an_input_that_is_no_regular_file_is_refused_at_once(
        tmp_path: Path, kind: str, command: str) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # no writer: opening it for reading the usual way waits forever
    target = {"fifo": fifo, "zero": Path("/dev/zero"), "symlink to fifo": fifo}[kind]
    given = tmp_path / "in.csv"
    given.symlink_to(target)
    if kind == "fifo":
        given = fifo
    done = subprocess.run([sys.executable, "-m", "pipeline", *command.split(), str(given)],
                          cwd=tmp_path, env={**os.environ, **ENV, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60, check=False)
    what = "a device or socket" if kind == "zero" else "a named pipe (FIFO)"
    assert (done.returncode, done.stderr) == (
        2, f"Error: {given}: is {what}, not a file: give the export's file\n")


@pytest.mark.parametrize("text", ["service_ticket,customer,location,confirmed\nA,b,c,yes\n",
                                  "service_ticket,customer,location,confirmed\nAB,b,c,yes\n"])
def test_an_encoding_that_cannot_decode_the_file_is_one_error(
        runner: CliRunner, tmp_path: Path, text: str) -> None:
    (tmp_path / "map.toml").write_text('[format]\nencoding = "utf-16"\n', encoding="utf-8")
    (tmp_path / "in.csv").write_text(text, encoding="utf-8")
    status, _, stderr = _cli(runner, "validate", "in.csv", "--mapping", "map.toml")
    assert (status, stderr) == (2, [
        "Error: in.csv:1: not utf-16 (UTF-16 stream does not start with BOM); is [format] "
        "encoding in the mapping right?"])
