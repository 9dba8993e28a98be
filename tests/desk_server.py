"""The billing desk as a user runs it: ``xoi-invoices serve`` in a process of its own on
127.0.0.1, and a small HTTP client that sends exactly the headers a test chooses (Host,
Origin, Sec-Fetch-Site, the session cookie) and follows no redirect by itself."""

from __future__ import annotations

import http.client
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

TOKEN = "desk-token-for-tests-0123456789"


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


class Desk:
    """``xoi-invoices serve`` started by a test; :meth:`stop` sends SIGTERM."""

    def __init__(self, *args: str | Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        environ = {**os.environ, "XOI_DESK_TOKEN": TOKEN, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, cwd=cwd)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("Desk: "):
            self.process.kill()
            _, err = self.process.communicate()
            raise AssertionError(f"the desk did not start: {line!r} {err.decode()!r}")
        self.login_url = line.removeprefix("Desk: ").strip()
        parts = urlsplit(self.login_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc

    def client(self) -> Client:
        return Client(self.host)

    def signed_in(self, name: str = "") -> Client:
        client = self.client()
        path = urlsplit(self.login_url)
        reply = client.get(f"{path.path}?{path.query}" + (f"&name={name}" if name else ""))
        assert reply.status == 303, reply
        return client

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """``sig``; the exit status and what it wrote on stderr."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err.decode(errors="replace")


@dataclass
class Client:
    host: str
    cookie: str = ""
    sent: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, *, body: bytes = b"",
                headers: dict[str, str] | None = None) -> Reply:
        name, _, port = self.host.rpartition(":")
        connection = http.client.HTTPConnection(name.strip("[]"), int(port), timeout=60)
        chosen = {"Host": self.host, "Accept": "text/html"}
        if self.cookie:
            chosen["Cookie"] = self.cookie
        if method == "POST":
            chosen["Sec-Fetch-Site"] = "same-origin"
        chosen.update(headers or {})
        chosen = {key: value for key, value in chosen.items() if value is not None}
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in chosen.items():
            connection.putheader(key, value)
        if method == "POST" and "Content-Length" not in chosen:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        reply = Reply(response.status, response.headers, response.read())
        connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            self.cookie = cookie.split(";", 1)[0]
        self.sent.append(f"{method} {path}")
        return reply

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers={k.replace("_", "-"): v
                                                  for k, v in headers.items()})

    def post(self, path: str, fields: dict[str, str | list[str]] | None = None,
             files: dict[str, tuple[str, bytes]] | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        boundary = secrets.token_hex(12)
        parts: list[bytes] = []
        for key, value in (fields or {}).items():
            for one in value if isinstance(value, list) else [value]:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"'
                             f"\r\n\r\n{one}\r\n".encode())
        for key, (filename, data) in (files or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; '
                         f'filename="{filename}"\r\nContent-Type: application/octet-stream'
                         "\r\n\r\n".encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})})

    def job(self, location: str, *, until: tuple[str, ...] = ("done", "failed"),
            seconds: float = 60) -> tuple[str, str]:
        """Poll a job's page until its state is one of ``until``; (state, page text)."""
        deadline = time.monotonic() + seconds
        while True:
            reply = self.get(location)
            assert reply.status == 200, reply
            state = reply.text.split('id="state">', 1)[1].split("<", 1)[0]
            if state in until or time.monotonic() > deadline:
                return state, reply.text
            time.sleep(0.2)
