"""Email delivery against a real SMTP server (aiosmtpd, STARTTLS, AUTH) on 127.0.0.1.

What the server received is parsed back with the ``email`` package and compared with the
output folder: the attachment is the manifest's PDF, the link is the manifest's share URL.
"""

from __future__ import annotations

import csv
import email.utils
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from pipeline import batch
from pipeline.cli import main
from pipeline.core.addresses import to_address
from pipeline.core.config import Company, Settings, Smtp
from pipeline.core.models import Rendered
from pipeline.send import send_folder
from pipeline.send.log import HEADER
from pipeline.send.message import Envelope, MailTemplates
from pipeline.send.smtp import RateLimit
from pipeline.store import DELIVERIES, LEDGER, Ledger, OutputFolder
from pipeline.store import ledger as ledger_module
from pipeline.store import manifest as record

from .conftest import PARTNER, ROOT, SECRET, manifest, order, write_csv
from .smtp_server import PASSWORD, USER, Received, SmtpServer

COMPANY = "Zoë's Heating & Air"
SENDER = "Zoë Billing <billing@heating.example>"
TICKETS = ["WO-1", "WO-2", "WO-3", "WO-4"]
LINK_TEXT = "See the photos and videos of the work"


def orders() -> list[dict[str, str]]:
    rows = [order(ticket, bill_to_email=f"customer{ticket[3:]}@example.com",
                  due_date="2026-12-31") for ticket in TICKETS]
    rows[1]["bill_to_name"] = "Ærøskøbing Ølund"  # a To name that needs encoding
    rows.append(order("WO-5", bill_to_email="not-an-address"))
    rows.append(order("WO-6", bill_to_email=""))
    rows.append(order("WO-7", confirmed="no", bill_to_email="never@example.com"))
    return rows


def render_settings(out: Path) -> Settings:
    return Settings(partner_id=PARTNER, share_secret=SECRET, out=out, workers=1,
                    company=Company(name=COMPANY))


def smtp_settings(out: Path, server: SmtpServer, **smtp: object) -> Settings:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": server.port, "username": USER, "password": PASSWORD,
        "sender": SENDER, "reply_to": "office@heating.example",
        "bcc": "archive@heating.example", **smtp}
    return Settings(out=out, company=Company(name=COMPANY), smtp=Smtp(**values))


