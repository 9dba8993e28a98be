"""The billing desk through a real ``xoi-invoices serve`` on 127.0.0.1, spoken to over HTTP:
what a clerk gets, what an attacker does not, and what both leave in the ledger."""

from __future__ import annotations

import hashlib
import io
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from pipeline import batch
from pipeline.cli import main
from pipeline.core.config import Company, Settings
from pipeline.store import LEDGER, REPORT, OutputFolder

from .conftest import PARTNER, SECRET, order, report, write_csv
from .desk_server import Desk, Reply
from .smtp_server import PASSWORD, USER, SmtpServer

pytest.importorskip("starlette")

HOSTILE = '<script>alert("desk")</script> & Søn'
ENV = {"XOI_PARTNER_ID": PARTNER, "XOI_SHARE_SECRET": SECRET}


def orders() -> list[dict[str, str]]:
    rows = [order(f"WO-{n}", bill_to_email=f"customer{n}@example.com") for n in range(1, 5)]
    rows[2]["customer"] = HOSTILE
    rows.append(order("WO-9", confirmed="maybe"))  # rejected: line 6
    return rows


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("desk")
    source = write_csv(folder / "orders.csv", orders())
    settings = Settings(partner_id=PARTNER, share_secret=SECRET, out=folder / "out",
                        workers=1, company=Company(name="Zoë's Heating & Air"))
    outcome = batch.run([source], settings)
    assert sorted(outcome.rendered) == ["WO-1", "WO-2", "WO-3", "WO-4"], outcome
    return folder


@pytest.fixture
def folder(rendered: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(rendered, tmp_path / "desk"))


@pytest.fixture
def desk(folder: Path) -> Iterator[Desk]:
    served = Desk("--out", folder / "out", "--input", folder / "*.csv", env=ENV)
    yield served
    status, err = served.stop()
    assert status == 0, err
    assert "Traceback" not in err, err


