"""What a billing clerk and the nightly cron trip over (issue 20): share-url, names typed
wrong, what a clerk's command reports, send's exit status, merge's target and the mapping
draft. Real files, a real SMTP server, the command line as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline import batch
from pipeline.cli import main
from pipeline.core.config import Settings

from .conftest import ENV, PARTNER, SECRET, order, report, write_csv
from .smtp_server import USER, SmtpServer
from .test_send import server as smtp_server

server = smtp_server  # the fixture of test_send: a real SMTP server on 127.0.0.1


def cli(runner: CliRunner, *args: str | Path) -> Result:
    """Invoke the CLI; a Python exception escaping it (a traceback for a user) fails."""
    result = runner.invoke(main, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback instead of a message: {result.exception!r}")
    return result


@pytest.fixture(scope="module")
def invoiced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with WO-10420..WO-10423 invoiced (WO-10424 and WO-10425 unconfirmed); the
    export is ``orders.csv`` beside it. WO-10421 has no email, WO-10422 a broken one."""
    folder = tmp_path_factory.mktemp("invoiced")
    rows = [order(f"WO-1042{n}", bill_to_email=f"c{n}@example.com") for n in range(4)]
    rows[1]["bill_to_email"] = ""
    rows[2]["bill_to_email"] = "not-an-address"
    rows += [order("WO-10424", confirmed="no"), order("WO-10425", confirmed="")]
    source = write_csv(folder / "orders.csv", rows)
    settings = Settings(partner_id=PARTNER, share_secret=SECRET, out=folder / "out",
                        workers=1)
    assert sorted(batch.run([source], settings).rendered) == [f"WO-1042{n}" for n in range(4)]
    return folder


