"""The output folder is ours alone: an emptied ledger, links planted in the folder, a
ledger that names a path, duplicate history after an interruption, a FIFO lock, Windows
device names."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import batch
from pipeline.core.config import Settings
from pipeline.core.file_names import safe_name

from .conftest import ENV, PARTNER, ROOT, SECRET, manifest, order, write_csv
from .test_cli import error_line, invoke

ORDERS = [order(f"WO-{n}", bill_to_email=f"customer{n}@example.com") for n in (1, 2, 3)]
CHANGED = [{**ORDERS[0], "item_unit_price": "130.00"}, *ORDERS[1:]]
LOST = (": a run would issue them again under new dates and `send` would email them again. "
        "Restore ledger.sqlite3 from a backup, or move this folder aside to start a new one")
NOT_OURS = ("the output folder's own entries must be real files and folders (a link would "
            "send what is written there to its target); move it away and run again")
SEND_TOML = '''[company]
name = "Acme Heating"

[smtp]
host = "127.0.0.1"
port = 9
from = "Acme Billing <billing@acme.example>"
'''
# Every command that opens an existing output folder.
COMMANDS = [("run", "in.csv", "--workers", "1"),
            ("regenerate", "WO-1", "--input", "in.csv", "--workers", "1"),
            ("verify",), ("merge", "all.pdf"), ("share-url", "WO-1"), ("launch", "in.csv"),
            ("send", "--dry-run", "--config", "send.toml")]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder with WO-1..WO-3 invoiced, rendered once for the module."""
    folder = tmp_path_factory.mktemp("rendered")
    out = folder / "output"
    batch.run([write_csv(folder / "in.csv", ORDERS)],
              Settings(partner_id=PARTNER, share_secret=SECRET, out=out, workers=1))
    return out


@pytest.fixture
def out(rendered: Path, runner: CliRunner, tmp_path: Path) -> Path:
    """A copy of it as ``output/`` in the working folder, with in.csv and send.toml."""
    write_csv(tmp_path / "in.csv", ORDERS)
    (tmp_path / "send.toml").write_text(SEND_TOML, encoding="utf-8")
    return Path(shutil.copytree(rendered, tmp_path / "output"))


def files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file a command could have changed, with its bytes and mtime (not the lock,
    which every command takes, nor SQLite's own companions of a ledger it read)."""
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.is_symlink()
            and path.name not in {".lock", "ledger.sqlite3-wal", "ledger.sqlite3-shm"}}


def sql(out: Path, statement: str, *values: str) -> None:
    db = sqlite3.connect(out / "ledger.sqlite3")
    with db:
        db.execute(statement, values)
    db.close()


# Item 2: a folder that holds invoices and lost its ledger is refused, by every command.

@pytest.mark.parametrize(("damage", "problem"), [
    ("truncated", "is empty (it has no invoices table), but this folder holds issued "
                  "invoices (PDFs in invoices/, manifest.csv)"),
    ("removed", "is missing, but this folder holds issued invoices (PDFs in invoices/, "
                "manifest.csv)"),
    ("tables dropped", "is empty (it has no invoices table), but this folder holds issued "
                       "invoices (PDFs in invoices/, manifest.csv)"),
    ("rows deleted", "records no invoice, but this folder holds issued ones (billing facts "
                     "it keeps for emails, rows in manifest.csv)"),
    ("rows deleted, manifest removed", "records no invoice, but this folder holds issued "
                                       "ones (billing facts it keeps for emails)"),
])
def test_a_folder_whose_ledger_was_lost_is_refused_by_every_command(
        out: Path, runner: CliRunner, damage: str, problem: str) -> None:
    ledger = out / "ledger.sqlite3"
    if damage == "truncated":
        ledger.write_bytes(b"")
    elif damage == "removed":
        ledger.unlink()
    elif damage == "tables dropped":
        for table in ("invoices", "invoice_mail", "deliveries"):
            sql(out, f"DROP TABLE {table}")
    else:
        sql(out, "DELETE FROM invoices")
        if damage == "rows deleted, manifest removed":
            (out / "manifest.csv").unlink()
    before = files(out)
    for command in COMMANDS:
        result = invoke(runner, *command)
        assert result.exit_code == 2, (command, result.output)
        assert error_line(result) == f"Error: output/ledger.sqlite3: {problem}{LOST}", command
        assert files(out) == before, command  # nothing re-issued, the ledger left as it was


