"""A real SMTP server for the delivery tests: aiosmtpd on 127.0.0.1, STARTTLS and AUTH.

The certificate is a throwaway one from a CA made by the test (``trustme``); the client
trusts it through ``SSL_CERT_FILE``, which OpenSSL reads for ``ssl.create_default_context``,
as it would trust a company CA. Hooks let a test refuse a recipient, drop the connection
once, or act (kill the sender) when a message arrives.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "billing"
PASSWORD = "s3cret-pässword"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address → reply, every time
    refuse_once: dict[str, str] = field(default_factory=dict)  # address → reply, once
    drop_at: int | None = None  # drop the connection instead of accepting message N (1-based)
    on_accept: Callable[[int], None] | None = None
    restart: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        if address in self.refuse_once:
            return self.refuse_once.pop(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
            if self.attempts == self.drop_at:
                server.transport.close()  # gone before the reply: the message is not taken
                if self.restart is not None:
                    threading.Thread(target=self.restart).start()
                return "421 going away"
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.content)))
            count = len(self.received)
        if self.on_accept is not None:
            self.on_accept(count)
        return "250 OK queued"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """Started by the test, stopped by it; ``received`` is what it accepted."""

    def __init__(self, folder: Path, security: str = "starttls") -> None:
        self.security = security
        self.ca = trustme.CA()
        self.ca_file = folder / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(self.context)
        self.handler = Handler(restart=self.bounce)
        self.port = _free_port()
        self.controller: Controller | None = None

    def _controller(self) -> Controller:
        if self.security == "none":  # a relay on this machine: no TLS, no login
            return Controller(self.handler, hostname="127.0.0.1", port=self.port)
        if self.security == "ssl":  # TLS from the first byte (port 465 style)
            return Controller(self.handler, hostname="127.0.0.1", port=self.port,
                              ssl_context=self.context, authenticator=_authenticate,
                              # aiosmtpd counts only STARTTLS as TLS; this is TLS throughout
                              auth_required=True, auth_require_tls=False)
        return Controller(self.handler, hostname="127.0.0.1", port=self.port,
                          tls_context=self.context, require_starttls=True,
                          authenticator=_authenticate, auth_required=True,
                          auth_require_tls=True)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SmtpServer:
        """Listen; again after :meth:`stop` too, with a new controller (one cannot restart)."""
        self.controller = self._controller()
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def bounce(self, down_for: float = 0.5) -> None:
        """Go away for a moment, as a restarting relay does, then listen again."""
        self.stop()
        time.sleep(down_for)
        self.start()
