"""A real browser taps the launch button: what reaches XOi's share endpoint, byte for byte.

A tiny HTTP server on 127.0.0.1 serves the launch pages and stands in for XOi, recording
the POST it receives. Debian's Chromium, driven by Playwright (never a downloaded
browser), opens the index, follows the ticket's link and presses the button, once as a
phone and once as a desktop.
"""

from __future__ import annotations

import shlex
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from click.testing import CliRunner
from PIL import Image

from pipeline.cli import main
from pipeline.launch import page_name
from pipeline.link import derive_share_id

from .conftest import PARTNER, SECRET, order, write_csv

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}

TICKET = "WO 42/ü&1"
CUSTOMER = "Zoë \"Zee\" O'Brien & Søn <b>GmbH</b> · 北京华通机电工程有限公司"
LOCATION = "Friedrichstraße 148, 10117 Berlin\n北京市朝阳区建国路88号 2F & 3F"
TAGS = ["Heizung & Lüftung", "\"Notdienst\"", "维修", "a=b+c%20", "Heizung & Lüftung"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed "
                       "(Debian package chromium; `make test` installs it)"),
]


class FakeXoi(ThreadingHTTPServer):
    """Serves the launch folder and records every POST, as XOi's share endpoint would get it."""

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.folder = folder
        self.posts: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeXoi

    def do_GET(self) -> None:
        name = unquote(urlsplit(self.path).path).removeprefix("/launch/")
        pages = {path.name: path for path in self.server.folder.glob("*.html")}
        if name not in pages:
            self.reply(404, b"not found")
            return
        self.reply(200, pages[name].read_bytes())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.posts.append({"method": self.command, "path": self.path,
                                  "content_type": self.headers.get("Content-Type"),
                                  "body": body})
        self.reply(200, b"<!DOCTYPE html><title>XOi</title><p>activity started</p>")

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output to pytest's."""


@pytest.fixture
def xoi(tmp_path: Path) -> Any:
    server = FakeXoi(tmp_path / "output" / "launch")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_button_posts_every_field_url_encoded(tmp_path: Path, runner: CliRunner,
                                              monkeypatch: pytest.MonkeyPatch,
                                              xoi: FakeXoi) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("XOI_BASE_URL", xoi.base_url)
    source = write_csv(tmp_path / "in.csv", [
        order("WO-1"), order(TICKET, customer=CUSTOMER, location=LOCATION, share_id="",
                             confirmed="", tags="|".join(TAGS))])
    result = runner.invoke(main, ["launch", str(source)])
    assert result.exit_code == 0, result.output
    # Browsers send a line break in a form value as CRLF.
    expected = [("shareId", derive_share_id(SECRET, PARTNER, TICKET)),
                ("serviceTicket", TICKET), ("customer", CUSTOMER),
                ("location", LOCATION.replace("\n", "\r\n")), *(("tags", tag) for tag in TAGS)]

    shots = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_ARGS)
        try:
            for label, device in (("phone", {"viewport": PHONE, "is_mobile": True,
                                              "has_touch": True}),
                                  ("wide", {"viewport": WIDE})):
                context = browser.new_context(**device)
                page = context.new_page()
                page.set_default_timeout(20_000)
                page.goto(f"{xoi.base_url}/launch/index.html")
                page.get_by_role("link", name=TICKET).click()
                page.wait_for_url(f"**/launch/{page_name(TICKET)}")
                viewport = device["viewport"]
                # Responsive: nothing sticks out sideways, and the button is on the first
                # screen, big enough to tap.
                assert page.evaluate("document.documentElement.scrollWidth") \
                    <= viewport["width"]
                button = page.get_by_role("button", name="Open in XOi Vision")
                box = button.bounding_box()
                assert box is not None and box["height"] >= 44
                assert box["y"] + box["height"] <= viewport["height"]
                shots[label] = tmp_path / f"launch-{label}.png"
                page.screenshot(path=str(shots[label]))
                if label == "phone":
                    button.tap()
                else:
                    button.click()
                page.wait_for_url(f"**/partners/{PARTNER}/share")
                assert "activity started" in page.content()
                context.close()
        finally:
            browser.close()

    assert len(xoi.posts) == 2
    for post in xoi.posts:
        assert post["method"] == "POST"
        assert post["path"] == f"/partners/{PARTNER}/share"
        assert post["content_type"] == "application/x-www-form-urlencoded"
        body = post["body"].decode("ascii")  # UTF-8, percent-encoded: nothing else on the wire
        assert parse_qsl(body, keep_blank_values=True, strict_parsing=True) == expected
    # Support's curl command posts the same fields as the button.
    curl = runner.invoke(main, ["launch", "--ticket", TICKET, "--customer", CUSTOMER,
                                "--location", LOCATION, *(f"--tag={tag}" for tag in TAGS),
                                "--curl"])
    words = shlex.split(curl.stdout_bytes.decode())  # .stdout turns CRLF into LF
    assert words[3] == f"{xoi.base_url}/partners/{PARTNER}/share"
    assert [tuple(word.split("=", 1)) for word in words[5::2]] == expected
    for label, viewport in (("phone", PHONE), ("wide", WIDE)):
        assert shots[label].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(shots[label]) as image:
            assert image.size == (viewport["width"], viewport["height"])
            assert len(image.convert("L").getcolors() or []) > 16  # drawn, not a blank page
