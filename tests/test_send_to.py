"""Sending one invoice to another address (``to``), and what a desk shows of a ticket's
deliveries (:func:`send.attempts`, :func:`send.next_mail`), through the real SMTP server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import batch, send, store
from pipeline.core.errors import ConfigError, LockedError
from pipeline.desk.index import Index
from pipeline.send import send_folder

from .conftest import ROOT, held, manifest, write_csv
from .smtp_server import SmtpServer
from .test_send import COMPANY, by_ticket, deliveries, orders, parts, render_settings, smtp_settings
from .test_send import out as rendered_copy
from .test_send import rendered as rendered_once
from .test_send import server as smtp_server

# test_send's fixtures: a copy of a folder rendered once per module, a real SMTP server.
out, rendered, server = rendered_copy, rendered_once, smtp_server


def _row(out: Path, ticket: str) -> dict[str, str]:
    return {row["service_ticket"]: row for row in manifest(out)}[ticket]


def test_one_invoice_goes_to_another_address_with_its_pdf(out: Path,
                                                         server: SmtpServer) -> None:
    settings = smtp_settings(out, server)
    first = send_folder(out, settings, only=["WO-1"])
    assert first.sent == ["WO-1"]
    customer = server.received[0].message
    server.received.clear()
    # Already sent to the customer: sent again, to the accountant, as the same message.
    outcome = send_folder(out, settings, only=[" WO-1\t"], to="Accounts@Elsewhere.example")
    assert outcome.sent == ["WO-1"] and outcome.already_sent == []
    [item] = server.received
    assert "Accounts@elsewhere.example" in item.rcpt_tos
    assert not any("customer1@" in address for address in item.rcpt_tos)
    assert str(item.message["To"]) == "Accounts@elsewhere.example"
    assert item.message["Message-ID"] == customer["Message-ID"]
    assert str(item.message["Subject"]) == str(customer["Subject"])
    _, _, pdf, _ = parts(item)
    assert hashlib.sha256(pdf).hexdigest() == _row(out, "WO-1")["sha256"]
    # deliveries.csv keeps naming the customer's delivery: a copy is not one.
    assert {row["service_ticket"]: row["recipient"] for row in deliveries(out)}["WO-1"] == \
        "customer1@example.com"
    ledger = store.open_ledger(out)
    assert ledger is not None
    try:
        tried = send.attempts(ledger, "WO-1")
        assert [(attempt.recipient, attempt.status, attempt.copy) for attempt in tried] == [
            ("Accounts@elsewhere.example", "sent", True),
            ("customer1@example.com", "sent", False)]
        assert tried[0].sha256 == _row(out, "WO-1")["sha256"]
        assert tried[0].message_id == item.message["Message-ID"] and tried[0].sent_at
        assert send.attempts(ledger, "WO-3") == []
    finally:
        ledger.close()


def test_a_ticket_never_sent_goes_only_to_the_other_address(out: Path,
                                                            server: SmtpServer) -> None:
    settings = smtp_settings(out, server)
    assert send_folder(out, settings, only=["WO-6"], to="someone@example.org").sent == \
        ["WO-6"]  # WO-6 has no bill_to_email: the other address is the only one
    assert list(by_ticket(server.received)) == ["WO-6"]
    assert "someone@example.org" in server.received[0].rcpt_tos
    # The customer's own send is still to come.
    assert send_folder(out, settings, only=["WO-1"]).sent == ["WO-1"]


def test_a_copy_to_accounts_payable_is_not_the_customers_delivery(out: Path,
                                                                 server: SmtpServer) -> None:
    settings = smtp_settings(out, server)
    sha256 = _row(out, "WO-1")["sha256"]
    assert send_folder(out, settings, only=["WO-1"], to="ap@elsewhere.example").sent == \
        ["WO-1"]
    ledger = store.open_ledger(out)
    assert ledger is not None
    try:
        index = Index(ledger.db)
        index.ensure()
        assert send.next_mail(ledger, "WO-1", sha256) == "first"
        [row] = [row for row in index.page(status="unsent", per_page=100).rows
                 if row.service_ticket == "WO-1"]
        assert (row.state, row.last_status, row.last_recipient) == ("unsent", "", "")
        assert [(attempt.recipient, attempt.copy) for attempt in
                send.attempts(ledger, "WO-1")] == [("ap@elsewhere.example", True)]
    finally:
        ledger.close()
    assert "WO-1" not in {row["service_ticket"] for row in deliveries(out)}
    server.received.clear()
    # The night's plain send still mails the customer, as a first message.
    outcome = send_folder(out, settings)
    assert "WO-1" in outcome.sent and "WO-1" not in outcome.already_sent
    customer = by_ticket(server.received)["WO-1"]
    assert any("customer1@" in address for address in customer.rcpt_tos)
    assert not str(customer.message["Subject"]).startswith("Corrected")
    assert {row["service_ticket"]: row["recipient"] for row in deliveries(out)}["WO-1"] == \
        "customer1@example.com"
    ledger = store.open_ledger(out)
    assert ledger is not None
    try:
        assert send.next_mail(ledger, "WO-1", sha256) == "sent"
        assert "WO-1" not in [row.service_ticket for row in
                              Index(ledger.db).page(status="unsent", per_page=100).rows]
        assert [attempt.copy for attempt in send.attempts(ledger, "WO-1")] == [False, True]
    finally:
        ledger.close()
    assert send_folder(out, settings, only=["WO-1"]).already_sent == ["WO-1"]


def test_a_deliveries_table_from_before_copies_gains_the_column(tmp_path: Path) -> None:
    db = store.Database(tmp_path / "ledger.sqlite3")
    try:
        db.script("CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                  "service_ticket TEXT NOT NULL, invoice_number TEXT NOT NULL, "
                  "recipient TEXT NOT NULL, sha256 TEXT NOT NULL, message_id TEXT NOT NULL, "
                  "status TEXT NOT NULL, tried_at TEXT NOT NULL, "
                  "sent_at TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '');"
                  "INSERT INTO deliveries (service_ticket, invoice_number, recipient, sha256, "
                  "message_id, status, tried_at) VALUES ('WO-1', 'N', 'a@b.example', 'x', "
                  "'<m>', 'sent', 't');")
        send.BillingFacts().create(db)
        send.BillingFacts().create(db)  # once only
        assert list(db.rows("SELECT service_ticket, copy FROM deliveries")) == [("WO-1", 0)]
    finally:
        db.close()


@pytest.mark.parametrize(("only", "to", "message"), [
    ((), "a@example.com", "to sends one named invoice: name it with only"),
    (("WO-1", "WO-2"), "a@example.com", "to sends one named invoice: name it with only"),
    (("WO-1",), "not-an-address", "to: 'not-an-address' is not an address to send to"),
    (("WO-1",), "a@example.com\nBcc: evil@example.com", "line break"),
])
def test_a_to_that_cannot_be_served_is_refused_before_anything_is_sent(
        out: Path, server: SmtpServer, only: tuple[str, ...], to: str, message: str) -> None:
    before = (out / "ledger.sqlite3").read_bytes()
    with pytest.raises(ConfigError, match=message):
        send_folder(out, smtp_settings(out, server), only=only, to=to)
    assert server.received == []
    assert not (out / "deliveries.csv").exists()
    assert (out / "ledger.sqlite3").read_bytes() == before


def test_next_mail_is_the_rule_a_send_follows(out: Path, server: SmtpServer,
                                              tmp_path: Path) -> None:
    settings = smtp_settings(out, server)
    original = _row(out, "WO-2")["sha256"]

    def next_mail(sha256: str) -> str:
        ledger = store.open_ledger(out)
        assert ledger is not None
        try:
            return send.next_mail(ledger, "WO-2", sha256)
        finally:
            ledger.close()

    assert next_mail(original) == "first"
    send_folder(out, settings)
    assert next_mail(original) == "sent"
    rows = orders()
    rows[1]["item_unit_price"] = "150.00"
    assert batch.run([write_csv(tmp_path / "changed.csv", rows)],
                     render_settings(out)).rendered == ["WO-2"]
    changed = _row(out, "WO-2")["sha256"]
    assert next_mail(changed) == "correction"
    server.received.clear()
    assert send_folder(out, settings).sent == ["WO-2"]
    assert str(server.received[0].message["Subject"]) == \
        f"Corrected invoice INV-WO-2 from {COMPANY}"
    assert next_mail(changed) == "sent" and next_mail(original) == "correction"


def test_attempts_and_next_mail_of_a_ledger_no_send_opened(tmp_path: Path) -> None:
    ledger = store.Ledger(tmp_path / "ledger.sqlite3")  # no send tables at all
    try:
        assert send.attempts(ledger, "WO-1") == []
        assert send.next_mail(ledger, "WO-1", "0" * 64) == "first"
    finally:
        ledger.close()


def test_what_a_desk_reads_of_deliveries_loads_no_mail_machinery() -> None:
    code = ("import sys\nfrom pipeline.send import Attempt, attempts, next_mail\n"
            "print(sorted(m for m in ('jinja2', 'smtplib', 'email_validator', "
            "'pipeline.send.outbox') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_send_waits_for_the_lock_as_run_does(out: Path, server: SmtpServer) -> None:
    settings = replace(smtp_settings(out, server), lock_timeout=5)
    with held(out, 1):
        started = time.monotonic()
        outcome = send_folder(out, settings, only=["WO-1"])
        waited = time.monotonic() - started
    assert outcome.sent == ["WO-1"] and waited >= 0.5
    # No wait asked for: the holder is named at once; a stop ends a wait.
    with held(out, 3) as holder:
        with pytest.raises(LockedError, match=f"pid {holder.pid} on "):
            send_folder(out, replace(settings, lock_timeout=0), only=["WO-2"])
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        with pytest.raises(LockedError, match="stopped while waiting"):
            send_folder(out, settings, only=["WO-2"], stop=stop)
        assert time.monotonic() - started < 2
    assert [item for item in server.received if "INV-WO-2" in str(item.message["Subject"])] \
        == []
