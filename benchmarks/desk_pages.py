"""The desk's pages as a clerk's browser gets them: ``xoi-invoices serve`` over the bench's
1,000,000-invoice ledger, each page asked over HTTP on a new connection (the median of 5,
after one that warms the system's cache): the index's query plus everything else a page
does (the tab counts, each row's versions and delivery, the template)."""

from __future__ import annotations

import http.client
import os
import re
import secrets
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

TOKEN = secrets.token_urlsafe(24)
PAGES = (("page: first", "/"), ("page: unsent", "/?status=unsent"),
         ("page: search 'smith'", "/?q=smith"), ("page: search 'zenith' (old)", "/?q=zenith"),
         ("page: search ticket '10421'", "/?q=10421"), ("page: last night", "/runs/last"))


@contextmanager
def served(out: Path) -> Iterator[tuple[str, str]]:
    """The desk over ``out``: its ``HOST:PORT`` and a session cookie."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--out", str(out), "--port", "0"],
        stdout=subprocess.PIPE, env={**os.environ, "XOI_DESK_TOKEN": TOKEN})
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 600)
        line = process.stdout.readline().decode() if ready else ""
        host = urlsplit(line.removeprefix("Desk: ").strip()).netloc
        status, headers, _ = get(host, f"/login?token={TOKEN}")
        assert status == 303, (line, status)
        yield host, headers.get("Set-Cookie", "").split(";", 1)[0]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def get(host: str, path: str, cookie: str = "") -> tuple[int, http.client.HTTPMessage, bytes]:
    name, _, port = host.rpartition(":")
    connection = http.client.HTTPConnection(name, int(port), timeout=120)
    connection.request("GET", path, headers={"Host": host, "Cookie": cookie,
                                             "Accept": "text/html"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.headers, body


def measure_pages(out: Path) -> list[tuple[str, float]]:
    """Each page's median time in ms, the next page (by its cursor) among them."""
    times = []
    with served(out) as (host, cookie):
        pages = list(PAGES)
        _, _, first = get(host, "/", cookie)
        older = re.search(rb'href="(/\?after=[^"]+)" rel="next"', first)
        if older:
            pages.insert(1, ("page: the next (by cursor)", older[1].decode().replace("&amp;", "&")))
        for label, path in pages:
            get(host, path, cookie)
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                status, _, _ = get(host, path, cookie)
                runs.append((time.perf_counter() - started) * 1000)
                assert status == 200, (label, status)
            times.append((label, statistics.median(runs)))
    return times
