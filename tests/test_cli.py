"""The command line as a user and a cron job meet it: exit codes, messages, precedence."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from pipeline.cli import main
from pipeline.link import derive_share_id

from .conftest import PARTNER, ROOT, SECRET, manifest, order, report, write_csv

NO_PARTNER = ("Error: no partner id: set XOI_PARTNER_ID or partner_id in the configuration "
              "file (XOi issues it at onboarding)")
SUMMARY = re.compile(r"^rendered (\d+), unchanged (\d+), unconfirmed (\d+), rejected (\d+), "
                     r"failed (\d+) in \d+\.\d s$", re.MULTILINE)
LONG_ID = "k7Qm2xR9vT4pL8sN3wZ6yB1c"
NOT_ISSUED = ("note: no invoice for {} in output/ yet: this is the URL a run would give it "
              "(--out names another folder)\n")


def invoke(runner: CliRunner, *args: str) -> Result:
    """Run the command; whatever happens, the user sees no Python traceback."""
    result = runner.invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


def error_line(result: Result) -> str:
    """The one ``Error: ...`` line a failing command prints on stderr."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += command_paths(command, (*prefix, name))
    return paths


def folder_entries(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


# --- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [(), *command_paths(main)], ids=lambda p: " ".join(p) or "-")
def test_every_command_has_help_with_an_example(runner: CliRunner, path: tuple[str, ...]) -> None:
    result = invoke(runner, *path, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "Usage: " in result.output


def test_python_dash_m_pipeline(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "pipeline", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("Usage: xoi-invoices ")
    assert "run" in completed.stdout and "Example" in completed.stdout
    assert completed.stderr == ""


# --- run -----------------------------------------------------------------------------------


def test_run_good_input(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", confirmed="no"),
                                             order("WO-3")])
    result = invoke(runner, "run", str(source), "--out", "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert SUMMARY.search(result.stdout)
    assert "rendered 2, unchanged 0, unconfirmed 1, rejected 0, failed 0 in " in result.stdout
    assert result.stderr == ""
    assert [row["service_ticket"] for row in manifest(tmp_path / "out")] == ["WO-1", "WO-3"]
    assert sorted(p.name for p in (tmp_path / "out/invoices").glob("*.pdf")) == \
        ["INV-WO-1.pdf", "INV-WO-3.pdf"]
    again = invoke(runner, "run", str(source), "--out", "out", "--workers", "1")
    assert again.exit_code == 0
    assert "rendered 0, unchanged 2, unconfirmed 1, rejected 0, failed 0 in " in again.stdout


def test_run_with_a_bad_record_exits_1_and_renders_the_good_ones(runner: CliRunner,
                                                                 tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", confirmed="maybe"),
                                             order("WO-3", item_quantity="two")])
    result = invoke(runner, "run", "in.csv", "--workers", "1")
    assert result.exit_code == 1, result.output
    assert "rendered 1, unchanged 0, unconfirmed 0, rejected 2, failed 0 in " in result.stdout
    assert "in.csv:3: ticket WO-2: confirmed: \"maybe\" is not yes/no, y/n, true/false " \
        "or 1/0" in result.stderr.splitlines()
    assert any(line.startswith("in.csv:4: ticket WO-3: item_quantity: ")
               for line in result.stderr.splitlines())
    assert (tmp_path / "output/invoices/INV-WO-1.pdf").is_file()  # --out defaults to output/
    rejected = report(tmp_path / "output")["rejected"]
    assert [(r["source"], r["line"], r["service_ticket"]) for r in rejected] == \
        [("in.csv", 3, "WO-2"), ("in.csv", 4, "WO-3")]
    assert source.is_file()


def test_run_log_format_json(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1", confirmed=""), order("WO-2", customer="")])
    result = invoke(runner, "run", "in.csv", "--log-format", "json")
    assert result.exit_code == 1
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert {"rejected", "summary"} <= {event["event"] for event in events}
    summary = events[-1]
    assert summary["event"] == "summary" and summary["unconfirmed"] == ["WO-1"]
    assert summary["rejected"][0]["service_ticket"] == "WO-2"


def test_log_format_json_logs_a_fatal_error_and_renders_by_service_ticket(
        runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    done = invoke(runner, "run", "in.csv", "--log-format", "json", "--workers", "1")
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert [e["service_ticket"] for e in events if e["event"] == "rendered"] == ["WO-1"]
    result = invoke(runner, "run", "missing.csv", "--log-format", "json")
    assert result.exit_code == 2
    [event] = [json.loads(line) for line in result.stderr.splitlines()]
    assert {key: value for key, value in event.items() if key != "ts"} == {
        "event": "error", "message": "missing.csv: no such file", "exit_status": 2,
        "source": "missing.csv"}


def test_missing_partner_id_exits_2(runner: CliRunner, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XOI_PARTNER_ID")
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    for args in (("run", "in.csv"), ("share-url", "WO-1", "--unpublished"),
                 ("regenerate", "WO-1", "--input", "in.csv")):
        result = invoke(runner, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip() == NO_PARTNER
    assert not (tmp_path / "output").exists()


def test_unreadable_input_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "good.csv", [order("WO-1")])
    result = invoke(runner, "run", "good.csv", "missing.csv")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: missing.csv: no such file"
    assert not (tmp_path / "output").exists()  # nothing is written when an input is unreadable
    (tmp_path / "latin1.csv").write_bytes(b"service_ticket,customer,location,confirmed\n"
                                          b"WO-1,Soci\xe9t\xe9,Paris,yes\n")
    result = invoke(runner, "validate", "latin1.csv")
    assert result.exit_code == 2
    assert error_line(result).startswith("Error: latin1.csv:2: not UTF-8")
    (tmp_path / "broken.json").write_text('[\n{"service_ticket": "WO-1",\n]', encoding="utf-8")
    result = invoke(runner, "run", "broken.json")
    assert result.exit_code == 2
    assert error_line(result).startswith("Error: broken.json:3: broken JSON")
    (tmp_path / "orders.xlsx").write_bytes(b"PK")
    assert invoke(runner, "run", "orders.xlsx").exit_code == 2


def test_missing_required_column_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("service_ticket,customer,location\nA,B,C\n",
                                     encoding="utf-8")
    result = invoke(runner, "validate", "in.csv")
    assert result.exit_code == 2
    assert error_line(result) == "Error: in.csv:1: missing required column confirmed"


@pytest.mark.parametrize("args", [
    ("run", "in.csv", "--bogus"), ("run",), ("validate",), ("share-url",),
    ("run", "in.csv", "--workers", "0"), ("run", "in.csv", "--log-format", "xml"),
    ("no-such-command",), ("regenerate", "WO-1"), ("run", "in.csv", "--out", ""),
    ("run", "in.csv", "--out", "  "), ("verify", "--out", ""),
])
def test_usage_errors_exit_2(runner: CliRunner, tmp_path: Path, args: tuple[str, ...]) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = invoke(runner, *args)
    assert result.exit_code == 2, result.output
    assert "Error: " in result.stderr
    assert not (tmp_path / "output").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("toml", ["partner_id = \n", "workers = 0\n", "partner_id = 42\n",
                                  "bogus_key = 'x'\n", "[company]\ncolour = 'red'\n",
                                  "locale = 'xx_YY'\n", "out = 3\n", "currency = 'XYZ'\n",
                                  "render_timeout = 1e999\n", "workers = 1.5\n",
                                  "workers = true\n", "quiet = 'maybe'\n",
                                  "[company]\npayment_terms_days = 99999999\n"])
def test_bad_toml_config_exits_2(runner: CliRunner, tmp_path: Path, toml: str) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    (tmp_path / "bad.toml").write_text(toml, encoding="utf-8")
    for args in (("run", "in.csv", "--config", "bad.toml"),
                 ("validate", "in.csv", "--config", "bad.toml"),
                 ("share-url", "WO-1", "--config", "bad.toml")):
        result = invoke(runner, *args)
        assert result.exit_code == 2, (args, result.output)
        assert error_line(result).startswith("Error: ")
    # The implicit xoi-invoices.toml of the working folder is read, and checked, too.
    (tmp_path / "xoi-invoices.toml").write_text(toml, encoding="utf-8")
    assert invoke(runner, "validate", "in.csv").exit_code == 2
    assert not (tmp_path / "output").exists()


def test_missing_config_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = invoke(runner, "validate", "in.csv", "--config", "nope.toml")
    assert result.exit_code == 2
    assert "nope.toml" in error_line(result)


@pytest.mark.parametrize(("variable", "value"), [
    ("XOI_BASE_URL", "http://insecure"), ("XOI_BASE_URL", "ftp://files.example"),
    ("XOI_BASE_URL", "https://[broken"), ("XOI_BASE_URL", "vision.xoeye.io"),
    ("XOI_SHARE_URL_TEMPLATE", "http://x.example/{share_id}"),
    ("XOI_SHARE_URL_TEMPLATE", "{base_url}/share"),
    ("XOI_SHARE_URL_TEMPLATE", "{base_url}/{ticket}/{share_id}"),
    ("XOI_SHARE_URL_TEMPLATE", "{base_url}/{share_id}/{}"),
    ("XOI_SHARE_URL_TEMPLATE", "{base_url}/{share_id!r}"),
    ("XOI_SHARE_URL_TEMPLATE", "{base_url}/{share_id"),
    ("XOI_SHARE_URL_TEMPLATE", '{base_url}/s/{share_id}?a="b"'),
    ("XOI_SHARE_URL_TEMPLATE", "{base_url}/s/{share_id}?x=<2>"),
    ("XOI_SHARE_URL_TEMPLATE", "{base_url}/s/{share_id}|{{x}}"),
])
def test_bad_share_url_configuration_exits_2(runner: CliRunner, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, variable: str,
                                             value: str) -> None:
    monkeypatch.setenv(variable, value)
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    for args in (("run", "in.csv"), ("validate", "in.csv"),
                 ("share-url", "WO-1", "--unpublished", "--share-id", LONG_ID)):
        result = invoke(runner, *args)
        assert result.exit_code == 2, (args, result.output)
        assert error_line(result).startswith("Error: ")
    assert not (tmp_path / "output/invoices").exists()


def test_http_base_url_says_https_only(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOI_BASE_URL", "http://insecure")
    result = invoke(runner, "share-url", "WO-1", "--unpublished", "--share-id", LONG_ID)
    assert result.exit_code == 2
    assert "https" in error_line(result) and "http://insecure" in error_line(result)
    assert result.stdout == ""


# --- validate ------------------------------------------------------------------------------


def test_validate_exit_0_and_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", confirmed="n")])
    before = folder_entries(tmp_path)
    result = invoke(runner, "validate", "in.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 2 work orders: 1 confirmed, 1 unconfirmed, 0 rejected, " \
        "0 warnings\n"
    assert result.stderr == ""
    assert folder_entries(tmp_path) == before


def test_validate_exit_1_prints_each_problem_and_writes_nothing(runner: CliRunner,
                                                                tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2", customer=" "),
                                    order("WO-3", invoice_date="28/11/2026")])
    (tmp_path / "xoi-invoices.toml").write_text('out = "toml-out"\n', encoding="utf-8")
    before = folder_entries(tmp_path)
    result = invoke(runner, "validate", "in.csv")
    assert result.exit_code == 1
    assert "1 confirmed, 0 unconfirmed, 2 rejected" in result.stdout
    assert result.stderr.splitlines() == [
        "in.csv:3: ticket WO-2: customer: required, but blank or missing",
        "in.csv:4: ticket WO-3: invoice_date: '28/11/2026' is not an ISO date (YYYY-MM-DD)",
    ]
    assert folder_entries(tmp_path) == before


def test_validate_warns_about_short_share_ids(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1", share_id="12345")])
    result = invoke(runner, "validate", "in.csv")
    assert result.exit_code == 0
    assert "1 warnings" in result.stdout
    assert result.stderr.startswith("warning: in.csv:2: ticket WO-1: share_id '12345' is all "
                                    "digits")


# --- share-url -----------------------------------------------------------------------------


def test_share_url_with_short_share_id_warns(runner: CliRunner) -> None:
    result = invoke(runner, "share-url", "WO-1", "--unpublished", "--share-id", "abc")
    assert result.exit_code == 0
    assert result.stdout == "https://vision.xoeye.io/share/abc\n"
    assert "warning: " in result.stderr and "short" in result.stderr


def test_share_url_long_share_id_no_warning(runner: CliRunner) -> None:
    result = invoke(runner, "share-url", "WO-1", "--unpublished", "--share-id", LONG_ID)
    assert result.exit_code == 0
    assert result.stdout == f"https://vision.xoeye.io/share/{LONG_ID}\n"
    assert result.stderr == NOT_ISSUED.format("WO-1")


def test_share_url_percent_encodes_the_share_id(runner: CliRunner) -> None:
    result = invoke(runner, "share-url", "WO-1", "--unpublished", "--share-id",
                    "a/b c?d#e%f&g=h+ü")
    assert result.exit_code == 0
    assert result.stdout == \
        "https://vision.xoeye.io/share/a%2Fb%20c%3Fd%23e%25f%26g%3Dh%2B%C3%BC\n"


def test_share_url_derives_the_share_id(runner: CliRunner) -> None:
    result = invoke(runner, "share-url", "WO-10421", "--unpublished")
    assert result.exit_code == 0
    share_id = derive_share_id(SECRET, PARTNER, "WO-10421")
    assert result.stdout == f"https://vision.xoeye.io/share/{share_id}\n"
    assert result.stderr == NOT_ISSUED.format("WO-10421")
    assert re.fullmatch(r"[0-9a-f]{32}", share_id)
    other = invoke(runner, "share-url", "WO-10422", "--unpublished").stdout
    assert other != result.stdout  # one link per ticket
    again = invoke(runner, "share-url", "WO-10421", "--unpublished")
    assert again.stdout == result.stdout  # stable


def test_share_url_without_secret_or_share_id(runner: CliRunner,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XOI_SHARE_SECRET")
    result = invoke(runner, "share-url", "WO-1", "--unpublished")
    assert result.exit_code == 2  # configuration, not a bad record
    assert "XOI_SHARE_SECRET" in error_line(result)
    assert result.stdout == ""


def test_share_url_template_from_environment(runner: CliRunner,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOI_SHARE_URL_TEMPLATE", "{base_url}/p/{partner_id}/s/{share_id}")
    monkeypatch.setenv("XOI_BASE_URL", "https://content.xoi.example/")
    monkeypatch.setenv("XOI_PARTNER_ID", "acme hvac/1")
    result = invoke(runner, "share-url", "WO-1", "--unpublished", "--share-id", LONG_ID)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"https://content.xoi.example/p/acme%20hvac%2F1/s/{LONG_ID}\n"


# --- precedence: option, then environment, then TOML ---------------------------------------


def test_out_option_beats_toml(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1", confirmed="no")])  # nothing to render
    (tmp_path / "conf.toml").write_text('out = "toml-out"\n', encoding="utf-8")
    result = invoke(runner, "run", "in.csv", "--config", "conf.toml", "--out", "option-out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "option-out/report.json").is_file()
    assert not (tmp_path / "toml-out").exists() and not (tmp_path / "output").exists()
    result = invoke(runner, "run", "in.csv", "--config", "conf.toml")
    assert result.exit_code == 0
    assert (tmp_path / "toml-out/report.json").is_file()


def test_environment_beats_toml_and_toml_serves_when_environment_is_silent(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xoi-invoices.toml").write_text(
        'partner_id = "toml-partner"\nshare_secret = "toml-secret"\n'
        'base_url = "https://toml.example"\n'
        'share_url_template = "{base_url}/t/{partner_id}/{share_id}"\n', encoding="utf-8")
    monkeypatch.setenv("XOI_SHARE_URL_TEMPLATE", "{base_url}/e/{partner_id}/{share_id}")
    result = invoke(runner, "share-url", "WO-1", "--unpublished")
    assert result.exit_code == 0, result.output
    share_id = derive_share_id(SECRET, PARTNER, "WO-1")
    assert result.stdout == f"https://toml.example/e/{PARTNER}/{share_id}\n"
    for name in ("XOI_PARTNER_ID", "XOI_SHARE_SECRET", "XOI_SHARE_URL_TEMPLATE"):
        monkeypatch.delenv(name)
    result = invoke(runner, "share-url", "WO-1", "--unpublished")
    share_id = derive_share_id("toml-secret", "toml-partner", "WO-1")
    assert result.stdout == f"https://toml.example/t/toml-partner/{share_id}\n"
    monkeypatch.setenv("XOI_BASE_URL", "https://env.example")
    result = invoke(runner, "share-url", "WO-1", "--unpublished", "--share-id", LONG_ID)
    assert result.stdout == f"https://env.example/t/toml-partner/{LONG_ID}\n"


def test_option_config_file_replaces_the_implicit_one(runner: CliRunner, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XOI_PARTNER_ID")
    (tmp_path / "xoi-invoices.toml").write_text('partner_id = "implicit"\n', encoding="utf-8")
    (tmp_path / "other.toml").write_text(
        'partner_id = "explicit"\nshare_url_template = "{base_url}/{partner_id}/{share_id}"\n',
        encoding="utf-8")
    result = invoke(runner, "share-url", "WO-1", "--unpublished", "--share-id", LONG_ID,
                    "--config", "other.toml")
    assert result.stdout == f"https://vision.xoeye.io/explicit/{LONG_ID}\n"


# --- regenerate ----------------------------------------------------------------------------


def test_regenerate_unknown_or_unconfirmed_ticket_exits_1(runner: CliRunner,
                                                          tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1", confirmed="no")])
    result = invoke(runner, "regenerate", "WO-9", "--input", "in.csv")
    assert result.exit_code == 1
    assert error_line(result) == "Error: ticket WO-9: is in none of the inputs; closest: 'WO-1'"
    result = invoke(runner, "regenerate", "WO-1", "--input", "in.csv")
    assert result.exit_code == 1
    assert error_line(result).startswith("Error: ticket WO-1: is not confirmed")


def test_validate_reports_in_file_order_and_reads_a_file_once(runner: CliRunner,
                                                              tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [
        order("WO-1"),
        order("WO-2", share_id="sharedSHAREid0123456789"),   # line 3: found by validation
        order("WO-3", share_id="sharedSHAREid0123456789", confirmed="maybe"),
        order("WO-4", share_id="sharedSHAREid0123456789"),   # line 5: found by the share stage
    ])
    result = invoke(runner, "validate", "in.csv", str(tmp_path / "in.csv"))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith(("in.csv", "/"))]
    assert [line.split(":")[1] for line in lines] == ["4", "5"], result.stderr
    assert "ticket WO-4: share_id:" in lines[1] and "WO-2" in lines[1]
    assert "checked 4 work orders" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("run", "in.csv", "--out", "afile/out"),
     "Error: afile/out: cannot create this folder: Not a directory"),
    (("launch", "in.csv", "--out", "afile/out"),
     "Error: afile/out: cannot create this folder: Not a directory"),
    (("templates", "export", "afile/templates"),
     "Error: afile/templates: cannot create this folder: Not a directory"),
    (("run", "in.csv", "--merge", "afile/all.pdf"),
     "Error: afile/all.pdf: afile is not a folder; name a file in a folder that exists "
     "(merging makes no folders)"),
    (("run", "in.csv", "--merge", "/proc/all.pdf"),
     "Error: /proc/all.pdf: cannot write: No such file or directory"),
])
def test_unwritable_output_is_one_error_line_exit_2(runner: CliRunner, tmp_path: Path,
                                                     args: tuple[str, ...],
                                                     message: str) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    (tmp_path / "afile").write_text("not a folder")
    result = invoke(runner, *args, *(("--workers", "1") if args[0] == "run" else ()))
    assert result.exit_code == 2
    assert error_line(result) == message


def test_merge_that_cannot_be_written_stops_the_run_before_rendering(runner: CliRunner,
                                                                    tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = invoke(runner, "run", "in.csv", "--merge", "/proc/all.pdf", "--workers", "1")
    assert result.exit_code == 2
    assert not (tmp_path / "output").exists()


def test_merge_of_a_folder_without_invoices_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1", confirmed="no")])
    assert invoke(runner, "run", "in.csv", "--merge", "all.pdf").exit_code == 0
    assert not (tmp_path / "all.pdf").exists()
    result = invoke(runner, "merge", "all.pdf")
    assert result.exit_code == 2
    assert error_line(result) == "Error: output: no invoices to merge"
    assert not (tmp_path / "all.pdf").exists()


def test_an_invoice_that_cannot_be_written_fails_alone(runner: CliRunner,
                                                       tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    (tmp_path / "output/invoices/INV-WO-1.pdf").mkdir(parents=True)
    result = invoke(runner, "run", "in.csv", "--workers", "1", "--quiet")
    assert result.exit_code == 1
    outcome = report(tmp_path / "output")
    assert outcome["rendered"] == ["WO-2"]
    assert outcome["failed"] == [{"service_ticket": "WO-1", "reason":
                                  "output/invoices/INV-WO-1.pdf: cannot write: Is a directory"}]


def test_output_files_get_the_usual_mode_not_owner_only(runner: CliRunner,
                                                        tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    assert invoke(runner, "run", "in.csv", "--workers", "1", "--merge", "all.pdf").exit_code == 0
    expected = 0o666 & ~_umask()
    for name in ("output/invoices/INV-WO-1.pdf", "output/manifest.csv", "output/report.json",
                 "all.pdf"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_share_url_of_an_invoiced_ticket_is_the_published_one(runner: CliRunner,
                                                              tmp_path: Path) -> None:
    """The input's share ID, not the derived one: the link the invoice carries."""
    write_csv(tmp_path / "in.csv", [order("WO-1", share_id=LONG_ID)])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    published = manifest(tmp_path / "output")[0]["share_url"]
    assert invoke(runner, "share-url", "WO-1").output == f"{published}\n"  # no note
    (tmp_path / "output").rename(tmp_path / "invoices")
    moved = invoke(runner, "share-url", "WO-1", "--out", "invoices")
    assert moved.output == f"{published}\n"
    assert invoke(runner, "share-url", "WO-1", "--unpublished").stderr == \
        NOT_ISSUED.format("WO-1")
    (tmp_path / "invoices").rename(tmp_path / "output")
    assert invoke(runner, "share-url", "WO-1", "--share-id", LONG_ID).stdout == f"{published}\n"
    changed = invoke(runner, "share-url", "WO-1", "--share-id", LONG_ID + "x")
    assert changed.exit_code == 1
    assert error_line(changed) == (f"Error: share_id: '{LONG_ID}x' differs from '{LONG_ID}', "
                                   "the share ID already published for this ticket (share "
                                   "IDs are immutable)")
    blank = invoke(runner, "share-url", "WO-1", "--share-id", " ")
    assert blank.exit_code == 2
    assert error_line(blank) == "Error: --share-id is blank; leave it out to derive the share ID"
    no_ticket = invoke(runner, "share-url", " ")
    assert no_ticket.exit_code == 2 and error_line(no_ticket) == "Error: TICKET is blank"
    write_csv(tmp_path / "in.csv", [order("WO-1", share_id=LONG_ID, confirmed="no")])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    withdrawn = invoke(runner, "share-url", "WO-1")
    assert withdrawn.stdout == f"{published}\n"
    assert withdrawn.stderr == ("note: the invoice of WO-1 in output/ was withdrawn (its work "
                                "order became unconfirmed); this is the URL it was issued "
                                "with\n")


def test_a_ledger_that_is_not_a_database_is_one_error_line(runner: CliRunner,
                                                           tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    (tmp_path / "output").mkdir()
    (tmp_path / "output/ledger.sqlite3").write_text("garbage " * 200)
    result = invoke(runner, "run", "in.csv", "--workers", "1")
    assert result.exit_code == 2
    assert error_line(result) == (
        "Error: output/ledger.sqlite3: the ledger cannot be used: file is not a database. "
        "Keep this file (it holds the published share IDs): free disk space or restore it "
        "from a backup")
    assert (tmp_path / "output/ledger.sqlite3").read_text() == "garbage " * 200


@pytest.mark.parametrize("target", ["output/invoices/INV-WO-1.pdf", "output/manifest.csv",
                                    "output/ledger.sqlite3", "output/invoices/new.pdf"])
def test_merged_file_never_replaces_what_the_folder_manages(runner: CliRunner, tmp_path: Path,
                                                            target: str) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "output").rglob("*") if p.is_file()}
    name = target.split("/")[1]
    message = f"Error: {target}: the merged file would replace {name} of the output folder; " \
        "write it elsewhere"
    for args in (("merge", target), ("run", "in.csv", "--force", "--merge", target)):
        result = invoke(runner, *args)
        assert result.exit_code == 2 and error_line(result) == message
    after = {p: p.read_bytes() for p in (tmp_path / "output").rglob("*") if p.is_file()}
    assert after == before
    assert invoke(runner, "merge", "output/print.pdf").exit_code == 0  # beside them is fine


def test_every_output_file_follows_the_umask(runner: CliRunner, tmp_path: Path) -> None:
    """A billing group with umask 002 shares the folder: the ledger and lock too."""
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    previous = os.umask(0o002)
    try:
        assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777
             for path in (tmp_path / "output").rglob("*") if path.is_file()}
    assert modes and set(modes.values()) == {0o664}, modes


def test_source_date_epoch_beyond_the_calendar_is_one_error_line(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "253402300800")
    result = invoke(runner, "run", "in.csv", "--workers", "1")
    assert result.exit_code == 2
    assert error_line(result) == ("Error: SOURCE_DATE_EPOCH=253402300800 is not a time in "
                                  "years 1970 to 9999")


def test_merged_file_never_replaces_a_device_fifo_or_link(runner: CliRunner,
                                                          tmp_path: Path) -> None:
    """Written as root, a merge onto /dev/null would have replaced the device."""
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    assert invoke(runner, "run", "in.csv", "--workers", "1").exit_code == 0
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "real.pdf").write_text("keep")
    (tmp_path / "link.pdf").symlink_to(tmp_path / "real.pdf")
    for target in ("fifo", "link.pdf", "/dev/null"):
        result = invoke(runner, "merge", target)
        assert result.exit_code == 2
        assert error_line(result) == f"Error: {target}: is not a regular file; write the " \
            "merged PDF to a new file or a regular one"
    assert (tmp_path / "fifo").is_fifo() and (tmp_path / "real.pdf").read_text() == "keep"


@pytest.mark.parametrize("command", [
    ["regenerate", "T-3 ", "--input", "x.csv"],
    ["run", "x.csv", "--only", " T-3"],
])
def test_a_command_about_one_ticket_answers_about_that_ticket(runner: CliRunner, tmp_path: Path,
                                                              command: list[str]) -> None:
    """The ticket is found however it was typed; other records' problems are counted and
    pointed to, not listed, and do not make the command fail."""
    write_csv(tmp_path / "x.csv", [order("T-1", customer=""), order("T-3"),
                                   order("T-5", confirmed="maybe")])
    result = invoke(runner, *command, "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == "2 other records have problems: xoi-invoices validate x.csv\n"
    assert result.stdout.startswith("rendered 1, unchanged 0, unconfirmed 0, rejected 0,")
    done = report(tmp_path / "output")
    assert done["rendered"] == ["T-3"] and done["rejected"] == []
    assert done["others_rejected"] == 2
    assert share_url_of(runner, "T-3") == manifest(tmp_path / "output")[0]["share_url"]


def share_url_of(runner: CliRunner, ticket: str) -> str:
    result = invoke(runner, "share-url", f" {ticket}\t")
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_a_ticket_named_on_the_command_line_is_checked_like_one_in_a_file(
        runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "x.csv", [order("T-3")])
    for args in (["regenerate", "T-\x073", "--input", "x.csv"], ["share-url", "T-\x073"],
                 ["run", "x.csv", "--only", "T-\x073"]):
        result = invoke(runner, *args)
        assert result.exit_code == 2
        assert error_line(result) == "Error: TICKET 'T-\\x073': holds control characters"
    blank = invoke(runner, "regenerate", " ", "--input", "x.csv")
    assert blank.exit_code == 2 and error_line(blank) == "Error: TICKET is blank"
