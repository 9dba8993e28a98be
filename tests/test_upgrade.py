"""An upgrade that changes the render code's identity but not the bytes (the README's
"Upgrading"): the first run renders every invoice again, writes the same bytes, keeps no
history copy, and emails nobody twice. Against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import pipeline
from pipeline.core.config import Company, Settings, Smtp
from pipeline.render import identity
from pipeline.send import send_folder

from .conftest import PARTNER, SECRET, order, write_csv
from .smtp_server import PASSWORD, USER, SmtpServer

TICKETS = ["WO-1", "WO-2"]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    smtp = SmtpServer(tmp_path).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca_file))
    yield smtp
    smtp.stop()


def _digests(out: Path) -> dict[str, str]:
    return {pdf.name: hashlib.sha256(pdf.read_bytes()).hexdigest()
            for pdf in sorted((out / "invoices").glob("*.pdf"))}


def test_a_new_render_identity_rerenders_the_same_bytes_and_sends_nothing_again(
        tmp_path: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    source = write_csv(tmp_path / "in.csv", [order(ticket, bill_to_email=f"{ticket}@example.com")
                                             for ticket in TICKETS])
    company = Company(name="Zoë's Heating & Air")
    render = Settings(partner_id=PARTNER, share_secret=SECRET, out=out, workers=1,
                      company=company)
    mail = Settings(out=out, company=company,
                    smtp=Smtp(host="127.0.0.1", port=server.port, username=USER,
                              password=PASSWORD, sender="billing@heating.example"))
    assert sorted(pipeline.run([source], render).rendered) == TICKETS
    assert send_folder(out, mail).sent == TICKETS
    before = _digests(out)

    # What an upgrade does to the identity: the render code's modules are named otherwise.
    monkeypatch.setattr(identity, "RENDER_CODE", (*identity.RENDER_CODE, "pipeline.core.text"))
    assert sorted(pipeline.run([source], render).rendered) == TICKETS

    assert _digests(out) == before
    assert not any((out / "invoices" / "history").glob("**/*.pdf"))
    again = send_folder(out, mail)
    assert (again.sent, sorted(again.already_sent)) == ([], TICKETS)
    assert len(server.received) == len(TICKETS)