def test_a_ledger_that_lost_its_emails_is_refused_once_deliveries_csv_lists_some(
        out: Path, runner: CliRunner) -> None:
    (out / "deliveries.csv").write_text(
        "service_ticket,invoice_number,recipient,sha256,message_id,status,sent_at,reason\n"
        "WO-1,INV-WO-1,a@example.com,abc,<m@x>,sent,2026-12-01T00:00:00+00:00,\n")
    sql(out, "DROP TABLE deliveries")
    result = invoke(runner, "send", "--dry-run", "--config", "send.toml")
    assert result.exit_code == 2
    assert error_line(result) == ("Error: output/ledger.sqlite3: records no email, but "
                                  f"deliveries.csv lists some{LOST}")


def test_a_first_run_killed_before_its_first_commit_is_taken_up_again(
        out: Path, runner: CliRunner) -> None:
    """PDFs in invoices/ beside a ledger with no row yet and no manifest: what a run
    killed before its first commit leaves. Not a lost ledger: the next run completes it."""
    sql(out, "DELETE FROM invoices")
    sql(out, "DELETE FROM invoice_mail")  # committed with the rows
    (out / "manifest.csv").unlink()
    (out / "report.json").unlink()
    result = invoke(runner, "run", "in.csv", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert [row["service_ticket"] for row in manifest(out)] == ["WO-1", "WO-2", "WO-3"]


# Item 5: nothing is written, moved or read through a link, nor at a path the ledger says.

@pytest.mark.parametrize("command", [("run", "in.csv", "--workers", "1"), ("verify",),
                                     ("merge", "all.pdf"), ("share-url", "WO-1")])
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(
        out: Path, runner: CliRunner, tmp_path: Path, command: tuple[str, ...]) -> None:
    victim = tmp_path / "victim"
    victim.write_text("mine\n")
    (out / ".lock").unlink(missing_ok=True)
    (out / ".lock").symlink_to(victim)
    result = invoke(runner, *command)
    assert result.exit_code == 2
    assert error_line(result) == f"Error: output/.lock: is a symbolic link, not a regular " \
                                 f"file: {NOT_OURS}"
    assert victim.read_text() == "mine\n"


@pytest.mark.parametrize("entry", [".lock", "ledger.sqlite3"])
def test_a_file_written_in_place_with_another_name_is_refused(
        out: Path, runner: CliRunner, tmp_path: Path, entry: str) -> None:
    """``ln ~/victim output/.lock``: a hard link, which no lstat tells from the file."""
    victim = tmp_path / "victim"
    if entry == ".lock":
        victim.write_text("mine\n")
        (out / entry).unlink(missing_ok=True)
        os.link(victim, out / entry)
    else:
        os.link(out / entry, victim)
    before = victim.read_bytes()
    for command in (("run", "in.csv", "--workers", "1", "--force"), ("verify",)):
        result = invoke(runner, *command)
        assert result.exit_code == 2, (command, result.output)
        assert error_line(result) == (
            f"Error: output/{entry}: has 2 names (hard links): xoi-invoices writes this file "
            "in place, which would change the others too; move it away and run again")
    assert victim.read_bytes() == before


@pytest.mark.parametrize(("entry", "is_folder"), [
    ("invoices", True), ("invoices/history", True), ("launch", True),
    ("manifest.csv", False), ("report.json", False), ("ledger.sqlite3", False),
    ("ledger.sqlite3-wal", False), ("deliveries.csv", False),
    ("invoices/INV-WO-1.pdf", False)])
def test_a_link_anywhere_in_the_folder_is_refused_naming_it(
        out: Path, runner: CliRunner, tmp_path: Path, entry: str, is_folder: bool) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "target"
    path = out / entry
    if path.exists():
        shutil.move(path, target)  # the link points at the real thing, moved out
    elif is_folder:
        target.mkdir()
    else:
        target.write_text("mine\n")
    path.symlink_to(target, target_is_directory=is_folder)
    before = {p: p.read_bytes() for p in elsewhere.rglob("*") if p.is_file()}
    kind = "a folder" if is_folder else "a regular file"
    message = f"Error: output/{entry}: is a symbolic link, not {kind}: {NOT_OURS}"
    for command in (("run", "in.csv", "--workers", "1", "--force"), ("launch", "in.csv"),
                    ("verify",)):
        result = invoke(runner, *command)
        if entry == "invoices/INV-WO-1.pdf" and command[0] != "run":
            # Launch pages never open it; verify only looks: a problem of that invoice.
            assert result.exit_code == (1 if command[0] == "verify" else 0)
            assert f"output/manifest.csv:2: ticket WO-1: {message[7:]}\n" in \
                result.stderr or command[0] == "launch"
            continue
        assert result.exit_code == 2, (command, result.output)
        assert error_line(result) == message, command
    assert {p: p.read_bytes() for p in elsewhere.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("pdf", ["../victim1.txt", "/tmp/victim1.txt", "invoices/INV-WO-2.pdf",
                                 "invoices/../../victim1.txt"])
def test_a_path_in_the_ledger_is_never_moved_or_read(out: Path, runner: CliRunner,
                                                     tmp_path: Path, pdf: str) -> None:
    """A changed work order would move the PDF the ledger names into history/, an
    unconfirmed one withdraw it, send would mail it, merge print it."""
    (out.parent / "victim1.txt").write_text("mine\n")
    sql(out, "UPDATE invoices SET pdf = ? WHERE service_ticket = 'WO-1'", pdf)
    before = files(out)
    write_csv(tmp_path / "changed.csv", CHANGED)
    write_csv(tmp_path / "unconfirmed.csv", [{**ORDERS[0], "confirmed": "no"}, *ORDERS[1:]])
    message = (f"Error: output/ledger.sqlite3: ticket WO-1: pdf: {pdf!r} is not "
               "invoices/INV-WO-1.pdf, the file of invoice INV-WO-1: the ledger was edited or "
               "damaged; restore it from a backup")
    for command in (("run", "changed.csv", "--workers", "1"),
                    ("run", "unconfirmed.csv", "--workers", "1"),
                    ("regenerate", "WO-1", "--input", "in.csv", "--workers", "1"),
                    ("merge", "all.pdf"), ("send", "--dry-run", "--config", "send.toml")):
        result = invoke(runner, *command)
        assert result.exit_code == 2, (command, result.output)
        assert error_line(result) == message, command
        assert files(out) == before, command
    assert (out.parent / "victim1.txt").read_text() == "mine\n"
    assert not (out / "invoices/history").exists()
    assert not (tmp_path / "all.pdf").exists()


@pytest.mark.parametrize("kind", ["a FIFO", "a folder"])
def test_a_lock_file_that_is_a_fifo_is_refused_naming_it(out: Path, tmp_path: Path,
                                                         kind: str) -> None:
    """In a process of its own: opening a FIFO to read waits for a writer, for ever."""
    (out / ".lock").unlink(missing_ok=True)
    if kind == "a FIFO":
        os.mkfifo(out / ".lock")
    else:
        (out / ".lock").mkdir()
    for command in (["run", "in.csv", "--workers", "1"], ["verify"], ["merge", "all.pdf"]):
        done = subprocess.run([sys.executable, "-m", "pipeline", *command], cwd=tmp_path,
                              env={**os.environ, **ENV, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"Error: output/.lock: is {kind}, not a regular file: " \
                              f"{NOT_OURS}\n"


# Item 10: a folder shared with Windows clients holds no device name.

@pytest.mark.parametrize("number", ["CON", "con", "Nul.2024", "AUX.txt", "com1", "LPT9.x.y",
                                    "prn"])
def test_windows_device_names_get_the_hash_before_their_first_dot(number: str) -> None:
    name = safe_name(number)
    device = number.split(".")[0]
    assert name.split(".")[0].upper() != device.upper()
    assert name.startswith(f"{device}-") and len(name) == len(number) + 9
    assert name.endswith(number[len(device):])
    assert safe_name(name) == name  # stable: a safe name maps to itself


@pytest.mark.parametrize("number", ["CONSOLE", "COM0", "LPT10", "NULL.1", "INV-CON"])
def test_names_that_only_look_like_devices_stay_as_they_are(number: str) -> None:
    assert safe_name(number) == number


def test_an_invoice_numbered_con_is_written_under_a_name_windows_can_open(
        out: Path, runner: CliRunner) -> None:
    write_csv(out.parent / "in.csv", [*ORDERS, order("WO-4", invoice_number="CON")])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    assert not (out / "invoices/CON.pdf").exists()
    row = next(row for row in manifest(out) if row["service_ticket"] == "WO-4")
    assert row["pdf"] == f"invoices/{safe_name('CON')}.pdf"
    assert (out / row["pdf"]).is_file()


def test_an_invoice_written_as_con_pdf_by_an_earlier_version_is_still_its_own(
        out: Path, runner: CliRunner) -> None:
    """The ledger of a folder from before device names got their hash names CON.pdf: it
    is still that invoice's file, left as it is until the invoice changes, and its number
    is still its own."""
    write_csv(out.parent / "in.csv", [*ORDERS, order("WO-4", invoice_number="CON")])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    new = out / f"invoices/{safe_name('CON')}.pdf"
    new.rename(out / "invoices/CON.pdf")
    sql(out, "UPDATE invoices SET pdf = 'invoices/CON.pdf', file_key = 'con' "
             "WHERE service_ticket = 'WO-4'")
    # Another ticket claiming that number, WO-4 not in tonight's export: only the ledger
    # knows, by the key an earlier version gave the number.
    write_csv(out.parent / "other.csv", [*ORDERS, order("WO-5", invoice_number="CON")])
    other = invoke(runner, "run", "other.csv", "--workers", "1")
    assert other.exit_code == 1
    assert "other.csv:5: ticket WO-5: invoice_number: 'CON' is already the invoice number " \
           "of ticket WO-4" in other.stderr
    again = invoke(runner, "run", "in.csv", "--workers", "1")
    assert again.exit_code == 0 and "rendered 0, unchanged 4" in again.stdout
    assert invoke(runner, "verify").exit_code == 0
    write_csv(out.parent / "in.csv", [*ORDERS, order("WO-4", invoice_number="CON",
                                                     item_unit_price="99.00")])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    assert new.is_file() and not (out / "invoices/CON.pdf").exists()
    assert (out / "invoices/history/CON.1.pdf").is_file()


# Item 6: a version is archived once, and verify knows an interrupted run from tampering.

def test_a_version_kept_before_a_kill_is_not_kept_again(out: Path, runner: CliRunner,
                                                        tmp_path: Path) -> None:
    """Killed after the issued PDF was linked into history/ and before the new one was
    renamed over it: exactly what that kill leaves, then the next run."""
    issued = out / "invoices/INV-WO-1.pdf"
    (out / "invoices/history").mkdir()
    os.link(issued, out / "invoices/history/INV-WO-1.1.pdf")
    write_csv(tmp_path / "in.csv", CHANGED)
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    assert sorted(p.name for p in (out / "invoices/history").iterdir()) == ["INV-WO-1.1.pdf"]
    assert manifest(out)[0]["total"] == "130.00"


def test_a_version_copied_night_after_night_on_a_full_disk_is_kept_once(
        out: Path, runner: CliRunner, tmp_path: Path) -> None:
    """A share without hard links gets a copy in history/; a full disk then failed the
    new PDF, night after night. Every night kept the same version again: not any more."""
    history = out / "invoices/history"
    history.mkdir()
    shutil.copyfile(out / "invoices/INV-WO-1.pdf", history / "INV-WO-1.1.pdf")
    write_csv(tmp_path / "in.csv", [{**ORDERS[0], "confirmed": "no"}, *ORDERS[1:]])
    result = invoke(runner, "run", "in.csv", "--workers", "1")  # withdrawn: moved, once
    assert result.exit_code == 0
    assert "that invoice is withdrawn (moved to invoices/history/INV-WO-1.1.pdf)" \
        in result.stderr
    assert sorted(p.name for p in history.iterdir()) == ["INV-WO-1.1.pdf"]
    assert not (out / "invoices/INV-WO-1.pdf").exists()


def test_verify_tells_a_run_killed_before_it_recorded_a_new_version_from_tampering(
        out: Path, runner: CliRunner, tmp_path: Path) -> None:
    """Killed after the new PDF was renamed in place and before the ledger recorded it:
    the issued version is the newest in history/, the manifest and the ledger still
    describe it."""
    corrected = tmp_path / "corrected"
    shutil.copytree(out, corrected)
    write_csv(tmp_path / "changed.csv", CHANGED)
    assert invoke(runner, "run", "changed.csv", "--workers", "1", "--out",
                  str(corrected)).exit_code == 0
    issued = out / "invoices/INV-WO-1.pdf"
    (out / "invoices/history").mkdir()
    os.link(issued, out / "invoices/history/INV-WO-1.1.pdf")
    shutil.copyfile(corrected / "invoices/INV-WO-1.pdf", out / "invoices/.tmp-0")
    (out / "invoices/.tmp-0").replace(issued)
    result = invoke(runner, "verify")
    assert result.exit_code == 1
    assert result.stderr == (
        "output/manifest.csv:2: ticket WO-1: invoices/INV-WO-1.pdf was replaced by a run "
        "interrupted before it recorded the new version (the issued one is "
        "invoices/history/INV-WO-1.1.pdf): run again to finish it\n")
    assert invoke(runner, "run", "changed.csv", "--workers", "1").exit_code == 0
    assert invoke(runner, "verify").exit_code == 0
    assert sorted(p.name for p in (out / "invoices/history").iterdir()) == ["INV-WO-1.1.pdf"]
    # Tampering is still called so.
    issued.write_bytes(issued.read_bytes() + b"\n%tampered\n")
    assert "does not match its sha256 (changed since issued)" in invoke(runner, "verify").stderr


def test_verify_names_a_fifo_where_an_invoice_belongs(out: Path, runner: CliRunner) -> None:
    pdf = out / "invoices/INV-WO-1.pdf"
    pdf.unlink()
    os.mkfifo(pdf)
    result = invoke(runner, "verify")
    assert result.exit_code == 1
    assert result.stderr == ("output/manifest.csv:2: ticket WO-1: output/invoices/INV-WO-1.pdf: "
                             f"is a FIFO, not a regular file: {NOT_OURS}\n")


def test_verify_tells_a_withdrawal_a_kill_left_unrecorded_from_a_missing_pdf(
        out: Path, runner: CliRunner, tmp_path: Path) -> None:
    """Killed after an unconfirmed ticket's PDF moved into history/ and before the ledger
    recorded the withdrawal: the manifest still lists it."""
    history = out / "invoices/history"
    history.mkdir()
    (out / "invoices/INV-WO-1.pdf").rename(history / "INV-WO-1.1.pdf")
    result = invoke(runner, "verify")
    assert result.exit_code == 1
    assert result.stderr == (
        "output/manifest.csv:2: ticket WO-1: invoices/INV-WO-1.pdf was withdrawn by a run "
        "interrupted before it recorded that (the issued one is "
        "invoices/history/INV-WO-1.1.pdf): run again to finish it\n")
    write_csv(tmp_path / "in.csv", [{**ORDERS[0], "confirmed": "no"}, *ORDERS[1:]])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    assert invoke(runner, "verify").exit_code == 0
    assert sorted(p.name for p in history.iterdir()) == ["INV-WO-1.1.pdf"]
    (out / "invoices/INV-WO-2.pdf").unlink()  # a PDF deleted by hand is still missing
    assert "ticket WO-2: invoices/INV-WO-2.pdf is missing\n" in invoke(runner, "verify").stderr