def config_toml(path: Path, server: SmtpServer, extra: str = "") -> Path:
    path.write_text(f'''[company]
name = "{COMPANY}"

[smtp]
host = "127.0.0.1"
port = {server.port}
username = "{USER}"
from = "{SENDER}"
reply_to = "office@heating.example"
bcc = "archive@heating.example"
{extra}''', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder with WO-1..WO-6 invoiced (WO-7 unconfirmed), rendered once."""
    folder = tmp_path_factory.mktemp("rendered")
    source = write_csv(folder / "in.csv", orders())
    outcome = batch.run([source], render_settings(folder / "out"))
    assert sorted(outcome.rendered) == [*TICKETS, "WO-5", "WO-6"], outcome
    return folder / "out"


@pytest.fixture
def out(rendered: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(rendered, tmp_path / "out"))


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    smtp = SmtpServer(tmp_path).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca_file))
    monkeypatch.setenv("XOI_SMTP_PASSWORD", PASSWORD)
    yield smtp
    smtp.stop()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("XOI_PARTNER_ID", "XOI_SHARE_SECRET"):
        monkeypatch.setenv(name, {"XOI_PARTNER_ID": PARTNER, "XOI_SHARE_SECRET": SECRET}[name])
    return CliRunner()


def cli(runner: CliRunner, *args: str | Path) -> Result:
    """Invoke the CLI; a Python exception escaping it (a traceback for a user) fails."""
    result = runner.invoke(main, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback instead of a message: {result.exception!r}")
    return result


def deliveries(out: Path) -> list[dict[str, str]]:
    text = (out / DELIVERIES).read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(HEADER)
    return list(csv.DictReader(io.StringIO(text, newline="")))


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.hrefs.append((self._href, data.strip()))
            self._href = None


def parts(received: Received) -> tuple[str, str, bytes, str]:
    message = received.message
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    # Line ends as a mail client shows them; on the wire they are CRLF.
    return (text.get_content().replace("\r\n", "\n"),
            html.get_content().replace("\r\n", "\n"), attachments[0].get_content(),
            attachments[0].get_filename() or "")


def by_ticket(received: list[Received]) -> dict[str, Received]:
    found = {}
    for item in received:
        number = re.search(r"INV-(\S+)", str(item.message["Subject"]))
        assert number is not None
        found[number[1]] = item
    return found


def test_each_invoice_goes_to_its_customer_with_the_manifests_pdf_and_link(
        out: Path, server: SmtpServer) -> None:
    outcome = send_folder(out, smtp_settings(out, server))
    assert sorted(outcome.sent) == TICKETS
    assert [(s.service_ticket, s.reason.split(":")[0]) for s in outcome.skipped] == [
        ("WO-5", "bill_to_email is not valid"), ("WO-6", "no bill_to_email in the work order")]
    assert not outcome.failed and not outcome.ok
    assert outcome.counts() == {"sent": 4, "failed": 0, "skipped": 2}
    rows = {row["service_ticket"]: row for row in manifest(out)}
    received = by_ticket(server.received)
    assert sorted(received) == TICKETS  # WO-7 (unconfirmed) never
    for ticket, item in received.items():
        row = rows[ticket]
        message = item.message
        address = f"customer{ticket[3:]}@example.com"
        assert item.mail_from == "billing@heating.example"
        assert item.rcpt_tos == [address, "archive@heating.example"]
        assert message["To"].addresses[0].addr_spec == address
        assert str(message["From"]) == SENDER
        assert str(message["Reply-To"]) == "office@heating.example"
        assert "Bcc" not in message  # the envelope carries it, no header shows it
        assert str(message["Subject"]) == f"Invoice {row['invoice_number']} from {COMPANY}"
        assert message["Message-ID"] == \
            f"<{row['invoice_number']}.{row['sha256'][:32]}@heating.example>"
        assert email.utils.parsedate_to_datetime(str(message["Date"])) is not None
        text, html, pdf, filename = parts(item)
        assert hashlib.sha256(pdf).hexdigest() == row["sha256"]
        assert pdf == (out / row["pdf"]).read_bytes()
        assert filename == Path(row["pdf"]).name == f"{row['invoice_number']}.pdf"
        assert f"{LINK_TEXT}:\n{row['share_url']}\n" in text
        links = Links()
        links.feed(html)
        assert (row["share_url"], LINK_TEXT) in links.hrefs
        for part in (text, html):
            assert "$125.00" in part and "December 31, 2026" in part
            assert row["invoice_number"] in part
    # Non-ASCII names and subject go out encoded, not raw 8-bit headers.
    raw = received["WO-2"].data.split(b"\r\n\r\n")[0]
    assert re.search(rb"^Subject: Invoice INV-WO-2 from =\?utf-8\?", raw, re.MULTILINE)
    assert re.search(rb"^To: =\?utf-8\?", raw, re.MULTILINE) and raw.isascii()
    assert received["WO-2"].message["To"].addresses[0].display_name == "Ærøskøbing Ølund"

    table = deliveries(out)
    assert [row["service_ticket"] for row in table] == [*TICKETS, "WO-5", "WO-6"]
    for row in table[:4]:
        assert row["status"] == "sent" and row["sha256"] == rows[row["service_ticket"]]["sha256"]
        assert row["message_id"] == received[row["service_ticket"]].message["Message-ID"]
        assert row["sent_at"] and row["reason"] == ""
    assert table[4]["status"] == "skipped" and table[4]["recipient"] == "not-an-address"
    assert table[4]["reason"].startswith("bill_to_email is not valid: ")
    assert table[5]["status"] == "skipped" and table[5]["sent_at"] == ""


def test_a_second_send_sends_nothing(out: Path, server: SmtpServer, runner: CliRunner,
                                     tmp_path: Path) -> None:
    config = config_toml(tmp_path / "send.toml", server)
    first = cli(runner, "send", "--out", out, "--config", config)
    assert first.exit_code == 1, first.output  # WO-5 and WO-6 are skipped
    assert "sent 4, failed 0, skipped 2, already sent 0" in first.stdout
    assert "skipped: ticket WO-5: bill_to_email is not valid: " in first.stderr
    before = (out / DELIVERIES).read_text()
    again = cli(runner, "send", "--out", out, "--config", config)
    assert "sent 0, failed 0, skipped 2, already sent 4" in again.stdout
    assert len(server.received) == 4
    assert [row["status"] for row in deliveries(out)] == ["sent"] * 4 + ["skipped"] * 2
    assert (out / DELIVERIES).read_text().splitlines()[:5] == before.splitlines()[:5]


def test_a_changed_invoice_is_sent_once_more_as_a_correction(
        out: Path, server: SmtpServer, tmp_path: Path) -> None:
    settings = smtp_settings(out, server)
    send_folder(out, settings)
    first = by_ticket(server.received)["WO-2"].message["Message-ID"]
    rows = orders()
    rows[1]["item_unit_price"] = "150.00"
    source = write_csv(tmp_path / "changed.csv", rows)
    assert batch.run([source], render_settings(out)).rendered == ["WO-2"]
    server.received.clear()
    outcome = send_folder(out, settings)
    assert outcome.sent == ["WO-2"] and sorted(outcome.already_sent) == \
        ["WO-1", "WO-3", "WO-4"]
    [item] = server.received
    row = {r["service_ticket"]: r for r in manifest(out)}["WO-2"]
    assert str(item.message["Subject"]) == f"Corrected invoice INV-WO-2 from {COMPANY}"
    assert item.message["Message-ID"] != first
    text, html, pdf, _ = parts(item)
    assert hashlib.sha256(pdf).hexdigest() == row["sha256"]
    assert "$150.00" in text and "replaces the one we sent you earlier" in text
    assert "Corrected invoice" in html
    assert {r["service_ticket"]: r["sha256"] for r in deliveries(out)}["WO-2"] == row["sha256"]
    server.received.clear()
    assert send_folder(out, settings).sent == []
    assert server.received == []
    # The correction is taken back: the first version is the invoice again, and the
    # customer, whose latest mail is the correction, gets it again, as a correction.
    assert batch.run([write_csv(tmp_path / "back.csv", orders())],
                     render_settings(out)).rendered == ["WO-2"]
    assert send_folder(out, settings).sent == ["WO-2"]
    [back] = server.received
    assert str(back.message["Subject"]) == f"Corrected invoice INV-WO-2 from {COMPANY}"
    assert back.message["Message-ID"] == first  # the same version, the same message


def test_a_withdrawn_invoice_is_never_sent(out: Path, server: SmtpServer,
                                           tmp_path: Path) -> None:
    rows = orders()
    rows[0]["confirmed"] = "no"
    source = write_csv(tmp_path / "withdrawn.csv", rows)
    assert batch.run([source], render_settings(out)).withdrawn == ["WO-1"]
    outcome = send_folder(out, smtp_settings(out, server))
    assert sorted(outcome.sent) == ["WO-2", "WO-3", "WO-4"]
    assert "WO-1" not in by_ticket(server.received)
    assert "WO-1" not in {row["service_ticket"] for row in deliveries(out)}


def test_a_refused_recipient_fails_alone_and_is_tried_again_next_time(
        out: Path, server: SmtpServer, runner: CliRunner, tmp_path: Path) -> None:
    server.handler.refuse["customer3@example.com"] = "550 5.1.1 <customer3>: no such mailbox"
    config = config_toml(tmp_path / "send.toml", server)
    result = cli(runner, "send", "--out", out, "--config", config, "--only", "WO-1",
                 "--only", "WO-3", "--only", "WO-4")
    assert result.exit_code == 1
    assert "failed: ticket WO-3: 550 5.1.1 <customer3>: no such mailbox" in result.stderr
    assert "sent 2, failed 1, skipped 0" in result.stdout
    assert sorted(by_ticket(server.received)) == ["WO-1", "WO-4"]  # nor the Bcc: WO-3
    row = {r["service_ticket"]: r for r in deliveries(out)}["WO-3"]
    assert (row["status"], row["sent_at"], row["reason"]) == \
        ("failed", "", "550 5.1.1 <customer3>: no such mailbox")
    server.handler.refuse.clear()
    again = cli(runner, "send", "--out", out, "--config", config, "--only", "WO-1",
                "--only", "WO-3", "--only", "WO-4")
    assert again.exit_code == 0, again.output
    assert sorted(by_ticket(server.received)) == ["WO-1", "WO-3", "WO-4"]
    assert {r["service_ticket"]: r["status"] for r in deliveries(out)}["WO-3"] == "sent"


def test_a_dropped_connection_is_retried_and_every_message_arrives_once(
        out: Path, server: SmtpServer) -> None:
    server.handler.drop_at = 2  # the second message: connection gone, server restarts
    outcome = send_folder(out, smtp_settings(out, server))
    assert sorted(outcome.sent) == TICKETS and not outcome.failed
    ids = [item.message["Message-ID"] for item in server.received]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert server.handler.attempts == 5


@pytest.fixture(scope="module")
def fifty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fifty")
    rows = [order(f"WO-{n:03}", bill_to_email=f"c{n}@example.com") for n in range(50)]
    source = write_csv(folder / "in.csv", rows)
    assert len(batch.run([source], render_settings(folder / "out")).rendered) == 50
    return folder / "out"


def _signalled(server: SmtpServer, count: int, command: list[str], signum: int
               ) -> tuple[subprocess.Popen[bytes], bytes, bytes]:
    """Run ``command`` in a child; signal it while the server takes message ``count``,
    before it answers."""
    process: subprocess.Popen[bytes] | None = None

    def in_flight(accepted: int) -> None:
        if accepted == count and process is not None:
            os.kill(process.pid, signum)

    server.handler.on_accept = in_flight
    process = subprocess.Popen([sys.executable, "-m", "pipeline", *command], cwd=ROOT,
                               env={**os.environ, "XOI_PARTNER_ID": PARTNER,
                                    "XOI_SHARE_SECRET": SECRET},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=120)
    server.handler.on_accept = None
    return process, stdout, stderr


def test_sigkill_in_the_middle_of_fifty_then_send_again_delivers_each_once(
        fifty: Path, server: SmtpServer, runner: CliRunner, tmp_path: Path) -> None:
    out = Path(shutil.copytree(fifty, tmp_path / "out"))
    config = config_toml(tmp_path / "send.toml", server)
    # The server has taken message 20; the sender dies before it hears "250".
    process, stdout, stderr = _signalled(
        server, 20, ["send", "--out", str(out), "--config", str(config), "--quiet"],
        signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL, (stdout, stderr)
    assert len(server.received) == 20
    in_flight = server.received[19].message["Message-ID"]

    result = cli(runner, "send", "--out", out, "--config", config, "--quiet")
    assert result.exit_code == 0, result.output
    expected = {f"<INV-WO-{r['service_ticket'][3:]}.{r['sha256'][:32]}@heating.example>"
                for r in manifest(out)}
    counts = Counter(item.message["Message-ID"] for item in server.received)
    assert set(counts) == expected
    assert {mid for mid, n in counts.items() if n > 1} <= {in_flight}
    assert max(counts.values()) <= 2
    assert [row["status"] for row in deliveries(out)] == ["sent"] * 50


def test_a_send_reads_the_manifest_a_page_at_a_time(
        fifty: Path, server: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = Path(shutil.copytree(fifty, tmp_path / "out"))
    monkeypatch.setattr(ledger_module, "_PER_PAGE", 7)
    monkeypatch.setattr(record, "ROWS_PER_PART", 4)
    outcome = send_folder(out, smtp_settings(out, server))
    assert outcome.counts() == {"sent": 50, "failed": 0, "skipped": 0}
    assert outcome.left == 0
    counts = Counter(item.message["Message-ID"] for item in server.received)
    assert len(counts) == 50 and set(counts.values()) == {1}
    table = deliveries(out)
    assert [row["service_ticket"] for row in table] == [f"WO-{n:03}" for n in range(50)]
    assert {row["status"] for row in table} == {"sent"}


def test_sigterm_finishes_the_message_in_flight_and_sends_no_more(
        fifty: Path, server: SmtpServer, runner: CliRunner, tmp_path: Path) -> None:
    out = Path(shutil.copytree(fifty, tmp_path / "out"))
    config = config_toml(tmp_path / "send.toml", server)
    process, stdout, stderr = _signalled(
        server, 20, ["send", "--out", str(out), "--config", str(config), "--quiet"],
        signal.SIGTERM)
    assert process.returncode == 143, (stdout, stderr)
    assert stdout.decode() == ("interrupted: sent 20, failed 0, skipped 0, 30 left for the "
                               "next send\n")
    assert stderr == b""
    assert len(server.received) == 20
    # The message in flight was accepted and recorded: nothing is sent twice.
    assert [row["status"] for row in deliveries(out)] == ["sent"] * 20
    result = cli(runner, "send", "--out", out, "--config", config, "--quiet")
    assert result.exit_code == 0, result.output
    assert "sent 30, failed 0, skipped 0, already sent 20" in result.stdout
    counts = Counter(item.message["Message-ID"] for item in server.received)
    assert len(counts) == 50 and set(counts.values()) == {1}


def test_sigterm_in_the_sending_of_run_send(fifty: Path, server: SmtpServer,
                                            tmp_path: Path) -> None:
    out = Path(shutil.copytree(fifty, tmp_path / "out"))
    config = config_toml(tmp_path / "send.toml", server)
    process, stdout, stderr = _signalled(server, 5, [
        "run", str(fifty.parent / "in.csv"), "--out", str(out), "--config", str(config),
        "--workers", "1", "--send", "--quiet"], signal.SIGTERM)
    assert process.returncode == 143, (stdout, stderr)
    assert stdout.decode() == ("interrupted: 0 rendered, 0 left for the next run; sent 5, "
                               "failed 0, skipped 0, 45 left for the next send\n")
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] is True and len(report["unchanged"]) == 50
    assert report["delivery"] == {"sent": 5, "failed": 0, "skipped": 0}
    assert [row["status"] for row in deliveries(out)] == ["sent"] * 5
    assert len(server.received) == 5


def test_authentication_refused_stops_with_exit_2(out: Path, server: SmtpServer,
                                                  runner: CliRunner, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOI_SMTP_PASSWORD", "wrong")
    result = cli(runner, "send", "--out", out, "--config",
                 config_toml(tmp_path / "send.toml", server))
    assert result.exit_code == 2
    assert result.output == (f"Error: the SMTP server 127.0.0.1:{server.port} refused the "
                             "login of 'billing': 535 5.7.8 Authentication credentials "
                             "invalid\n")
    assert "wrong" not in result.output and server.received == []


def test_the_password_never_shows(server: SmtpServer) -> None:
    settings = smtp_settings(Path("out"), server)
    assert PASSWORD not in repr(settings) and PASSWORD not in repr(settings.smtp)


def test_the_password_never_travels_to_a_cluster(server: SmtpServer) -> None:
    """What a Dask task carries is pickled to the scheduler and every worker."""
    import pickle

    from pipeline.render.cluster import bundle

    settings = replace(smtp_settings(Path("out"), server), send=True)
    assert settings.smtp.password == PASSWORD
    assert PASSWORD.encode() not in pickle.dumps(bundle(settings))


def test_a_held_lock_is_exit_75(out: Path, server: SmtpServer, runner: CliRunner,
                                tmp_path: Path) -> None:
    with OutputFolder(out).lock():
        result = cli(runner, "send", "--out", out, "--config",
                     config_toml(tmp_path / "send.toml", server))
    assert result.exit_code == 75
    assert result.output.startswith(f"Error: {out}: another run holds the output folder's "
                                    "lock (")
    assert f", pid {os.getpid()} on " in result.output
    assert server.received == [] and not (out / DELIVERIES).exists()
    with OutputFolder(out).lock():  # a usage error is one whatever the folder's state
        resend = cli(runner, "send", "--out", out, "--resend", "--config",
                     config_toml(tmp_path / "send.toml", server))
    assert resend.exit_code == 2 and resend.output.startswith("Error: --resend sends named")


def test_the_python_api_finds_a_ticket_however_it_is_typed(out: Path, server: SmtpServer) -> None:
    from pipeline.send import Outbox
    from pipeline.store import folder

    with folder.writing(out, new_ledger=False) as opened:
        delivered = Outbox(smtp_settings(out, server)).send(opened, only=[" WO-1\t"])
    assert delivered.sent == ["WO-1"] and sorted(by_ticket(server.received)) == ["WO-1"]


@pytest.mark.parametrize(("extra", "message"), [
    ('security = "none"\n', "Error: [smtp] security: 'none' sends the password and the "
     "invoices unencrypted; it is only allowed for a relay on this machine (127.0.0.1), "
     "not 'mail.example.com'\n"),
    ('security = "tls"\n', "Error: [smtp] security: 'tls' is not one of starttls, ssl, "
     "none\n"),
    ('hots = "x"\n', "Error: {config}:4: unknown key [smtp] 'hots'; did you mean 'host'?\n"),
    ('password = "x"\n', "Error: {config}:4: [smtp] password: not read from a file; set "
     "XOI_SMTP_PASSWORD in the environment\n"),
    ('bcc = "a@example.com\\nBcc: evil@example.com"\n', "Error: [smtp] bcc: must be one "
     "line\n"),
    ('reply_to = "nobody"\n', "Error: [smtp] reply_to: 'nobody': An email address must have "
     "an @-sign.\n"),
    ('max_per_minute = -1\n', "Error: {config}:4: [smtp] max_per_minute: -1 is not a valid "
     "value\n"),
])
def test_smtp_configuration_errors(runner: CliRunner, tmp_path: Path, out: Path,
                                   extra: str, message: str) -> None:
    config = tmp_path / "send.toml"
    config.write_text(f'[smtp]\nhost = "mail.example.com"\nfrom = "b@example.com"\n{extra}')
    result = cli(runner, "send", "--out", out, "--config", config)
    assert (result.exit_code, result.output) == (2, message.format(config=config))


def test_usage_errors(runner: CliRunner, tmp_path: Path, out: Path) -> None:
    config = tmp_path / "send.toml"
    config.write_text('[smtp]\nfrom = "b@example.com"\n')
    result = cli(runner, "send", "--out", out, "--config", config)
    assert (result.exit_code, result.output) == (
        2, "Error: no SMTP host: set [smtp] host in the configuration file\n")
    config.write_text('[smtp]\nhost = "mail.example.com"\n')
    result = cli(runner, "send", "--out", out, "--config", config)
    assert result.exit_code == 2 and result.output.startswith("Error: no sender: set [smtp] "
                                                              "from")
    config.write_text('[smtp]\nhost = "mail.example.com"\nfrom = "b@example.com"\n'
                      'username = "billing"\n')
    result = cli(runner, "send", "--out", out, "--config", config)
    assert (result.exit_code, result.output) == (
        2, "Error: [smtp] username is 'billing' but XOI_SMTP_PASSWORD is not set\n")
    config.write_text('[smtp]\nhost = "mail.example.com"\nfrom = "b@example.com"\n')
    result = cli(runner, "send", "--out", out, "--config", config, "--resend")
    assert (result.exit_code, result.output) == (
        2, "Error: --resend sends named invoices again: name them with --only TICKET\n")
    result = cli(runner, "send", "--out", out, "--config", config, "--only", "WO-7")
    assert (result.exit_code, result.output) == (
        1, f"Error: ticket WO-7: has no invoice in {out}/manifest.csv (not invoiced, or "
        "withdrawn): nothing to send; closest: 'WO-1', 'WO-2', 'WO-3'\n")
    result = cli(runner, "send", "--out", tmp_path / "empty", "--config", config)
    assert (result.exit_code, result.output) == (
        2, f"Error: {tmp_path / 'empty'}: has no invoices yet: `xoi-invoices run` renders "
        "them first\n")


def test_send_help_has_an_example(runner: CliRunner) -> None:
    result = cli(runner, "send", "--help")
    assert result.exit_code == 0
    assert "Example:\n" in result.output
    assert "xoi-invoices send --out output/ --only WO-10421 --resend" in result.output


def test_dry_run_prints_and_sends_nothing(out: Path, server: SmtpServer, runner: CliRunner,
                                          tmp_path: Path) -> None:
    config = config_toml(tmp_path / "send.toml", server)
    result = cli(runner, "send", "--out", out, "--config", config, "--dry-run")
    assert result.exit_code == 0, result.output  # a dry run only tells
    assert f"would send WO-1 to customer1@example.com: Invoice INV-WO-1 from {COMPANY}\n" \
        in result.stdout
    assert "dry run: would send 4, skip 2, already sent 0; nothing was sent" in result.stdout
    assert server.received == [] and not (out / DELIVERIES).exists()
    assert cli(runner, "send", "--out", out, "--config", config).exit_code == 1
    assert len(server.received) == 4


def test_resend_sends_the_same_message_again(out: Path, server: SmtpServer,
                                             runner: CliRunner, tmp_path: Path) -> None:
    config = config_toml(tmp_path / "send.toml", server)
    cli(runner, "send", "--out", out, "--config", config)
    result = cli(runner, "send", "--out", out, "--config", config, "--only", "WO-1",
                 "--resend")
    assert result.exit_code == 0, result.output
    assert "sent WO-1 to customer1@example.com" in result.stdout
    first, again = [item.message for item in server.received
                    if "INV-WO-1 " in str(item.message["Subject"])]
    assert first["Message-ID"] == again["Message-ID"]
    assert str(first["Subject"]) == str(again["Subject"])


def test_run_send_renders_then_sends_and_reports(server: SmtpServer, runner: CliRunner,
                                                 tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", orders())
    config = config_toml(tmp_path / "send.toml", server, "")
    config.write_text("send = true\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    result = cli(runner, "run", source, "--out", "o", "--workers", "1", "--config", config)
    assert result.exit_code == 1, result.output  # WO-5 and WO-6 have no valid address
    assert "sent 4, failed 0, skipped 2" in result.stdout
    report = json.loads((tmp_path / "o/report.json").read_text())
    assert report["delivery"] == {"sent": 4, "failed": 0, "skipped": 2}
    assert sorted(by_ticket(server.received)) == TICKETS


def test_run_send_holds_back_a_ticket_whose_correction_it_could_not_issue(
        server: SmtpServer, runner: CliRunner, tmp_path: Path) -> None:
    """The folder still has its earlier version: mailing that would bill the old amount."""
    rows = orders()
    source = write_csv(tmp_path / "in.csv", rows)
    config = config_toml(tmp_path / "send.toml", server, "")
    assert cli(runner, "run", source, "--out", "o", "--workers", "1", "--config",
               config).exit_code == 0
    rows[0]["tax_rate"] = "eight"  # the correction of WO-1 is rejected tonight
    write_csv(tmp_path / "in.csv", rows)
    result = cli(runner, "run", source, "--out", "o", "--workers", "1", "--send",
                 "--config", config)
    assert result.exit_code == 1, result.output
    assert "skipped: ticket WO-1: not sent: this run could not issue its current work order" \
        in result.stderr
    assert sorted(by_ticket(server.received)) == TICKETS[1:]
    rows[0]["tax_rate"] = ""
    write_csv(tmp_path / "in.csv", rows)
    assert cli(runner, "run", source, "--out", "o", "--workers", "1", "--send",
               "--config", config).exit_code == 1  # WO-5 and WO-6 are still skipped
    assert sorted(by_ticket(server.received)) == TICKETS


def test_run_send_checks_smtp_before_rendering(runner: CliRunner, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    result = cli(runner, "run", source, "--out", "o", "--send")
    assert (result.exit_code, result.output) == (
        2, "Error: no sender: set [smtp] from in the configuration file, e.g. from = \"Acme "
        "Billing <billing@acme.example>\"\n")
    assert not (tmp_path / "o").exists()


def test_header_values_cannot_be_injected(tmp_path: Path, out: Path) -> None:
    settings = Settings(out=out, company=Company(name="Acme\r\nBcc: evil@example.com"),
                        smtp=Smtp(host="127.0.0.1", sender=SENDER))
    templates = MailTemplates(settings)
    rendered = next(r for r in batch_ledger(out) if r.service_ticket == "WO-1")
    facts = {"bill_to": {"name": "Mallory\r\nBcc: evil@example.com", "email": "a@b.example"},
             "invoice_number": "INV-WO-1", "service_ticket": "WO-1", "location": "x",
             "po_number": "", "due_date": "2026-12-31"}
    envelope = Envelope.from_settings(settings.smtp)
    message = templates.build(rendered, facts, b"%PDF", envelope=envelope, correction=False,
                              to=to_address(facts["bill_to"]["name"], "a@b.example"))
    raw = message.as_bytes()
    headers = raw.split(b"\n\n")[0]
    assert b"\nBcc:" not in headers and b"\r\nBcc" not in headers
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert "Bcc" not in parsed
    assert str(parsed["Subject"]) == "Invoice INV-WO-1 from Acme Bcc: evil@example.com"
    assert parsed["To"].addresses[0].display_name == "Mallory Bcc: evil@example.com"


def batch_ledger(out: Path) -> list[Rendered]:
    book = Ledger(out / LEDGER)
    try:
        return list(book.each())
    finally:
        book.close()


def test_rate_limit_waits_for_the_minute_to_pass() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limit = RateLimit(3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limit.wait()
        now[0] += 1
    assert slept == []
    limit.wait()  # the fourth within the minute waits until the first is 60 s old
    assert slept == [57.0]
    assert RateLimit(0, clock=lambda: 0.0, sleep=sleep).wait() is None and slept == [57.0]


def test_templates_override_the_email(out: Path, server: SmtpServer, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "email.txt").write_text("Hi {{ invoice.bill_to.name }}: {{ share_url }}\n")
    settings = smtp_settings(out, server)
    settings = Settings(out=out, company=settings.company, smtp=settings.smtp,
                        templates=mine)
    send_folder(out, settings, only=["WO-1"])
    text, html, _, _ = parts(server.received[0])
    url = manifest(out)[0]["share_url"]
    assert text == f"Hi Customer WO-1: {url}\n"
    assert LINK_TEXT in html  # the built-in HTML part still


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (Debian "
                    "package chromium; `make test` installs it)")
@pytest.mark.parametrize(("label", "viewport"), [("phone", {"width": 390, "height": 844}),
                                                 ("wide", {"width": 1280, "height": 800})])
def test_the_html_part_in_a_browser(out: Path, server: SmtpServer, tmp_path: Path,
                                    label: str, viewport: dict[str, int]) -> None:
    from playwright.sync_api import sync_playwright

    send_folder(out, smtp_settings(out, server), only=["WO-2"])
    _, html, _, _ = parts(server.received[0])
    url = {row["service_ticket"]: row for row in manifest(out)}["WO-2"]["share_url"]
    shot = tmp_path / f"email-{label}.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            page.set_default_timeout(20_000)
            page.set_content(html)
            link = page.get_by_role("link", name=LINK_TEXT)
            assert link.get_attribute("href") == url
            box = link.bounding_box()
            # The link is on the first screen, big enough to tap, and nothing is cut off.
            assert box is not None and box["height"] >= 40
            assert box["y"] + box["height"] <= viewport["height"]
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            body = page.inner_text("body")
            assert "Dear Ærøskøbing Ølund," in body and "$125.00" in body
            assert "December 31, 2026" in body and COMPANY in body
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    with Image.open(shot) as image:
        assert image.size[0] == viewport["width"]
        assert len(image.convert("L").getcolors() or []) > 16  # drawn, not a blank page


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production backoff (1, 4, 15 s) made short; the retry logic is the real one."""
    monkeypatch.setattr("pipeline.send.outbox.RETRY_DELAYS", (0.05, 0.1, 0.2))


def test_a_temporary_refusal_is_tried_again_then_fails(out: Path, server: SmtpServer,
                                                      quick_retries: None) -> None:
    server.handler.refuse_once["customer1@example.com"] = "451 4.7.1 greylisted, come back"
    server.handler.refuse["customer3@example.com"] = "452 4.2.2 mailbox full"
    outcome = send_folder(out, smtp_settings(out, server), only=TICKETS)
    assert sorted(outcome.sent) == ["WO-1", "WO-2", "WO-4"]
    assert [(f.service_ticket, f.reason) for f in outcome.failed] == [
        ("WO-3", "452 4.2.2 mailbox full (tried 4 times)")]
    assert sorted(by_ticket(server.received)) == ["WO-1", "WO-2", "WO-4"]


def test_a_server_that_puts_off_every_message_is_not_hammered_all_night(
        out: Path, server: SmtpServer, quick_retries: None) -> None:
    for ticket in TICKETS:
        server.handler.refuse[f"customer{ticket[3:]}@example.com"] = "421 4.7.0 over quota"
    outcome = send_folder(out, smtp_settings(out, server), only=TICKETS)
    assert outcome.sent == [] and server.received == []
    reasons = {failure.service_ticket: failure.reason for failure in outcome.failed}
    assert [reasons[ticket].endswith("(tried 4 times)") for ticket in TICKETS[:3]] == \
        [True] * 3
    assert reasons["WO-4"].startswith("not tried: ") and "3 messages in a row were put " \
        "off: the server is throttling or over a quota" in reasons["WO-4"]


def test_an_unreachable_server_fails_the_rest_untried_and_the_next_send_sends_them(
        out: Path, server: SmtpServer, quick_retries: None) -> None:
    server.stop()
    outcome = send_folder(out, smtp_settings(out, server), only=TICKETS)
    assert outcome.sent == [] and [f.service_ticket for f in outcome.failed] == TICKETS
    assert outcome.failed[0].reason.startswith(
        f"cannot reach the SMTP server 127.0.0.1:{server.port}: ")
    assert all(f.reason.startswith("not tried: cannot reach") for f in outcome.failed[1:])
    assert [row["status"] for row in deliveries(out)] == ["failed"] * 4
    server.start()
    assert sorted(send_folder(out, smtp_settings(out, server)).sent) == TICKETS
    assert len(server.received) == 4


def test_an_untrusted_certificate_is_a_configuration_error(
        out: Path, server: SmtpServer, runner: CliRunner, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    result = cli(runner, "send", "--out", out, "--config",
                 config_toml(tmp_path / "send.toml", server))
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: TLS with the SMTP server 127.0.0.1:{server.port} "
                                    "failed: CERTIFICATE_VERIFY_FAILED")
    assert server.received == []


@pytest.mark.parametrize("security", ["ssl", "none"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS
def test_implicit_tls_and_a_local_relay(out: Path, tmp_path: Path, security: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    relay = SmtpServer(tmp_path, security=security).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(relay.ca_file))
    try:
        extra = {"security": security, **({"username": ""} if security == "none" else {})}
        outcome = send_folder(out, smtp_settings(out, relay, **extra), only=["WO-1"])
    finally:
        relay.stop()
    assert outcome.sent == ["WO-1"] and len(relay.received) == 1


def test_json_log(out: Path, server: SmtpServer, runner: CliRunner, tmp_path: Path) -> None:
    result = cli(runner, "send", "--out", out, "--config",
                 config_toml(tmp_path / "send.toml", server), "--log-format", "json")
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events].count("sent") == 4
    assert events[-1]["event"] == "summary"
    assert {k: events[-1][k] for k in ("sent", "failed", "skipped", "already_sent")} == \
        {"sent": 4, "failed": 0, "skipped": 2, "already_sent": 0}
    assert result.stdout == ""


def test_a_broken_email_template_is_named(out: Path, runner: CliRunner, tmp_path: Path,
                                          server: SmtpServer) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "email.html").write_text("<p>{{ invoice.invoice_number }</p>\n")
    result = cli(runner, "send", "--out", out, "--templates", mine, "--config",
                 config_toml(tmp_path / "send.toml", server))
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {mine / 'email.html'}:1: email template error: ")
    assert server.received == []


def test_an_email_template_that_fails_while_rendering_is_one_error(
        out: Path, runner: CliRunner, tmp_path: Path, server: SmtpServer) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "email.txt").write_text("{{ (invoice.total ~ '') * 1.1 }}\n")
    result = cli(runner, "send", "--out", out, "--templates", mine, "--config",
                 config_toml(tmp_path / "send.toml", server))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {mine / 'email.txt'}:1: email template error: "
                                    "can't multiply sequence")
    assert server.received == []


