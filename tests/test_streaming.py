"""``validate`` streams: the rules across records hold as when every work order was kept.

The checks across records (a ticket in one record, a share ID and an invoice file name
owned by one ticket) now compare against digests and are fed a few hundred orders at a
time; these tests pin their messages and their order through the CLI and check_all,
across files and across those batches.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline import batch
from pipeline.cli import main
from pipeline.core.compact import Texts, digest
from pipeline.core.config import Settings
from pipeline.core.models import Invoice, Problem
from pipeline.link import claims as links
from pipeline.validate import check

from .conftest import order, write_csv


def _validate(runner: CliRunner, *paths: str) -> tuple[int, str, list[str]]:
    result = runner.invoke(main, ["validate", *paths])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr.splitlines()


def test_duplicate_ticket_across_files_names_the_first_file_and_line(
        runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [order("WO-1"), order("WO-2")])
    write_csv(tmp_path / "b.csv", [order("WO-3"), order("WO-4"), order("WO-2"),
                                   order("WO-1")])
    status, stdout, stderr = _validate(runner, "a.csv", "b.csv")
    assert status == 1
    assert stdout == "checked 6 work orders: 2 confirmed, 0 unconfirmed, 4 rejected, " \
        "0 warnings\n"
    assert stderr == [
        "a.csv:2: ticket WO-1: service_ticket: also on b.csv:5; a ticket may appear in "
        "one record only",
        "a.csv:3: ticket WO-2: service_ticket: also on b.csv:4; a ticket may appear in "
        "one record only",
        "b.csv:4: ticket WO-2: service_ticket: also on a.csv:3; a ticket may appear in "
        "one record only",
        "b.csv:5: ticket WO-1: service_ticket: also on a.csv:2; a ticket may appear in "
        "one record only",
    ]


def test_share_id_taken_by_an_earlier_ticket(runner: CliRunner, tmp_path: Path) -> None:
    shared = "shared-share-id-0123456789"
    write_csv(tmp_path / "a.csv", [order("WO-1", share_id=shared)])
    write_csv(tmp_path / "b.csv", [order("WO-2"), order("WO-3", share_id=shared)])
    status, _, stderr = _validate(runner, "a.csv", "b.csv")
    assert status == 1
    assert stderr == [f"b.csv:3: ticket WO-3: share_id: {shared!r} is already the share ID "
                      "of ticket WO-1"]


def test_invoice_numbers_differing_only_in_case(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1", invoice_number="INV-a"),
                                    order("WO-2", invoice_number="INV-A"),
                                    order("WO-3", invoice_number="INV-a")])
    status, _, stderr = _validate(runner, "in.csv")
    assert status == 1
    assert stderr == [
        "in.csv:3: ticket WO-2: invoice_number: 'INV-A' and 'INV-a', the invoice number of "
        "ticket WO-1, differ only in letter case: one PDF file on many file systems",
        "in.csv:4: ticket WO-3: invoice_number: 'INV-a' is already the invoice number of "
        "ticket WO-1",
    ]


def test_a_rejected_ticket_claims_nothing(runner: CliRunner, tmp_path: Path) -> None:
    # WO-2 loses its share ID to WO-1, so its invoice number stays free for WO-3.
    write_csv(tmp_path / "in.csv", [
        order("WO-1", share_id="first-share-id-0123456789"),
        order("WO-2", share_id="first-share-id-0123456789", invoice_number="INV-7"),
        order("WO-3", invoice_number="INV-7")])
    status, stdout, stderr = _validate(runner, "in.csv")
    assert status == 1
    assert "2 confirmed, 0 unconfirmed, 1 rejected" in stdout
    assert [line.split(": ")[0] for line in stderr] == ["in.csv:3"]


def test_rules_hold_across_batches_and_problems_keep_file_order(
        tmp_path: Path, settings: Settings) -> None:
    # A thousand orders are linked in several batches; the clashes sit in different ones,
    # and a check's problem and a link's problem alternate in the file.
    rows = [order(f"WO-{n}", invoice_number=f"INV-{n}") for n in range(1000)]
    rows[300] = order("WO-300", invoice_number="inv-5")
    rows[600] = order("WO-600", share_id=rows[10]["share_id"])
    rows[450] = order("WO-450", customer=" ")
    rows[900] = order("WO-900", confirmed="")
    rows[950] = order("WO-950", share_id="1234")
    path = write_csv(tmp_path / "a.csv", rows)
    again = write_csv(tmp_path / "b.csv", [order("WO-5")])
    outcome = batch.check_all([path, again], settings)
    assert (outcome.read, outcome.confirmed, outcome.unconfirmed) == (1001, 995, ["WO-900"])
    assert [(p.source, p.line, p.reason.split(":")[0]) for p in outcome.rejected] == [
        (str(path), 7, "service_ticket"),
        (str(path), 302, "invoice_number"), (str(path), 452, "customer"),
        (str(path), 602, "share_id"), (str(again), 2, "service_ticket")]
    assert outcome.rejected[0].reason.startswith(f"service_ticket: also on {again}:2;")
    assert outcome.rejected[4].reason.startswith(f"service_ticket: also on {path}:7;")
    assert [(w.line, w.service_ticket) for w in outcome.warnings] == [(952, "WO-950")]


def test_tickets_on_one_line_of_a_json_document_are_still_duplicates(
        runner: CliRunner, tmp_path: Path) -> None:
    record = {"service_ticket": "WO-1", "customer": "C", "location": "L", "confirmed": "yes"}
    (tmp_path / "in.json").write_text(json.dumps([record, record]), encoding="utf-8")
    status, _, stderr = _validate(runner, "in.json")
    assert status == 1
    assert stderr == ["in.json:1: ticket WO-1: service_ticket: also on in.json:1; a ticket "
                      "may appear in one record only"] * 2


def test_claims_one_order_at_a_time(tmp_path: Path, settings: Settings) -> None:
    taken = order("WO-1")["share_id"]
    path = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", share_id=taken)])
    claims = links.Claims(settings, links.issue_date())
    outcome = batch.check_all([path], settings)
    first, second = (claims.invoice(o) for o in check([path], settings).confirmed)
    assert isinstance(first, Invoice) and first.share_id == taken
    assert isinstance(second, Problem) and second == outcome.rejected[0]


def test_texts_give_back_what_was_added() -> None:
    texts = Texts()
    values = ["WO-1", "", "Ünïcödé 請求書", "\udcff undecodable byte", "WO-1"]
    assert [texts.add(value) for value in values] == list(range(5))
    assert [texts[index] for index in range(5)] == values
    assert len(texts) == 5
    assert digest("WO-1") == digest("WO-1") != digest("wo-1")
    assert digest("a").bit_length() <= 128


def test_on_one_line_the_checks_problem_comes_before_the_links(
        runner: CliRunner, tmp_path: Path) -> None:
    taken = order("WO-1")["share_id"]
    write_csv(tmp_path / "a.csv", [order("WO-1")])
    records = [{"service_ticket": "WO-2", "customer": "C", "location": "L",
                "confirmed": "yes", "share_id": taken},
               {"service_ticket": "WO-3", "customer": " ", "location": "L",
                "confirmed": "yes"}]
    (tmp_path / "b.json").write_text(json.dumps(records), encoding="utf-8")
    status, _, stderr = _validate(runner, "a.csv", "b.json")
    assert status == 1
    assert stderr == ["b.json:1: ticket WO-3: customer: required, but blank or missing",
                      f"b.json:1: ticket WO-2: share_id: {taken!r} is already the share ID "
                      "of ticket WO-1"]
