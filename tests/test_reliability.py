"""Nightly-batch reliability: incremental runs, immutable links, lock, crash safety, verify."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from pipeline import batch
from pipeline.cli import main
from pipeline.core.config import Settings
from pipeline.core.models import Outcome
from pipeline.core.template_files import BUILT_IN
from pipeline.render import identity
from pipeline.store import OutputFolder

from .conftest import ENV, SECRET, manifest, order, report, write_csv


def _run(source: Path, settings: Settings, **kwargs: object) -> Outcome:
    return batch.run([source], settings, **kwargs)  # type: ignore[arg-type]


def test_rerun_renders_nothing_and_keeps_bytes(tmp_path: Path, settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    _run(source, settings)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
              for p in (settings.out / "invoices").glob("*.pdf")}
    outcome = _run(source, settings)
    assert outcome.rendered == [] and sorted(outcome.unchanged) == ["WO-1", "WO-2"]
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
             for p in (settings.out / "invoices").glob("*.pdf")}
    assert after == before


def test_changed_order_is_rerendered_and_previous_pdf_kept(tmp_path: Path,
                                                           settings: Settings) -> None:
    _run(write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")]), settings)
    first = (settings.out / "invoices/INV-WO-1.pdf").read_bytes()
    changed = write_csv(tmp_path / "in.csv", [order("WO-1", item_unit_price="130.00"),
                                              order("WO-2")])
    outcome = _run(changed, settings)
    assert outcome.rendered == ["WO-1"] and outcome.unchanged == ["WO-2"]
    assert (settings.out / "invoices/history/INV-WO-1.1.pdf").read_bytes() == first
    assert manifest(settings.out)[0]["total"] == "130.00"


def test_force_and_only(tmp_path: Path, settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2"), order("WO-3")])
    _run(source, settings)
    assert sorted(_run(source, settings, force=True).rendered) == ["WO-1", "WO-2", "WO-3"]
    assert _run(source, settings, force=True, only=["WO-2"]).rendered == ["WO-2"]


def test_only_checks_links_against_the_whole_input(tmp_path: Path, runner: CliRunner) -> None:
    """A ticket outside the selection still owns its share ID and invoice number; the
    command reports the named ticket's problem and counts the others."""
    source = write_csv(tmp_path / "in.csv", [
        order("WO-1", share_id="sharedSHAREid0123456"),
        order("WO-9", share_id="sharedSHAREid0123456"),
        order("WO-5", invoice_number="INV-WO-1")])
    mine = {"WO-9": "in.csv:3: ticket WO-9: share_id: 'sharedSHAREid0123456' is already the "
                    "share ID of ticket WO-1",
            "WO-5": "in.csv:4: ticket WO-5: invoice_number: 'INV-WO-1' is already the "
                    "invoice number of ticket WO-1"}
    for ticket, command in (("WO-9", ["run", str(source), "--only", "WO-9"]),
                            ("WO-9", ["regenerate", "WO-9", "--input", str(source)]),
                            ("WO-5", ["regenerate", "WO-5", "--input", str(source)])):
        result = runner.invoke(main, [*command, "--workers", "1", "--quiet"])
        assert result.exit_code == 1, result.output
        other = next(text for name, text in mine.items() if name != ticket)
        assert mine[ticket] in result.stderr and other not in result.stderr
        assert f"1 other record has problems: xoi-invoices validate {source}\n" \
            in result.stderr
        done = report(tmp_path / "output")
        assert [problem["service_ticket"] for problem in done["rejected"]] == [ticket]
        assert done["others_rejected"] == 1
    assert not (tmp_path / "output" / "invoices").exists()


