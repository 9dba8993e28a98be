"""Never a traceback, never a terminal escape: whatever the input, the configuration, the
mapping or the moment a signal comes, a user reads one clear line.

The terminal checks run the real command in a subprocess and read the bytes it writes;
the signal checks send real signals to the real console script.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from pipeline.cli import main
from pipeline.core.models import Outcome, Problem, Rendered
from pipeline.store import manifest as record

from .conftest import ENV, order, write_csv, write_json

HOSTILE = "T\x1b]0;PWNED\x07\x9b2J\u202e\u2028"  # OSC title, C1 CSI, bidi override, LS
SHOWN = "T\\x1b]0;PWNED\\x07\\x9b2J\\u202e\\u2028"  # as the command prints it
# What must never reach a terminal: ESC, BEL, C1 CSI (as UTF-8), RLO, LINE SEPARATOR.
RAW = (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode(), "\u2028".encode())


def command(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], cwd=cwd,
                          env={**os.environ, **ENV, **env}, capture_output=True, timeout=120)


def assert_harmless(done: subprocess.CompletedProcess[bytes]) -> None:
    for stream in (done.stdout, done.stderr):
        assert b"Traceback" not in stream, stream
        for byte in RAW:
            assert byte not in stream, (byte, stream)


def invoke(runner: CliRunner, *args: str | Path) -> Result:
    result = runner.invoke(main, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


# --- item 9: terminal control characters -----------------------------------------------------


def test_hostile_names_reach_the_terminal_as_escapes(tmp_path: Path) -> None:
    # A file name, a ticket, a customer, a CSV column, a JSON key and a mapping key.
    named = write_csv(tmp_path / f"orders{HOSTILE}.csv",
                      [order("WO-1", confirmed="maybe", **{HOSTILE: "1"}),
                       order(HOSTILE, customer=HOSTILE)])
    done = command(["validate", named], tmp_path)
    assert done.returncode == 1
    assert_harmless(done)
    assert f"orders{SHOWN}.csv:2: " in done.stderr.decode()
    missing = command(["validate", tmp_path / f"gone{HOSTILE}.csv"], tmp_path)
    assert missing.returncode == 2
    assert_harmless(missing)
    keyed = write_json(tmp_path / "keys.json", [{**order("WO-2"), HOSTILE: "1"}])
    for args in (["validate", keyed], ["run", keyed, "--out", "o1", "--log-format", "json"]):
        done = command(args, tmp_path)
        assert_harmless(done)
    (tmp_path / "m.toml").write_text('[fields]\n"cu\\u001b]0;X\\u0007stomer" = "x"\n'
                                     'location = "Job\\u009b2J Address"\n', encoding="utf-8")
    done = command(["validate", named, "--mapping", "m.toml"], tmp_path)
    assert done.returncode == 2
    assert_harmless(done)
    assert done.stderr.decode() == ("Error: m.toml: [fields] cu\\x1b]0;X\\x07stomer: unknown "
                                    "key; did you mean 'customer'?\n")
    (tmp_path / "m.toml").write_text('[fields]\nlocation = "Job\\u009b2J\\u202eAddress"\n',
                                     encoding="utf-8")
    done = command(["validate", named, "--mapping", "m.toml"], tmp_path)
    assert done.returncode == 2
    assert_harmless(done)
    assert "names column 'Job\\x9b2J\\u202eAddress' (location)" in done.stderr.decode()
    # The file's own columns, listed (surrounding spaces, U+2028 too, do not count).
    assert done.stderr.decode().endswith(", " + SHOWN.removesuffix("\\u2028") + "\n")


def test_a_message_printed_outside_the_console_is_made_harmless_too(tmp_path: Path) -> None:
    """``verify`` prints the manifest's own cells: the command's streams escape them."""
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    assert command(["run", source, "--workers", "1", "--quiet"], tmp_path).returncode == 0
    manifest = tmp_path / "output/manifest.csv"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("INV-WO-1.pdf", f"INV-WO-1{HOSTILE}.pdf"),
                        encoding="utf-8")
    done = command(["verify"], tmp_path)
    assert done.returncode == 1
    assert_harmless(done)
    assert "\\u001b]0;PWNED\\u0007\\u009b2J\\u202e\\u2028" in done.stderr.decode()


def test_the_progress_bar_still_draws_on_a_terminal(tmp_path: Path) -> None:
    """Its own escape sequences (hiding the cursor while it draws) pass the filter."""
    source = write_csv(tmp_path / "in.csv", [order("WO-1"), order("WO-2")])
    terminal, side = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(source),
                                "--workers", "1"], cwd=tmp_path, env={**os.environ, **ENV},
                               stdin=side, stdout=side, stderr=side)
    os.close(side)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the command has ended: its side of the terminal is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    assert process.wait(timeout=60) == 0
    assert b"\x1b[?25lrendering  [" in shown and b"2/2" in shown
    assert b"\\x1b" not in shown


def test_importing_the_package_loads_nothing_heavy(tmp_path: Path) -> None:
    """What lets the command take Ctrl-C before WeasyPrint and Babel load; the public
    names still work."""
    done = subprocess.run([sys.executable, "-c", (
        "import sys, pipeline; loaded = set(sys.modules); "
        "from pipeline import Settings, XoiError, run; "
        "print(sorted(m for m in loaded if m.startswith(('weasyprint', 'babel', 'click', "
        "'pipeline.')))); print(Settings().currency, run.__module__, XoiError.__module__)")],
        capture_output=True, text=True, check=True, cwd=tmp_path)
    assert done.stdout == "[]\nUSD pipeline.batch.orchestrator pipeline.core.errors\n"


def test_json_log_and_report_keep_the_data_and_escape_it(tmp_path: Path) -> None:
    source = write_csv(tmp_path / f"x{HOSTILE}.csv", [order("WO-1", confirmed="maybe")])
    done = command(["run", source, "--out", "out", "--log-format", "json"], tmp_path)
    assert done.returncode == 1
    assert_harmless(done)
    events = [json.loads(line) for line in done.stderr.decode().splitlines()]
    # A log collector, and a program reading the report, get the name back exactly.
    assert [event["source"] for event in events if event["event"] == "rejected"] == \
        [str(source)]
    report = (tmp_path / "out/report.json").read_bytes()
    assert json.loads(report)["rejected"][0]["source"] == str(source)
    for byte in RAW:
        assert byte not in report


def test_report_and_manifest_write_any_text(tmp_path: Path) -> None:
    """A lone surrogate (no encoding can write one) or a control character anywhere in the
    data: report.json and manifest.csv are still written, and the report's data reads back
    unchanged."""
    odd = "x\udc00\x1b\x9b\u202e"
    problem = Problem(source=odd, line=1, service_ticket=odd, reason=odd)
    outcome = Outcome(read=1, confirmed=0, rejected=[problem])
    data = json.loads(record.report_json(outcome))
    assert data["rejected"] == [{"source": odd, "line": 1, "service_ticket": odd,
                                 "reason": odd}]
    item = Rendered(service_ticket=odd, invoice_number=odd, customer=odd, share_id=odd,
                    share_url=odd, pdf=odd, sha256=odd, pages=1, total=Decimal("1.50"),
                    currency="USD")
    text = b"".join(record.manifest_csv([item])).decode()
    assert "x\\udc00\x1b" in text


def test_a_surrogate_in_a_key_still_writes_the_report(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(
        '[{"service_ticket": "WO-1", "customer": "C", "location": "L", "confirmed": "yes",'
        ' "x\\udc00": 1}]', encoding="utf-8")
    for args in (["run", "s.json", "--out", "o1"],
                 ["run", "s.json", "--out", "o2", "--log-format", "json"]):
        done = command(args, tmp_path)
        assert done.returncode == 1, done.stderr
        assert_harmless(done)
        out = tmp_path / args[3]
        assert json.loads((out / "report.json").read_bytes())["rejected"][0]["line"] == 1
    for line in done.stderr.decode().splitlines():
        json.loads(line)  # every line of the JSON log is JSON


# --- item 8: configuration and mapping files ---------------------------------------------------


CONFIGURATIONS = [
    (b'partner_id = "p"\nname = "\xff"\n',
     "c.toml:2: the configuration is not UTF-8 text (byte 0xff); save it as UTF-8"),
    (b'\xef\xbb\xbfpartner_id = "p"\n\n[company]\nname = "Caf\xe9"\n',
     "c.toml:4: the configuration is not UTF-8 text (byte 0xe9); save it as UTF-8"),
    (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n",
     "c.toml: invalid TOML: arrays or tables nested too deeply"),
    (b"a = " + b"{b = " * 5000 + b"1" + b"}" * 5000 + b"\n",
     "c.toml: invalid TOML: arrays or tables nested too deeply"),
    (b'workers = 2\nwokers = 3\n', "c.toml:2: unknown key 'wokers'; did you mean 'workers'?"),
    (b'[company]\nnmae = "x"\n', "c.toml:2: unknown key [company] 'nmae'; did you mean 'name'?"),
    (b'[smtp]\nhots = "x"\n', "c.toml:2: unknown key [smtp] 'hots'; did you mean 'host'?"),
    (b'zebra = 1\n', "c.toml:1: unknown key 'zebra'"),
    (b'company = "Acme"\n', "c.toml:1: 'company': expected a table [company]"),
    (b'\n[company]\npayment_terms_days = -1\n',
     "c.toml:3: [company] payment_terms_days: -1 is not a valid value"),
    *((f'{key} = "a\\u0000b"\n'.encode(), f"c.toml:1: {key}: holds control characters")
      for key in ("out", "mapping", "merge", "templates", "partner_id")),
    (b'[company]\nlogo = "logo\\u0000.png"\nname = "A\\u001b]0;X\\u0007"\n',
     "c.toml:2: [company] logo: holds control characters"),
    (b'[company]\nname = "A\\u009b2J"\n', "c.toml:2: [company] name: holds control characters"),
    (b'out = "~nosuchuser/invoices"\n',
     "c.toml:1: out: '~nosuchuser/invoices': no home folder for '~nosuchuser' here"),
]
MAPPINGS = [
    (b'[fields]\ncustomer = "Kunde"\n[format]\ndecimal = "\xff"\n',
     "m.toml:4: the mapping is not UTF-8 text (byte 0xff); save it as UTF-8"),
    (b"[values]\nnotes = " + b"[" * 5000 + b"]" * 5000 + b"\n",
     "m.toml: invalid TOML: arrays or tables nested too deeply"),
    *((f'[format]\nencoding = "{name}"\n'.encode(),
       f"m.toml:2: [format] encoding: '{name}' is not a known text encoding like utf-8 or "
       "cp1252") for name in ("rot13", "base64", "hex", "zlib", "uu", "quopri", "idna",
                              "punycode", "undefined", "klingon")),
    (b'[format]\nencoding = 8\n',
     "m.toml:2: [format] encoding: 8 is not a known text encoding like utf-8 or cp1252"),
    (b'[format]\nencoding = "utf\\u00008"\n',
     "m.toml:2: [format] encoding: 'utf\\x008' is not a known text encoding like utf-8 or "
     "cp1252"),
]


@pytest.mark.parametrize(("option", "content", "message"), [
    *(("--config", content, message) for content, message in CONFIGURATIONS),
    *(("--mapping", content, message) for content, message in MAPPINGS),
])
def test_a_bad_configuration_or_mapping_file_is_one_line_exit_2(
        runner: CliRunner, tmp_path: Path, option: str, content: bytes, message: str) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    name = message.split(":", 1)[0]
    (tmp_path / name).write_bytes(content)
    result = invoke(runner, "validate", "in.csv", option, name)
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


def test_a_secret_with_control_characters_is_refused_without_showing_it(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOI_SHARE_SECRET", "s3cret\x01value")
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = invoke(runner, "validate", "in.csv")
    assert (result.exit_code, result.stderr) == (
        2, "Error: XOI_SHARE_SECRET: share_secret: holds control characters\n")


def test_a_configuration_or_mapping_that_is_no_file_is_refused_at_once(
        runner: CliRunner, tmp_path: Path) -> None:
    """A named pipe with no writer is not waited on, a device is not read without end."""
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    os.mkfifo(tmp_path / "pipe.toml")
    for option, what in (("--config", "configuration"), ("--mapping", "mapping")):
        for name, problem in (("pipe.toml", "a named pipe or a device, not a file"),
                              ("/dev/zero", "a named pipe or a device, not a file"),
                              ("gone.toml", "no such file")):
            result = invoke(runner, "validate", "in.csv", option, name)
            assert (result.exit_code, result.stderr) == (
                2, f"Error: {name}: cannot read the {what}: {problem}\n")


def test_text_encodings_stay_accepted(runner: CliRunner, tmp_path: Path) -> None:
    for name in ("utf-16", "latin-1", "cp037", "utf-8"):
        write_csv(tmp_path / "in.csv", [order("WO-1", customer="Zoë")])
        text = (tmp_path / "in.csv").read_text(encoding="utf-8")
        (tmp_path / "in.csv").write_text(text, encoding=name)
        (tmp_path / "m.toml").write_text(f'[format]\nencoding = "{name}"\n')
        result = invoke(runner, "validate", "in.csv", "--mapping", "m.toml")
        assert result.exit_code == 0, (name, result.output)


# --- item 10: the logo and the share URL --------------------------------------------------------


def _logo_config(tmp_path: Path, logo: str) -> str:
    (tmp_path / "c.toml").write_text(f'partner_id = "p"\n[company]\nlogo = "{logo}"\n')
    return "c.toml"


def test_a_logo_that_cannot_be_one_stops_the_command(runner: CliRunner, tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    (tmp_path / "art.png").mkdir()
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "huge.svg").write_bytes(b"<svg/>" + b" " * 6_000_000)
    for logo, message in (
            ("art.png", "[company] logo: a folder, not a file"),
            ("pipe.png", "[company] logo: a named pipe or a device, not a file"),
            ("none.png", "[company] logo: no such file"),
            ("huge.svg", "[company] logo: 6.0 MB is too large for a logo (at most 5 MB)")):
        result = invoke(runner, "run", "in.csv", "--config", _logo_config(tmp_path, logo))
        assert (result.exit_code, result.stderr) == (2, f"Error: {logo}: {message}\n")
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize(("size", "shown"), [
    ((10_000, 10_000), "10,000 x 10,000 pixels"),  # past Pillow's warning
    ((20_000, 10_000), "more than 179 megapixels"),  # past Pillow's error
    ((6_000, 5_000), "6,000 x 5,000 pixels"),
])
def test_a_logo_of_too_many_pixels_is_refused_without_a_warning(
        tmp_path: Path, size: tuple[int, int], shown: str) -> None:
    Image.new("1", size).save(tmp_path / "logo.png")
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    done = command(["run", source, "--config", _logo_config(tmp_path, "logo.png")], tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode() == (f"Error: logo.png: [company] logo: {shown} is too large "
                                    "for a logo (at most 25 megapixels)\n")


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("XOI_SHARE_URL_TEMPLATE", "https://vision.xoeye.io@evil.example/share/{share_id}",
     "share_url_template: 'https://vision.xoeye.io@evil.example/share/probe' opens "
     "evil.example: what comes before \"@\" is a user name, which a share URL has none of"),
    ("XOI_SHARE_URL_TEMPLATE", "https://user:pw@vision.xoeye.io/share/{share_id}",
     "share_url_template: 'https://user:pw@vision.xoeye.io/share/probe' opens "
     "vision.xoeye.io: what comes before \"@\" is a user name, which a share URL has none of"),
    ("XOI_SHARE_URL_TEMPLATE", "https://vision.xoeye.io%2f.evil.example/{share_id}",
     "share_url_template: 'https://vision.xoeye.io%2f.evil.example/probe': "
     "'vision.xoeye.io%2f.evil.example' is not a host name"),
    ("XOI_BASE_URL", "https://vision.xoeye.io@evil.example",
     "base_url: 'https://vision.xoeye.io@evil.example' opens evil.example: what comes before "
     "\"@\" is a user name, which a share URL has none of"),
    *(("XOI_SHARE_URL_TEMPLATE", template,
       f"share_url_template {template!r}: write the host out, then \"/\", before any "
       "placeholder (or start with {base_url}), so that no partner id or share ID can change "
       "the host") for template in ("https://{partner_id}.xoeye.io/s/{share_id}",
                                    "https://vision.xoeye.io{share_id}",
                                    "https://vision.xoeye.io:{partner_id}/s/{share_id}",
                                    "https://{share_id}@vision.xoeye.io/",
                                    "https://vision.xoeye.io.{share_id}/s")),
    *(("XOI_SHARE_URL_TEMPLATE", template,
       f"share_url_template {template!r}: \"/\" must follow {{base_url}}, or what follows it "
       "would be part of its host") for template in ("{base_url}.evil.example/{share_id}",
                                                     "{base_url}{share_id}",
                                                     "{base_url}@evil.example/{share_id}")),
])
def test_a_share_url_whose_host_could_change_is_refused(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str,
        value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    for args in (("validate", "in.csv"), ("run", "in.csv")):
        result = invoke(runner, *args)
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n"), args


@pytest.mark.parametrize("template", ["{base_url}/share/{share_id}",
                                      "{base_url}?id={share_id}",
                                      "https://x.example/s/{partner_id}/{share_id}",
                                      "https://x.example/{base_url}/{share_id}",
                                      "https://x.example#{share_id}",
                                      "https://[::1]:8443/{share_id}"])
def test_a_share_url_with_a_fixed_host_is_accepted(runner: CliRunner, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   template: str) -> None:
    monkeypatch.setenv("XOI_SHARE_URL_TEMPLATE", template)
    write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = invoke(runner, "validate", "in.csv")
    assert result.exit_code == 0, result.output


# --- item 8: signals at any moment ---------------------------------------------------------


def _handles_sigterm(pid: int) -> bool:
    """Whether the process catches SIGTERM, which Python does not by default: the
    command's first instruction has run."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone already: its output says what happened
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & 1 << (signal.SIGTERM - 1))


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Valid work orders enough to keep ``validate`` busy for seconds, quietly."""
    return write_csv(tmp_path_factory.mktemp("signals") / "big.csv",
                     [order(f"WO-{n:06}") for n in range(40_000)])


@pytest.mark.parametrize("script", ["xoi-invoices", "-m"])
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_at_any_moment_is_one_line_and_its_status(
        tmp_path: Path, big_export: Path, script: str, signum: int, status: int) -> None:
    start = [str(Path(sys.executable).with_name("xoi-invoices"))] if script != "-m" \
        else [sys.executable, "-m", "pipeline"]
    for delay in (0, 0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
        process = subprocess.Popen([*start, "validate", str(big_export)], cwd=tmp_path,
                                   env={**os.environ, **ENV}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not _handles_sigterm(process.pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)  # while the modules load, the settings are read, the file is
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
        assert (process.returncode, out, err) == (
            status, b"", f"interrupted by {signal.Signals(signum).name}\n".encode()), delay