def test_regenerate_send_mails_the_correction_of_that_ticket_only(
        out: Path, server: SmtpServer, runner: CliRunner, tmp_path: Path) -> None:
    config = config_toml(tmp_path / "send.toml", server)
    send_folder(out, smtp_settings(out, server), only=TICKETS)
    server.received.clear()
    rows = orders()
    rows[2]["item_quantity"] = "2"
    source = write_csv(tmp_path / "fixed.csv", rows)
    result = cli(runner, "regenerate", "WO-3", "--input", source, "--out", out, "--workers",
                 "1", "--config", config, "--send")
    assert result.exit_code == 0, result.output
    [item] = server.received
    assert str(item.message["Subject"]) == f"Corrected invoice INV-WO-3 from {COMPANY}"
    assert "$250.00" in parts(item)[0]
    assert json.loads((out / "report.json").read_text())["delivery"] == \
        {"sent": 1, "failed": 0, "skipped": 0}


def test_editing_an_email_template_renders_no_invoice_again(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "email.txt").write_text("Hello\n")
    settings = replace(render_settings(tmp_path / "out"), templates=mine)
    source = write_csv(tmp_path / "in.csv", [order("WO-1")])
    assert batch.run([source], settings).rendered == ["WO-1"]
    (mine / "email.txt").write_text("Hello again\n")
    (mine / "email.html").write_text("<p>Hello</p>\n")
    assert batch.run([source], settings).unchanged == ["WO-1"]


def test_templates_export_includes_the_email_templates(runner: CliRunner,
                                                       tmp_path: Path) -> None:
    result = cli(runner, "templates", "export", "mine")
    assert result.exit_code == 0, result.output
    for name in ("email.txt", "email.html"):
        assert (tmp_path / "mine" / name).read_bytes() == \
            (ROOT / "templates" / name).read_bytes()


def test_a_folder_rendered_before_delivery_existed_is_sent_after_its_next_run(
        out: Path, server: SmtpServer, tmp_path: Path) -> None:
    book = Ledger(out / LEDGER)
    book.db.execute("DELETE FROM invoice_mail")
    book.close()
    outcome = send_folder(out, smtp_settings(out, server), only=["WO-1"])
    assert outcome.skipped[0].reason.startswith("the ledger has no billing details")
    source = write_csv(tmp_path / "same.csv", orders())
    assert batch.run([source], render_settings(out)).rendered == []  # nothing re-rendered
    assert send_folder(out, smtp_settings(out, server), only=["WO-1"]).sent == ["WO-1"]
