"""A clerk at the billing desk in a real browser (Debian's Chromium through Playwright):
signs in with the printed link, finds a ticket, checks the PDF, re-renders it, sends it
twice with a double click, as a laptop (1280 px) and as a phone (390 px), and the browser
reports no Content-Security-Policy violation and runs no script from the data."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import batch
from pipeline.core.config import Company, Settings
from pipeline.store import LEDGER

from .conftest import PARTNER, SECRET, order, write_csv
from .desk_server import Desk
from .smtp_server import PASSWORD, USER, SmtpServer
from .test_launch_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, WIDE

pytest.importorskip("starlette")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

HOSTILE = '<img src=x onerror=alert(1)><script>alert("desk")</script> Müller & Søn'
ENV = {"XOI_PARTNER_ID": PARTNER, "XOI_SHARE_SECRET": SECRET}
# Elements that reach past the window's right edge: none, or the page scrolls sideways.
WIDEST = """() => [...document.querySelectorAll('body *')].filter(
    e => e.getBoundingClientRect().right > window.innerWidth + 1).map(
    e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
# Set to a folder to keep the screenshots for a person to look at.
SHOTS = os.environ.get("XOI_DESK_SCREENSHOTS")


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[Desk, Path, SmtpServer]]:
    rows = [order(f"WO-{n}", bill_to_email=f"customer{n}@example.com",
                  customer=f"Customer {n}") for n in range(1, 8)]
    rows[2]["customer"] = HOSTILE
    source = write_csv(tmp_path / "orders.csv", rows)
    company = Company(name="Zoë's Heating & Air")
    batch.run([source], Settings(partner_id=PARTNER, share_secret=SECRET,
                                 out=tmp_path / "out", workers=1, company=company))
    smtp = SmtpServer(tmp_path).start()
    config = tmp_path / "xoi-invoices.toml"
    config.write_text(f'[company]\nname = "{company.name}"\n\n[smtp]\nhost = "127.0.0.1"\n'
                      f'port = {smtp.port}\nusername = "{USER}"\n'
                      'from = "Billing <billing@heating.example>"\n', encoding="utf-8")
    desk = Desk("--out", tmp_path / "out", "--input", tmp_path / "*.csv", "--config", config,
                env={**ENV, "SSL_CERT_FILE": str(smtp.ca_file), "XOI_SMTP_PASSWORD": PASSWORD})
    yield desk, tmp_path, smtp
    status, err = desk.stop()
    smtp.stop()
    assert status == 0 and "Traceback" not in err, err


def sha256_in_ledger(out: Path, ticket: str) -> str:
    with sqlite3.connect(out / LEDGER) as db:
        (row,) = db.execute("SELECT sha256 FROM invoices WHERE service_ticket = ?", (ticket,))
    return str(row[0])


def test_a_clerk_finds_checks_rerenders_and_resends(office: tuple[Desk, Path, SmtpServer],
                                                     tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    desk, folder, smtp = office
    violations: list[str] = []
    dialogs: list[str] = []
    shots: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for label, viewport in (("laptop", WIDE), ("phone", PHONE)):
                context = browser.new_context(viewport=viewport)
                page = context.new_page()
                page.on("console", lambda message: violations.append(message.text)
                        if "Content Security Policy" in message.text else None)
                page.on("dialog", lambda dialog: (dialogs.append(dialog.message),
                                                  dialog.dismiss()))
                page.goto(desk.login_url)
                assert page.url == f"{desk.origin}/"
                page.fill("#clerk-name", f"Dana ({label})")
                page.click("form.clerk button")
                page.fill("#q", "müller")
                page.keyboard.press("Enter")
                page.wait_for_url("**/?q=*")
                rows = page.locator("table.list tbody tr")
                assert rows.count() == 1
                assert HOSTILE in rows.first.inner_text()  # the data, as text
                shots.append(_shot(page, tmp_path, f"list-{label}"))
                page.click("table.list tbody tr a")
                page.wait_for_selector("iframe")
                href = page.locator("section.pdf p > a").first.get_attribute("href")
                pdf = page.request.get(f"{desk.origin}{href}")
                assert pdf.headers["content-type"] == "application/pdf"
                assert hashlib.sha256(pdf.body()).hexdigest() == \
                    sha256_in_ledger(folder / "out", "WO-3")
                assert page.evaluate(WIDEST) == [], label
                shots.append(_shot(page, tmp_path, f"invoice-{label}"))
                page.fill("#regen-reason", "customer name corrected")
                page.click("#regen button.primary, form[action$='/regenerate'] button")
                page.wait_for_url("**/jobs/*")
                page.wait_for_selector("#state:text-matches('done|failed')", timeout=60000)
                assert page.inner_text("#state") == "done", page.inner_text("main")
                shots.append(_shot(page, tmp_path, f"job-{label}"))
                context.close()
            # Send once to accounts payable, with a double click.
            context = browser.new_context(viewport=WIDE)
            page = context.new_page()
            page.on("console", lambda message: violations.append(message.text)
                    if "Content Security Policy" in message.text else None)
            page.goto(desk.login_url)
            page.fill("#q", "WO-5")
            page.keyboard.press("Enter")
            page.click("table.list tbody tr a")
            page.fill("#to", "ap@builder.example")
            page.fill("#send-reason", "AP needs a copy")
            page.dblclick("form[action$='/send'] button")
            # Two submissions: the browser abandons the first navigation for the second.
            deadline = time.monotonic() + 30
            while "/jobs/" not in page.url and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            page.wait_for_load_state()
            page.wait_for_selector("#state:text-matches('done|failed')", timeout=60000)
            assert page.inner_text("#state") == "done", page.inner_text("main")
            page.goto(f"{desk.origin}/runs/last")
            shots.append(_shot(page, tmp_path, "last-night"))
            context.close()
        finally:
            browser.close()
    assert [message.rcpt_tos for message in smtp.received] == [["ap@builder.example"]]
    assert not violations, violations
    assert not dialogs, dialogs
    for shot in shots:
        assert shot.stat().st_size > 10_000


def _shot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"desk-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)
    return path