def test_invoice_of_a_ticket_now_unconfirmed_is_withdrawn(tmp_path: Path,
                                                          settings: Settings) -> None:
    """Its share link leaves every invoice output; its PDF, link and number are kept."""
    _run(write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")]), settings)
    issued = manifest(settings.out)[0]
    first = (settings.out / "invoices/INV-WO-1.pdf").read_bytes()
    merged = tmp_path / "all.pdf"
    withdrawn = Settings(**{**settings.__dict__, "merge": merged})
    outcome = _run(write_csv(tmp_path / "in.csv", [order("WO-1", confirmed="no"),
                                                   order("WO-2")]), withdrawn)
    assert outcome.withdrawn == ["WO-1"] and outcome.unchanged == ["WO-2"] and outcome.ok
    assert [str(warning) for warning in outcome.warnings] == [
        f"{tmp_path / 'in.csv'}:2: ticket WO-1: was invoiced as INV-WO-1 and is now "
        "unconfirmed: that invoice is withdrawn (moved to invoices/history/INV-WO-1.1.pdf)"]
    assert report(settings.out)["withdrawn"] == ["WO-1"]
    assert [row["service_ticket"] for row in manifest(settings.out)] == ["WO-2"]
    assert issued["share_url"] not in (settings.out / "manifest.csv").read_text()
    assert not (settings.out / "invoices/INV-WO-1.pdf").exists()
    assert (settings.out / "invoices/history/INV-WO-1.1.pdf").read_bytes() == first
    assert len(PdfReader(merged).pages) == 1
    again = _run(write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")]), settings)
    assert again.rendered == ["WO-1"] and again.withdrawn == []
    assert manifest(settings.out)[0] == issued


def test_only_withdraws_nothing_outside_its_tickets(tmp_path: Path, settings: Settings) -> None:
    _run(write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")]), settings)
    source = write_csv(tmp_path / "in.csv", [order("WO-1", confirmed="no"), order("WO-2")])
    assert _run(source, settings, only=["WO-2"], force=True).withdrawn == []
    assert [row["service_ticket"] for row in manifest(settings.out)] == ["WO-1", "WO-2"]
    assert _run(source, settings, only=["WO-1", "WO-2"]).withdrawn == ["WO-1"]


def test_template_or_configuration_change_rerenders(tmp_path: Path,
                                                    settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    _run(source, settings)
    rebranded = Settings(**{**settings.__dict__,
                            "company": settings.company.__class__(name="New Name LLC")})
    assert _run(source, rebranded).rendered == ["WO-1"]


def test_new_render_code_or_library_version_rerenders(
        tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    _run(source, settings)
    monkeypatch.setattr(identity, "RENDER_CODE", identity.RENDER_CODE[1:])  # pdf "changed"
    assert _run(source, settings).rendered == ["WO-1"]
    monkeypatch.setattr(identity, "versions", lambda: "weasyprint 71.0")
    assert _run(source, settings).rendered == ["WO-1"]
    assert _run(source, settings).unchanged == ["WO-1"]


def test_share_id_is_immutable_once_published(tmp_path: Path, settings: Settings) -> None:
    _run(write_csv(tmp_path / "in.csv", [order("WO-1", share_id="firstSHAREid0123456")]),
         settings)
    outcome = _run(write_csv(tmp_path / "in.csv",
                             [order("WO-1", share_id="otherSHAREid0123456")]), settings)
    assert outcome.rendered == []
    reason = outcome.rejected[0].reason
    assert "firstSHAREid0123456" in reason and "otherSHAREid0123456" in reason
    assert "immutable" in reason
    assert report(settings.out)["confirmed"] == 0  # rejected: counted once, there


def test_published_link_survives_a_new_share_secret(tmp_path: Path, settings: Settings) -> None:
    """A ticket whose input has no share ID keeps the one derived when it was invoiced."""
    source = write_csv(tmp_path / "in.csv", [order("WO-1", share_id="")])
    _run(source, settings)
    published = manifest(settings.out)[0]["share_url"]
    rotated = Settings(**{**settings.__dict__, "share_secret": "a-new-secret-after-a-leak"})
    assert _run(source, rotated).unchanged == ["WO-1"]
    assert manifest(settings.out)[0]["share_url"] == published


def test_published_url_survives_a_new_base_url(tmp_path: Path, settings: Settings) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    _run(source, settings)
    published = manifest(settings.out)[0]["share_url"]
    moved = Settings(**{**settings.__dict__, "base_url": "https://other.example"})
    assert _run(source, moved, force=True).rendered == ["WO-1"]
    assert manifest(settings.out)[0]["share_url"] == published
    _run(write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")]), moved)
    assert manifest(settings.out)[1]["share_url"].startswith("https://other.example/share/")


def test_invoice_number_of_another_ticket_rejected(tmp_path: Path, settings: Settings) -> None:
    _run(write_csv(tmp_path / "in.csv", [order("WO-1", invoice_number="A-100")]), settings)
    outcome = _run(write_csv(tmp_path / "in2.csv", [order("WO-2", invoice_number="A-100")]),
                   settings)
    assert outcome.rejected[0].service_ticket == "WO-2"
    assert "invoice_number" in outcome.rejected[0].reason and "WO-1" in outcome.rejected[0].reason


def test_issued_invoice_number_is_immutable(tmp_path: Path, runner: CliRunner) -> None:
    """A clerk's regenerate must not re-number an issued invoice, nor may a nightly run."""
    source = write_csv(tmp_path / "in.csv", [order("N-1", invoice_number="INV-100")])
    assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0
    issued = (tmp_path / "output/invoices/INV-100.pdf").read_bytes()
    renumbered = write_csv(tmp_path / "in.csv", [order("N-1", invoice_number="INV-999")])
    for command in (["run", str(renumbered)], ["regenerate", "N-1", "--input", str(renumbered)]):
        result = runner.invoke(main, [*command, "--workers", "1", "--quiet"])
        assert result.exit_code == 1
        assert f"{renumbered}:2: ticket N-1: invoice_number: 'INV-999' differs from " \
            "'INV-100', the invoice number already issued for this ticket (invoice numbers " \
            "are immutable)" in result.stderr
    assert [row["invoice_number"] for row in manifest(tmp_path / "output")] == ["INV-100"]
    assert (tmp_path / "output/invoices/INV-100.pdf").read_bytes() == issued
    assert not (tmp_path / "output/invoices/INV-999.pdf").exists()


def test_invoice_numbers_differing_only_in_case_rejected(tmp_path: Path,
                                                         settings: Settings) -> None:
    rows = [order("WO-1", invoice_number="inv-7"), order("WO-2", invoice_number="INV-7"),
            order("WO-3", invoice_number="INV-É"), order("WO-4", invoice_number="INV-é")]
    outcome = _run(write_csv(tmp_path / "in.csv", rows), settings)
    assert sorted(outcome.rendered) == ["WO-1", "WO-3", "WO-4"]
    assert [(p.service_ticket, p.reason) for p in outcome.rejected] == [(
        "WO-2", "invoice_number: 'INV-7' and 'inv-7', the invoice number of ticket WO-1, "
        "differ only in letter case: one PDF file on many file systems")]


def test_regenerate_keeps_number_and_url(tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1", share_id=""), order("WO-2")])
    assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0
    before = manifest(tmp_path / "output")
    result = runner.invoke(main, ["regenerate", "WO-1", "--input", str(source),
                                  "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert report(tmp_path / "output")["rendered"] == ["WO-1"]
    assert manifest(tmp_path / "output") == before


@pytest.mark.parametrize(("rows", "message"), [
    ([order("WO-1")], "Error: ticket WO-9: is in none of the inputs"),
    ([order("WO-1"), order("WO-9", confirmed="no")],
     "Error: ticket WO-9: is not confirmed: the technician has not completed the workflow, "
     "so it gets no invoice"),
])
def test_regenerate_unknown_or_unconfirmed_ticket(tmp_path: Path, runner: CliRunner,
                                                  rows: list[dict[str, str]],
                                                  message: str) -> None:
    source = write_csv(tmp_path / "in.csv", rows)
    result = runner.invoke(main, ["regenerate", "WO-9", "--input", str(source)])
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "output").exists()  # writes nothing: not even its ledger


def test_an_export_broken_partway_leaves_no_new_folder_and_keeps_an_old_one(
        tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    source.write_text(source.read_text() + '"WO-3,unterminated\n')
    new = tmp_path / "nightly" / "2026-12-02"
    result = runner.invoke(main, ["run", str(source), "--out", str(new)])
    assert result.exit_code == 2
    assert "in.csv:4: malformed CSV" in result.output
    assert not (tmp_path / "nightly").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("the clerk's")
    result = runner.invoke(main, ["run", str(source), "--out", str(tmp_path / "kept")])
    assert result.exit_code == 2
    assert (tmp_path / "kept" / "notes.txt").read_text() == "the clerk's"


def test_regenerate_or_only_with_one_unknown_ticket_renders_the_others(
        tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", confirmed="no")])
    for command in (["regenerate", "WO-1", "NOPE", "WO-2", "--input", str(source)],
                    ["run", str(source), "--only", "WO-1", "--only", "NOPE", "--only", "WO-2"]):
        result = runner.invoke(main, [*command, "--workers", "1", "--quiet"])
        assert result.exit_code == 1
        done = report(tmp_path / "output")
        assert done["rendered"] + done["unchanged"] == ["WO-1"]  # the run finds it unchanged
        assert done["failed"] == [
            {"service_ticket": "NOPE", "reason": "is in none of the inputs"},
            {"service_ticket": "WO-2", "reason": "is not confirmed: the technician has not "
             "completed the workflow, so it gets no invoice"}]
        assert "ticket NOPE: is in none of the inputs" in result.stderr


def test_second_run_exits_75_naming_holder(tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    out = tmp_path / "output"
    out.mkdir()
    with OutputFolder(out).lock():
        result = runner.invoke(main, ["run", str(source)])
    assert result.exit_code == 75
    assert f"pid {os.getpid()}" in result.output and "Error:" in result.output


def test_stale_lock_file_does_not_block(tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    (tmp_path / "output").mkdir()
    (tmp_path / "output/.lock").write_text("pid 999999 on gone since 2026-01-01")
    assert runner.invoke(main, ["run", str(source), "--workers", "1"]).exit_code == 0


def test_failed_invoice_stays_local(tmp_path: Path, runner: CliRunner) -> None:
    templates = tmp_path / "tpl"
    templates.mkdir()
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", notes="boom")])
    # A template that fails for one work order only, as a broken custom template would.
    html = (Path(BUILT_IN) / "invoice.html").read_text()
    (templates / "invoice.html").write_text(html.replace(
        "<body>", "<body>{% if invoice.notes == 'boom' %}{{ undefined_variable }}{% endif %}"))
    settings = Settings(partner_id="p", share_secret=SECRET, out=tmp_path / "out", workers=1)
    outcome = batch.run([source], Settings(**{**settings.__dict__, "templates": templates}))
    assert outcome.rendered == ["WO-1"]
    assert outcome.failed[0].service_ticket == "WO-2"
    assert "invoice.html" in outcome.failed[0].reason
    assert "undefined_variable" in outcome.failed[0].reason
    assert report(tmp_path / "out")["failed"][0]["service_ticket"] == "WO-2"


def test_verify_finds_tampering(tmp_path: Path, runner: CliRunner) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2"), order("WO-3")])
    runner.invoke(main, ["run", str(source), "--workers", "1"])
    ok = runner.invoke(main, ["verify"])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "output/invoices/INV-WO-1.pdf").unlink()
    tampered = tmp_path / "output/invoices/INV-WO-2.pdf"
    tampered.write_bytes(tampered.read_bytes() + b"\n%tampered\n")
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "ticket WO-" in line]
    assert len(lines) == 2
    assert "WO-1" in lines[0] and "missing" in lines[0]
    assert "WO-2" in lines[1] and "sha256" in lines[1]


@pytest.mark.parametrize(("damage", "problem"), [
    (b"service_ticket,invoice_number\nT-\xe91,x\n",
     " not UTF-8, so not the manifest a run wrote; run again to rewrite it"),
    (b"a,b\n1,2\n", "1: not a manifest (wrong header); run again to rewrite it"),
    (b"", "1: not a manifest (wrong header); run again to rewrite it"),
])
def test_verify_reports_a_damaged_manifest(tmp_path: Path, runner: CliRunner, damage: bytes,
                                           problem: str) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    runner.invoke(main, ["run", str(source), "--workers", "1"])
    (tmp_path / "output/manifest.csv").write_bytes(damage)
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 1
    assert result.stderr == f"output/manifest.csv:{problem}\n"


def test_verify_tells_an_interrupted_run_from_tampering(tmp_path: Path,
                                                       runner: CliRunner) -> None:
    """A run killed after writing a PDF and before the manifest: the ledger vouches for it."""
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    runner.invoke(main, ["run", str(source), "--workers", "1"])
    stale = (tmp_path / "output/manifest.csv").read_text()
    changed = write_csv(tmp_path / "in.csv", [order("WO-1", item_unit_price="130"),
                                              order("WO-2")])
    runner.invoke(main, ["run", str(changed), "--workers", "1"])
    (tmp_path / "output/manifest.csv").write_text(stale)
    result = runner.invoke(main, ["verify"])
    assert result.exit_code == 1
    assert result.stderr == ("output/manifest.csv:2: ticket WO-1: invoices/INV-WO-1.pdf is "
                             "newer than manifest.csv, which an interrupted run left out of "
                             "date: run again to rewrite it\n")


@pytest.mark.parametrize("command", [["verify"], ["merge", "all.pdf"]])
def test_readers_of_the_folder_wait_for_no_run(tmp_path: Path, runner: CliRunner,
                                               command: list[str]) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    runner.invoke(main, ["run", str(source), "--workers", "1"])
    with OutputFolder(tmp_path / "output").lock():
        busy = runner.invoke(main, command)
    assert busy.exit_code == 75 and "another run holds" in busy.stderr
    assert runner.invoke(main, command).exit_code == 0


def test_formulas_neutralized_and_secret_never_written(tmp_path: Path,
                                                       settings: Settings) -> None:
    rows = [order("=1+1", customer="=HYPERLINK(\"http://evil\")", invoice_number="@SUM(A1)"),
            order("WO-2", customer="-2+3", share_id="")]
    _run(write_csv(tmp_path / "in.csv", rows), settings)
    text = (settings.out / "manifest.csv").read_text()
    assert "'=1+1" in text and "'=HYPERLINK" in text and "'@SUM(A1)" in text and "'-2+3" in text
    for path in settings.out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def _cli(args: list[str], cwd: Path, **popen: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, **ENV, "SOURCE_DATE_EPOCH": "1790000000"}
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)  # type: ignore[call-overload]


def _pdfs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (out / "invoices").glob("*.pdf")}


def _kill_when(process: subprocess.Popen[bytes], out: Path, pdfs: int) -> int:
    """SIGKILL the run's whole process group once ``pdfs`` invoices exist; how many did."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (out / "invoices").is_dir() and len(list((out / "invoices").glob("*.pdf"))) >= pdfs:
            break
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return len(_pdfs(out)) if (out / "invoices").is_dir() else 0


def test_sigkill_at_any_point_then_rerun_gives_identical_output(tmp_path: Path) -> None:
    rows = [order(f"WO-{n:03}", share_id="") for n in range(24)]
    source = write_csv(tmp_path / "in.csv", rows)
    reference = tmp_path / "reference"
    done = _cli(["run", str(source), "--out", str(reference), "--workers", "2"], tmp_path)
    assert done.wait(timeout=300) == 0, done.stderr.read() if done.stderr else ""
    expected, expected_manifest = _pdfs(reference), (reference / "manifest.csv").read_text()
    written_when_killed = []
    # Before the first invoice, right after it, in the middle, and near the end.
    for when in (0, 1, 7, 16, 23):
        out = tmp_path / f"killed-at-{when}"
        process = _cli(["run", str(source), "--out", str(out), "--workers", "2"], tmp_path,
                       start_new_session=True)
        written_when_killed.append(_kill_when(process, out, when))
        rerun = _cli(["run", str(source), "--out", str(out), "--workers", "2"], tmp_path)
        assert rerun.wait(timeout=300) == 0
        assert _pdfs(out) == expected
        assert (out / "manifest.csv").read_text() == expected_manifest
        assert not [p for p in out.rglob(".tmp-*")]
        assert not (out / "invoices/history").exists()
    # The kills did land mid-run, not only before or after the work.
    assert any(0 < written < len(expected) for written in written_when_killed), \
        written_when_killed


def test_a_corrected_pdf_that_cannot_be_written_leaves_the_issued_one_in_place(
        tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while re-issuing: the current PDF stays where the manifest names it."""
    from pipeline.core.errors import OutputError
    from pipeline.store import folder, verify

    _run(write_csv(tmp_path / "in.csv", [order("WO-1")]), settings)
    issued = (settings.out / "invoices/INV-WO-1.pdf").read_bytes()
    real_write = folder.atomic_write

    def full_disk(path: Path, data: bytes, **options: bool) -> None:
        if path.suffix == ".pdf" and path.parent.name == "invoices":
            raise OutputError("cannot write: No space left on device", source=path)
        real_write(path, data, **options)

    monkeypatch.setattr(folder, "atomic_write", full_disk)
    outcome = _run(write_csv(tmp_path / "in.csv", [order("WO-1", item_unit_price="130.00")]),
                   settings)
    assert [failure.service_ticket for failure in outcome.failed] == ["WO-1"]
    assert (settings.out / "invoices/INV-WO-1.pdf").read_bytes() == issued
    assert list(verify(settings.out)) == []