def ledger_rows(out: Path, sql: str, *params: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(out / LEDGER) as db:
        return db.execute(sql, params).fetchall()


def issued(out: Path, ticket: str) -> dict[str, str]:
    (row,) = ledger_rows(out, "SELECT invoice_number, share_url, sha256, pdf FROM invoices "
                              "WHERE service_ticket = ?", ticket)
    return dict(zip(("number", "url", "sha256", "pdf"), map(str, row), strict=True))


def csp_ok(reply: Reply) -> None:
    policy = reply.header("Content-Security-Policy")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
    assert "http" not in policy  # nothing from another origin


# Signing in and who may ask ----------------------------------------------------------

def test_login_link_sets_a_strict_session_and_a_wrong_token_is_403(desk: Desk) -> None:
    anonymous = desk.client()
    assert anonymous.get("/healthz").text == "ok"
    redirected = anonymous.get("/")
    assert redirected.status == 303 and redirected.header("Location") == "/login"
    assert anonymous.get("/invoices/x.pdf", Accept="application/pdf").status == 401
    assert anonymous.get("/login?token=wrong").status == 403
    reply = anonymous.get(desk.login_url.split(desk.origin, 1)[1])
    assert reply.status == 303 and reply.header("Location") == "/"
    cookie = reply.header("Set-Cookie").lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert anonymous.get("/").status == 200


def test_every_answer_carries_the_policy_and_a_foreign_host_is_400(desk: Desk) -> None:
    clerk = desk.signed_in()
    for path in ("/", "/healthz", "/runs/last", "/validate", "/nowhere", "/invoices/nope"):
        csp_ok(clerk.get(path))
    foreign = clerk.request("GET", "/healthz", headers={"Host": "evil.example:80"})
    assert foreign.status == 400
    csp_ok(foreign)


def test_a_post_from_another_origin_changes_nothing(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    number = issued(folder / "out", "WO-1")["number"]
    path = f"/invoices/{quote(number, safe='')}/regenerate"
    fields = {"reason": "attack", "from": "configured"}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Sec-Fetch-Site": None, "Origin": "http://evil.example"},
                    {"Sec-Fetch-Site": None}):
        reply = clerk.post(path, fields, headers=headers)  # type: ignore[arg-type]
        assert reply.status == 403, (headers, reply)
    time.sleep(0.5)  # a job, had one been queued, would have started
    history = folder / "out" / "invoices" / "history"
    assert not history.exists() or not any(history.iterdir())
    assert ledger_rows(folder / "out", "SELECT COUNT(*) FROM desk_actions") == [(0,)]


def test_pdfs_come_only_from_the_ledger(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    row = issued(folder / "out", "WO-2")
    reply = clerk.get(f"/invoices/{quote(row['number'], safe='')}.pdf")
    assert reply.status == 200 and reply.header("Content-Type") == "application/pdf"
    assert reply.header("Cache-Control") == "no-store"
    assert hashlib.sha256(reply.body).hexdigest() == row["sha256"]
    assert reply.header("ETag").strip('"') == row["sha256"]
    assert (folder / "out" / "secret.pdf").write_bytes(b"%PDF-1.4 not yours")
    for path in ("/invoices/..%2Fsecret.pdf", "/invoices/../secret.pdf",
                 "/invoices/%2E%2E/%2E%2E/etc/passwd", f"/invoices/{row['number']}/versions/"
                 "..%2F..%2Fsecret.pdf", "/invoices/secret.pdf"):
        assert clerk.get(path).status == 404, path


def test_a_hostile_customer_is_text(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    page = clerk.get("/?q=" + quote("alert")).text
    assert HOSTILE not in page and "&lt;script&gt;alert(" in page
    number = issued(folder / "out", "WO-3")["number"]
    page = clerk.get(f"/invoices/{quote(number, safe='')}").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_an_upload_over_the_cap_is_413(desk: Desk) -> None:
    clerk = desk.signed_in()
    reply = clerk.request("POST", "/validate", body=b"x",
                          headers={"Content-Length": str(200 * 2**20),
                                   "Content-Type": "multipart/form-data; boundary=x"})
    assert reply.status == 413


# Finding and reading --------------------------------------------------------------------

def test_find_by_ticket_number_customer_and_email(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    number = issued(folder / "out", "WO-4")["number"]
    for query in ("wo-4", number.lower(), "customer wo-4", "customer4@EXAMPLE"):
        page = clerk.get("/?q=" + quote(query)).text
        assert f">{number}</a>" in page, query
        assert "WO-1</td>" not in page, query
    page = clerk.get("/?status=unsent").text
    assert "not sent yet" in page and f">{number}</a>" in page


def test_the_last_run_survives_a_regenerate(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    before = clerk.get("/runs/last").text
    night = report(folder / "out")
    (problem,) = night["rejected"]
    assert f"{problem['source']}:{problem['line']}" in before
    runner = CliRunner()
    result = runner.invoke(main, ["regenerate", "WO-1", "--input", str(folder / "orders.csv"),
                                  "--out", str(folder / "out")], env=ENV)
    assert result.exit_code == 0, result.output
    assert report(folder / "out")["command"] == "regenerate"
    after = clerk.get("/runs/last").text
    assert f"{problem['source']}:{problem['line']}" in after and "The folder is free" in after


def test_check_an_export_writes_nothing(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    ledger = folder / "out" / LEDGER
    stamp = (ledger.stat().st_mtime_ns, (folder / "out" / REPORT).read_bytes())
    write_csv(folder / "bad.tmp", [order("WO-50"), order("WO-51", item_quantity="lots")])
    reply = clerk.post("/validate", files={"export": ("tonight's orders.csv",
                                                      (folder / "bad.tmp").read_bytes())})
    assert reply.status == 200
    assert "tonight_s_orders.csv:3: ticket WO-51: item_quantity" in reply.text
    assert (ledger.stat().st_mtime_ns, (folder / "out" / REPORT).read_bytes()) == stamp
    refused = clerk.post("/validate", files={"export": ("orders.exe", b"MZ")})
    assert refused.status == 400 and "upload a .csv" in refused.text


def test_print_the_selected_invoices(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    numbers = [issued(folder / "out", ticket)["number"] for ticket in ("WO-1", "WO-2")]
    reply = clerk.post("/merge", {"invoice": numbers})
    assert reply.status == 200 and reply.header("Content-Type") == "application/pdf"
    assert len(PdfReader(io.BytesIO(reply.body)).pages) == 2


# Jobs that write ------------------------------------------------------------------------

def test_regenerate_keeps_number_link_and_history_and_records_who(desk: Desk,
                                                                   folder: Path) -> None:
    out = folder / "out"
    before = issued(out, "WO-2")
    rows = orders()
    rows[1]["item_unit_price"] = "130.00"
    write_csv(folder / "orders.csv", rows)
    clerk = desk.signed_in(name="Dana")
    path = f"/invoices/{quote(before['number'], safe='')}"
    assert clerk.post(f"{path}/regenerate", {"reason": "", "from": "configured"}).status == 400
    reply = clerk.post(f"{path}/regenerate", {"reason": "price corrected", "from": "configured"})
    assert reply.status == 303 and reply.header("Location").startswith("/jobs/")
    state, page = clerk.job(reply.header("Location"))
    assert state == "done", page
    assert "The content changed" in page and "mails it to the customer" in page
    after = issued(out, "WO-2")
    assert (after["number"], after["url"]) == (before["number"], before["url"])
    assert after["sha256"] != before["sha256"]
    kept = list((out / "invoices" / "history").glob("*.pdf"))
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in kept] == [before["sha256"]]
    assert ledger_rows(out, "SELECT who, reason FROM desk_actions") == \
        [("Dana", "price corrected")]
    invoice = clerk.get(path).text
    assert "Dana" in invoice and "price corrected" in invoice and "1 (" not in invoice
    version = clerk.get(f"{path}/versions/1.pdf")
    assert hashlib.sha256(version.body).hexdigest() == before["sha256"]


def test_a_job_waits_for_the_lock_and_can_be_cancelled(desk: Desk, folder: Path) -> None:
    out = folder / "out"
    clerk = desk.signed_in()
    number = quote(issued(out, "WO-1")["number"], safe="")
    released = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with OutputFolder(out).lock():
            held.set()
            released.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        first = clerk.post(f"/invoices/{number}/regenerate",
                           {"reason": "waits", "from": "configured", "nonce": "a"})
        state, page = clerk.job(first.header("Location"), until=("waiting",))
        assert state == "waiting" and "pid " in page and "since" in page
        second = clerk.post(f"/invoices/{number}/regenerate",
                            {"reason": "cancelled", "from": "configured", "nonce": "b"})
        assert clerk.post(second.header("Location") + "/cancel").status == 303
        state, page = clerk.job(second.header("Location"))
        assert state == "failed" and "cancelled" in page
        time.sleep(1)
        assert clerk.job(first.header("Location"), until=("waiting",))[0] == "waiting"
    finally:
        released.set()
        holder.join()
    state, page = clerk.job(first.header("Location"))
    assert state == "done", page


def test_ctrl_c_twice_cancels_a_waiting_job_and_exits_0(folder: Path) -> None:
    out = folder / "out"
    served = Desk("--out", out, "--input", folder / "*.csv", env=ENV)
    clerk = served.signed_in(name="Ann")
    number = quote(issued(out, "WO-1")["number"], safe="")
    with OutputFolder(out).lock():
        reply = clerk.post(f"/invoices/{number}/regenerate",
                           {"reason": "before the night", "from": "configured"})
        assert clerk.job(reply.header("Location"), until=("waiting",))[0] == "waiting"
        served.process.send_signal(signal.SIGINT)  # Ctrl-C twice, as an impatient clerk does
        status, err = served.stop(signal.SIGINT)
    assert status == 0 and "Traceback" not in err, err
    assert ledger_rows(out, "SELECT who, reason, outcome FROM desk_actions") == [
        ("Ann", "before the night", "failed: cancelled: the desk was stopped before it "
                                    "started")]


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


def test_resend_to_accounts_payable_sends_one_message_on_a_double_click(
        folder: Path, smtp: SmtpServer) -> None:
    config = folder / "xoi-invoices.toml"
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nusername = "{USER}"\n'
                      'from = "Billing <billing@heating.example>"\n', encoding="utf-8")
    served = Desk("--out", folder / "out", "--config", config,
                  env={**ENV, "SSL_CERT_FILE": str(smtp.ca_file),
                       "XOI_SMTP_PASSWORD": PASSWORD})
    try:
        clerk = served.signed_in(name="Lee")
        number = quote(issued(folder / "out", "WO-1")["number"], safe="")
        fields = {"reason": "AP asked for a copy", "to": "ap@builder.example", "nonce": "n1"}
        first = clerk.post(f"/invoices/{number}/send", fields)
        second = clerk.post(f"/invoices/{number}/send", fields)
        assert first.header("Location") == second.header("Location")
        state, page = clerk.job(first.header("Location"))
        assert state == "done" and "Accepted by the mail server for ap@builder.example" in page
        assert [message.rcpt_tos[0] for message in smtp.received] == ["ap@builder.example"]
        invoice = clerk.get(f"/invoices/{number}").text
        assert "copy: accepted by the mail server" in invoice and "Lee" in invoice
        assert "delivered" not in invoice.lower()
        # A copy to accounts payable is no delivery to the customer: still "not sent".
        assert "mails it to the customer: it was never sent" in invoice
        assert f">{issued(folder / 'out', 'WO-1')['number']}</a>" in \
            clerk.get("/?status=unsent").text
    finally:
        status, err = served.stop()
    assert status == 0, err


# Starting it ----------------------------------------------------------------------------

def test_serve_refuses_the_network_without_a_proxy(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--out", str(tmp_path), "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 2
    assert result.output.startswith("Error: --host 0.0.0.0 would show invoices")
    result = CliRunner().invoke(main, ["serve", "--out", str(tmp_path), "--auth-header", "X-U"])
    assert result.exit_code == 2 and "go together" in result.output


def test_behind_the_proxy_only_the_proxy_is_answered(folder: Path) -> None:
    served = Desk("--out", folder / "out", "--auth-header", "X-Forwarded-User",
                  "--trusted-proxy", "127.0.0.1", env=ENV)
    stranger = Desk("--out", folder / "out", "--auth-header", "X-Forwarded-User",
                    "--trusted-proxy", "127.0.0.2", env=ENV)
    try:
        proxy = served.client()
        assert proxy.get("/", X_Forwarded_User="kim@office").status == 200
        assert proxy.get("/").status == 401
        assert stranger.client().get("/", X_Forwarded_User="kim@office").status == 403
    finally:
        assert served.stop()[0] == 0
        assert stranger.stop()[0] == 0


# What a review found ----------------------------------------------------------------------

def test_forms_refuse_what_cannot_be_done_before_queueing(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    number = quote(issued(folder / "out", "WO-1")["number"], safe="")
    no_file = clerk.post(f"/invoices/{number}/regenerate", {"reason": "x", "from": "upload"})
    assert no_file.status == 400 and "choose the corrected export" in no_file.text
    bad_to = clerk.post(f"/invoices/{number}/send",
                        {"reason": "x", "to": "ap@example.com\r\nBcc: evil@example.com"})
    assert bad_to.status == 400 and "not an address to send to" in bad_to.text
    time.sleep(0.3)
    assert ledger_rows(folder / "out", "SELECT COUNT(*) FROM desk_actions") == [(0,)]
    # One form, two different requests: two jobs, not the first one twice.
    first = clerk.post(f"/invoices/{number}/regenerate",
                       {"reason": "one", "from": "configured", "nonce": "same"})
    other = clerk.post(f"/invoices/{number}/regenerate",
                       {"reason": "two", "from": "configured", "nonce": "same"})
    assert first.header("Location") != other.header("Location")
    for reply in (first, other):
        assert clerk.job(reply.header("Location"))[0] == "done"


def test_an_uploaded_export_outlives_a_wait_for_the_lock(desk: Desk, folder: Path) -> None:
    out = folder / "out"
    clerk = desk.signed_in()
    number = quote(issued(out, "WO-2")["number"], safe="")
    rows = orders()
    rows[1]["item_unit_price"] = "99.00"
    corrected = write_csv(folder / "fix.tmp", rows).read_bytes()
    with OutputFolder(out).lock():
        reply = clerk.post(f"/invoices/{number}/regenerate", {"reason": "fixed", "from": "upload"},
                           files={"export": ("fix.csv", corrected)})
        assert clerk.job(reply.header("Location"), until=("waiting",))[0] == "waiting"
        time.sleep(1.2)
    state, page = clerk.job(reply.header("Location"))
    assert state == "done" and "Rendered from fix.csv" in page and "content changed" in page


def test_the_login_page_tells_a_stranger_nothing(desk: Desk, folder: Path) -> None:
    page = desk.client().get("/login").text
    assert str(folder) not in page and "token" in page
    assert desk.client().get("/healthz", Host=desk.host.replace("127.0.0.1", "localhost")
                             ).status == 200


def test_a_restored_ledger_is_served(desk: Desk, folder: Path) -> None:
    clerk = desk.signed_in()
    assert clerk.get("/").status == 200
    out = folder / "out"
    shutil.move(out, folder / "out.bak")
    outcome = batch.run([folder / "orders.csv"], Settings(partner_id=PARTNER,
                                                          share_secret=SECRET, out=out,
                                                          workers=1))
    assert outcome.rendered
    page = clerk.get("/?q=wo-1")
    assert page.status == 200 and "WO-1</div></td>" in page.text


def test_a_damaged_ledger_or_a_short_token_is_one_error_line(folder: Path) -> None:
    runner = CliRunner()
    short = runner.invoke(main, ["serve", "--out", str(folder / "out"), "--port", "0"],
                          env={**ENV, "XOI_DESK_TOKEN": "short"})
    assert short.exit_code == 2 and short.output.startswith("Error: XOI_DESK_TOKEN: at least 16")
    (folder / "out" / LEDGER).write_bytes(b"not a database at all" * 100)
    for name in ("-wal", "-shm"):
        (folder / "out" / f"{LEDGER}{name}").unlink(missing_ok=True)
    damaged = runner.invoke(main, ["serve", "--out", str(folder / "out"), "--port", "0"],
                            env=ENV)
    assert damaged.exit_code == 2, damaged.output
    assert damaged.output.startswith("Error: ") and "ledger" in damaged.output
    assert "Desk:" not in damaged.output
    assert isinstance(damaged.exception, SystemExit)  # no traceback


def test_a_job_that_meets_the_lock_is_tried_again_and_cleaned_up_once(tmp_path: Path) -> None:
    from pipeline.core.errors import LockedError
    from pipeline.desk.jobs import Job, Jobs

    tries: list[str] = []
    cleaned: list[str] = []

    def work(job: Job) -> list[str]:
        tries.append(job.state)
        if len(tries) == 1:  # a command took the folder between the look and the take
            raise LockedError("another run holds the output folder's lock")
        assert not cleaned  # the upload is still there for the second try
        return ["done"]

    jobs = Jobs(tmp_path)
    jobs.start()
    job = jobs.submit(Job("regenerate", "WO-1", "INV-1", "Ann", "why", work,
                          cleanup=lambda: cleaned.append("x")), "key")
    deadline = time.monotonic() + 10
    while job.state != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs.stop()
    assert (job.state, tries, cleaned) == ("done", ["running", "running"], ["x"])