@pytest.fixture
def work(invoiced: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``invoiced`` as the working folder, with the partner id and secret set."""
    folder = Path(shutil.copytree(invoiced, tmp_path / "work"))
    monkeypatch.chdir(folder)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return folder


# Item 15: merge makes no folders.

@pytest.mark.parametrize("target", ["missing/all.pdf", "missing/deeper/all.pdf",
                                    "orders.csv/all.pdf"])
def test_merge_refuses_a_target_whose_folder_does_not_exist(work: Path, target: str) -> None:
    result = cli(CliRunner(), "merge", "--out", "out", target)
    assert result.exit_code == 2, result.output
    parent = str(Path(target).parent)
    problem = f"{parent} is not a folder" if parent == "orders.csv" else \
        f"the folder {parent} does not exist"
    assert result.output == (f"Error: {target}: {problem}; name a file in a folder that "
                             "exists (merging makes no folders)\n")
    assert not (work / "missing").exists()


def test_run_merge_refuses_it_before_rendering(work: Path) -> None:
    result = cli(CliRunner(), "run", "orders.csv", "--out", "new", "--merge", "nope/all.pdf")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: nope/all.pdf: the folder nope does not exist")
    assert not (work / "nope").exists() and not (work / "new").exists()


def test_merge_into_a_folder_that_exists_still_works(work: Path) -> None:
    result = cli(CliRunner(), "merge", "--out", "out", "all.pdf")
    assert result.exit_code == 0, result.output
    assert (work / "all.pdf").read_bytes().startswith(b"%PDF")


# Item 14: send's exit status for the nightly cron.

def _smtp_config(work: Path, server: SmtpServer) -> Path:
    path = work / "send.toml"
    path.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\n'
                    f'username = "{USER}"\nfrom = "billing@heating.example"\n',
                    encoding="utf-8")
    return path


def _send(work: Path, server: SmtpServer, *args: str) -> Result:
    return cli(CliRunner(), "send", "--out", "out", "--config", _smtp_config(work, server),
               *args)


def test_no_address_is_counted_and_exit_0_every_night(work: Path, server: SmtpServer) -> None:
    for night in range(2):
        result = _send(work, server, "--only", "WO-10420", "--only", "WO-10421")
        assert result.exit_code == 0, result.output
        assert "skipped: ticket WO-10421: no bill_to_email in the work order" in result.stderr
        assert f"sent {1 - night}, failed 0, skipped 1, already sent {night} in " \
            in result.stdout
        assert result.stdout.rstrip().endswith(" s (1 without an address)")
    assert len(server.received) == 1


def test_an_address_that_is_not_valid_is_exit_1(work: Path, server: SmtpServer) -> None:
    result = _send(work, server)
    assert result.exit_code == 1, result.output
    assert "skipped: ticket WO-10422: bill_to_email is not valid: " in result.stderr
    assert "sent 2, failed 0, skipped 2, already sent 0 in " in result.stdout
    assert "(1 without an address)" in result.stdout


def test_a_refused_recipient_is_exit_1(work: Path, server: SmtpServer) -> None:
    server.handler.refuse["c3@example.com"] = "550 5.1.1 <c3>: no such mailbox"
    result = _send(work, server, "--only", "WO-10421", "--only", "WO-10423")
    assert result.exit_code == 1, result.output
    assert "failed: ticket WO-10423: 550 5.1.1 <c3>: no such mailbox" in result.stderr


def test_a_dry_run_is_exit_0(work: Path, server: SmtpServer) -> None:
    result = _send(work, server, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: would send 2, skip 2, already sent 0; nothing was sent" in result.stdout
    assert server.received == []


def test_the_json_summary_counts_those_without_an_address(work: Path,
                                                          server: SmtpServer) -> None:
    result = _send(work, server, "--only", "WO-10421", "--log-format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stderr.splitlines()[-1])
    assert (summary["event"], summary["skipped"], summary["without_address"]) == \
        ("summary", 1, 1)


def test_run_send_with_only_a_missing_address_is_exit_0(work: Path,
                                                        server: SmtpServer) -> None:
    write_csv(work / "two.csv", [order("WO-1", bill_to_email="a@example.com"),
                                 order("WO-2", bill_to_email="")])
    result = cli(CliRunner(), "run", "two.csv", "--out", "two", "--workers", "1", "--send",
                 "--config", _smtp_config(work, server))
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 0, skipped 1, already sent 0 in " in result.stdout
    assert report(work / "two")["delivery"] == {"sent": 1, "failed": 0, "skipped": 1}


# Item 13: a clerk's command answers about its tickets only.

@pytest.mark.parametrize("command", [["regenerate", "WO-10421", "--input", "orders.csv"],
                                     ["run", "orders.csv", "--only", "WO-10421"]])
def test_a_named_ticket_does_not_list_the_other_unconfirmed(work: Path,
                                                            command: list[str]) -> None:
    result = cli(CliRunner(), *command, "--out", "out", "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert ", unconfirmed 0, rejected 0, failed 0 in " in result.stdout
    done = report(work / "out")
    assert (done["unconfirmed"], done["others_unconfirmed"]) == ([], 2)
    assert done["rendered"] + done["unchanged"] == ["WO-10421"]


def test_a_named_unconfirmed_ticket_is_its_own_answer(work: Path) -> None:
    result = cli(CliRunner(), "run", "orders.csv", "--out", "out", "--workers", "1",
                 "--only", "WO-10424", "--only", "WO-10420", "--quiet")
    assert result.exit_code == 1, result.output
    done = report(work / "out")
    assert (done["unconfirmed"], done["others_unconfirmed"]) == (["WO-10424"], 1)


def test_a_whole_run_still_lists_every_unconfirmed(work: Path) -> None:
    assert cli(CliRunner(), "run", "orders.csv", "--out", "out", "--workers",
               "1").exit_code == 0
    done = report(work / "out")
    assert (done["unconfirmed"], done["others_unconfirmed"]) == (["WO-10424", "WO-10425"], 0)


# Item 11: share-url answers from the folder, and a ticket it has not invoiced is exit 1.

def _published(work: Path, ticket: str) -> str:
    rows = (work / "out/manifest.csv").read_text(encoding="utf-8").splitlines()
    return next(row.split(",")[4] for row in rows if row.startswith(f"{ticket},"))


def test_a_published_link_needs_no_configuration(work: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name)
    result = cli(CliRunner(), "share-url", "WO-10421", "--out", "out")
    assert (result.exit_code, result.output) == (0, f"{_published(work, 'WO-10421')}\n")


@pytest.mark.parametrize(("typed", "closest"), [
    ("wo-10421", "'WO-10421', 'WO-10420', 'WO-10422'"),
    ("WO-1042", "'WO-10420', 'WO-10421', 'WO-10422'"),
    ("WO-10412", "'WO-10420', 'WO-10421', 'WO-10422'"),
    ("W0-10423", "'WO-10423', 'WO-10420', 'WO-10421'"),
])
def test_a_typo_is_exit_1_naming_the_closest_invoiced(work: Path, typed: str,
                                                      closest: str) -> None:
    result = cli(CliRunner(), "share-url", typed, "--out", "out")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"Error: ticket {typed}: has no invoice in out/; closest: "
                             f"{closest} (--out names another folder; --unpublished prints "
                             "the URL a run would give it)\n")


def test_an_unconfirmed_ticket_and_an_empty_folder_are_exit_1(work: Path) -> None:
    for args in (("WO-10424", "--out", "out"), ("WO-10421", "--out", "elsewhere")):
        result = cli(CliRunner(), "share-url", *args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error: ticket {args[0]}: has no invoice in "
                                        f"{args[2]}/")
        assert result.stderr.endswith("(--out names another folder; --unpublished prints the "
                                      "URL a run would give it)\n")
    assert not (work / "elsewhere").exists()


def test_unpublished_asks_for_the_url_a_run_would_give(work: Path) -> None:
    result = cli(CliRunner(), "share-url", "WO-10424", "--out", "out", "--unpublished")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("https://vision.xoeye.io/share/")
    assert result.stderr.startswith("note: no invoice for WO-10424 in out/ yet")
    published = cli(CliRunner(), "share-url", "WO-10421", "--out", "out", "--unpublished")
    assert published.output == f"{_published(work, 'WO-10421')}\n"


def test_closest_over_a_big_ledger_is_quick(tmp_path: Path) -> None:
    """The ledger is asked about the tickets that sort next to the typed one, not read."""
    from time import monotonic

    from pipeline.core.models import Rendered
    from pipeline.store import Ledger, closest_invoiced

    ledger = Ledger(tmp_path / "ledger.sqlite")
    with ledger.db.transaction():
        ledger.db.executemany(
            "INSERT INTO invoices VALUES (?, ?, 'c', ?, 'u', 'p', 's', 1, '1', 'USD', '', '', "
            "'', NULL, ?, NULL)", ((f"WO-{n}", f"INV-{n}", f"s{n}", f"inv-{n}")
                             for n in range(200_000)))
    assert isinstance(next(ledger.each()), Rendered)
    started = monotonic()
    assert closest_invoiced(ledger, "wo-123456")[0] == "WO-123456"
    assert closest_invoiced(ledger, "WO-199999x")[:2] == ["WO-199999", "WO-19999"]
    assert monotonic() - started < 1.0
    ledger.close()


# Item 12: a file where a ticket goes, and the closest tickets of the inputs.

@pytest.mark.parametrize("command", [
    ["regenerate", "orders.csv", "--input", "orders.csv"],
    ["regenerate", "WO-10421", "./orders.csv", "--input", "orders.csv"],
    ["run", "orders.csv", "--only", "orders.csv"],
    ["share-url", "orders.csv"],
    ["send", "--only", "orders.csv"],
])
def test_a_file_given_as_a_ticket_is_named(work: Path, command: list[str]) -> None:
    result = cli(CliRunner(), *command, "--out", "out")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {'./' if './orders.csv' in command else ''}orders.csv "
                                    "is a file, not a ticket: ")
    assert len(result.stderr.splitlines()) == 1


def test_a_folder_given_as_a_ticket_is_named(work: Path) -> None:
    result = cli(CliRunner(), "regenerate", "out/", "--input", "orders.csv", "--out", "out")
    assert (result.exit_code, result.stderr) == (
        2, "Error: out/ is a folder, not a ticket: tickets come first, input files after "
        "--input (xoi-invoices regenerate WO-10421 --input orders.csv)\n")


def test_regenerate_of_a_typo_names_the_closest_tickets_of_the_inputs(work: Path) -> None:
    result = cli(CliRunner(), "regenerate", "WO-1042", "--input", "orders.csv", "--out", "o")
    assert result.exit_code == 1
    assert result.stderr == ("Error: ticket WO-1042: is in none of the inputs; closest: "
                             "'WO-10420', 'WO-10421', 'WO-10422'\n")
    assert not (work / "o").exists()
    some = cli(CliRunner(), "regenerate", "WO-10421", "wo-10423", "--input", "orders.csv",
               "--out", "o", "--workers", "1")
    assert some.exit_code == 1
    assert "failed: ticket wo-10423: is in none of the inputs; closest: 'WO-10423', " \
        in some.stderr


def test_send_only_a_typo_names_the_closest_invoiced(work: Path, server: SmtpServer) -> None:
    result = _send(work, server, "--only", "WO-1042")
    assert result.exit_code == 1
    assert result.stderr == ("Error: ticket WO-1042: has no invoice in out/manifest.csv (not "
                             "invoiced, or withdrawn): nothing to send; closest: 'WO-10420', "
                             "'WO-10421', 'WO-10422'\n")


# Item 17 and item 8: mapping draft reads the values too, and never a traceback.

EXPORT = ("Job No;Client;Street;City;Done?;Part;Qty;Unit $;Date\n"
          "1001;Acme;1 Main St;Denver;Yes;Filter;2;12,50;11/28/2026\n"
          "1002;Beta;2 Oak Ave;Boulder;No;Valve;1;80,00;11/29/2026\n")


def _draft(runner: CliRunner, path: Path) -> str:
    result = cli(runner, "mapping", "draft", path)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_draft_reads_yes_no_money_dates_and_quantities(work: Path) -> None:
    export = work / "jobs.csv"
    export.write_text(EXPORT, encoding="utf-8")
    lines = _draft(CliRunner(), export).splitlines()
    for line in ('location = ["Street", "City"]  # required: the job\'s address (a list of '
                 'parts is joined)',
                 'confirmed = "Done?"  # required column: the technician\'s yes/no answer',
                 'item_description = "Part"', 'item_quantity = "Qty"',
                 'item_unit_price = "Unit $"', 'invoice_date = "Date"',
                 'decimal = ","              # amounts like 1.234,50 seen'):
        assert line in lines, (line, lines)
    (work / "m.toml").write_text("\n".join(lines), encoding="utf-8")
    result = cli(CliRunner(), "validate", export, "--mapping", "m.toml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("checked 2 work orders: 1 confirmed, 1 unconfirmed, 0 "
                                    "rejected")


@pytest.mark.parametrize(("header", "row", "leftover"), [
    ("Job,Customer,Address 1,Unit,City,Done", "J1,A,1 Main St,12.50,Denver,yes", "Unit"),
    ("Job,Customer,Street,Apt,Zip,Done", "J1,A,1 Main St,2026-11-28,80203,no", "Apt"),
    ("Job,Customer,Street,Suite,City,Done", "J1,A,1 Main St,yes,Denver,no", "Suite"),
])
def test_draft_puts_no_number_date_or_answer_into_an_address(
        work: Path, header: str, row: str, leftover: str) -> None:
    export = work / "jobs.csv"
    export.write_text(f"{header}\n{row}\n", encoding="utf-8")
    text = _draft(CliRunner(), export)
    location = next(line for line in text.splitlines() if line.startswith("location = "))
    assert f'"{leftover}"' not in location and location.count('"') >= 4, text
    assert f'"{leftover}"' in text  # another field's, or left to the clerk


def test_draft_text_columns_are_not_taken_for_numbers(work: Path) -> None:
    export = work / "jobs.csv"
    export.write_text("Job,Customer,Address,Done,Qty,Price\nJ1,A,1 Main,yes,two,call us\n",
                      encoding="utf-8")
    text = _draft(CliRunner(), export)
    assert '# item_quantity = ""' in text and '# item_unit_price = ""' in text


def test_validate_says_which_required_field_no_column_is_mapped_to(work: Path) -> None:
    export = work / "jobs.csv"
    export.write_text(EXPORT, encoding="utf-8")
    (work / "m.toml").write_text('[fields]\nservice_ticket = "Job No"\ncustomer = "Client"\n'
                                 'location = ["Street", "City"]\n[format]\ndelimiter = ";"\n',
                                 encoding="utf-8")
    result = cli(CliRunner(), "validate", export, "--mapping", "m.toml")
    assert (result.exit_code, result.stderr) == (
        2, f"Error: {export}:1: no column is mapped to confirmed; map one (closest: "
        "'Done?')\n")
    (work / "m.toml").write_text('[fields]\nservice_ticket = "Job No"\nlocation = "Street"\n'
                                 '[format]\ndelimiter = ";"\n', encoding="utf-8")
    result = cli(CliRunner(), "validate", export, "--mapping", "m.toml")
    assert (result.exit_code, result.stderr) == (
        2, f"Error: {export}:1: no column is mapped to customer; map one (closest: "
        "'Client'); no column is mapped to confirmed; map one (closest: 'Done?')\n")


@pytest.mark.parametrize("document", [
    '[{"x\\udc00": 1, "service_ticket": "T1", "customer": "A"}]',
    '[{"Customer\\udc00": "A", "service_ticket": "T1"}]',
    '{"jobs\\udc00": [{"service_ticket": "T1"}]}',
    '[{"service_ticket": "T1", "items\\udc00": [{"qty": 1}]}]',
])
def test_draft_of_json_with_a_lone_surrogate_in_a_key(work: Path, document: str) -> None:
    export = work / "odd.json"
    export.write_text(document, encoding="utf-8")
    text = _draft(CliRunner(), export)
    text.encode("utf-8")  # what a terminal or a file can take
    assert '\\udc00"  (not UTF-8 text: no mapping can name it)' in text or \
        '# records' in text or '# line_items' in text, text
    assert 'customer = "Customer' not in text


@pytest.mark.parametrize(("content", "message"), [
    (b"", None), (b"Job,Customer\n", None), (b'a,"b\n1,2\n', None),
    (b"a\0b,c\n1,2\n", None), (b"[]", "no list of work orders found to draft a mapping from"),
    (b"[1, 2]", "no list of work orders found to draft a mapping from"),
    (b'{"a": ', "broken JSON: cannot draft a mapping from it"),
])
def test_draft_of_odd_files_is_a_draft_or_one_error(work: Path, content: bytes,
                                                    message: str | None) -> None:
    export = work / ("odd.json" if content[:1] in (b"[", b"{") else "odd.csv")
    export.write_bytes(content)
    result = cli(CliRunner(), "mapping", "draft", export)
    if message is None:
        assert result.exit_code == 0 and result.stdout.startswith("# Mapping drafted"), \
            result.output
    else:
        assert (result.exit_code, result.stderr) == (2, f"Error: {export}: {message}\n")


def test_draft_lists_the_answers_that_are_no_yes_or_no(work: Path) -> None:
    export = work / "jobs.csv"
    export.write_text("Job,Customer,Address,XOi Completed\nJ1,A,1 Main,Completed\n"
                      "J2,B,2 Main,pending\nJ3,C,3 Main,Yes\nJ4,D,4 Main,\n", encoding="utf-8")
    lines = _draft(CliRunner(), export).splitlines()
    assert lines[lines.index("[values]") + 2:lines.index("[values]") + 4] == [
        '# yes = ["Completed", "pending"]  # answers in "XOi Completed" besides yes/no:',
        "# no = []  # move each to yes or to no, then keep both lines"]
    text = "\n".join(lines).replace('# yes = ["Completed", "pending"]', 'yes = ["Completed"]')
    (work / "m.toml").write_text(text.replace("# no = []", 'no = ["pending"]'),
                                 encoding="utf-8")
    result = cli(CliRunner(), "validate", export, "--mapping", "m.toml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("checked 4 work orders: 2 confirmed, 2 unconfirmed")
