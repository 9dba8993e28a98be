"""One SMTP session over ``smtplib``, what each of the server's refusals means for us, and
the pace of a batch of messages (:class:`RateLimit`, :func:`pause`).

:class:`Temporary` (a 4xx reply, a dropped connection) is worth trying again soon;
:class:`Permanent` (5xx) fails that one message; a refused login or a TLS failure is a
:class:`~pipeline.errors.ConfigError`: every further message would meet it too.
"""

from __future__ import annotations

import base64
import email.policy
import smtplib
import ssl
import time
from collections import deque
from collections.abc import Callable
from email.message import EmailMessage

from ..core.config import Smtp
from ..core.errors import ConfigError
from ..core.stop import Stop
from ..core.text import one_line

TIMEOUT = 60  # seconds one SMTP command may take before the connection counts as dropped


class Refused(Exception):
    """The server did not take one message; ``str()`` says why, in the server's words."""


class Temporary(Refused):
    pass


class Unreachable(Temporary):
    """No connection at all: later messages would meet the same."""


class Permanent(Refused):
    pass


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {one_line(words)}"


def _refusal(code: int, text: bytes | str) -> Refused:
    return (Temporary if 400 <= code < 500 else Permanent)(_reply(code, text))


def _login_utf8(session: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH PLAIN in UTF-8 (RFC 4616): ``smtplib.login`` only encodes ASCII passwords."""
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    code, reply = session.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


class Mailer:
    """Connects on first use, and again after a drop; logs in when a username is set."""

    def __init__(self, smtp: Smtp) -> None:
        if not smtp.host:
            raise ConfigError("no SMTP host: set [smtp] host in the configuration file")
        if smtp.username and not smtp.password:
            raise ConfigError(f"[smtp] username is {smtp.username!r} but XOI_SMTP_PASSWORD "
                              "is not set")
        self.smtp = smtp
        self.session: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.smtp.host}:{self.smtp.standard_port}"

    def connect(self) -> None:
        if self.session is not None:
            return
        smtp, context = self.smtp, ssl.create_default_context()
        try:
            if smtp.security == "ssl":
                session: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.standard_port,
                                                         timeout=TIMEOUT, context=context)
            else:
                session = smtplib.SMTP(smtp.host, smtp.standard_port, timeout=TIMEOUT)
            try:
                self._start(session, context)
            except BaseException:
                session.close()
                raise
        except ssl.SSLError as error:
            raise ConfigError(f"TLS with the SMTP server {self.where} failed: "
                              f"{error.reason or error}") from None
        except smtplib.SMTPAuthenticationError as error:
            raise ConfigError(f"the SMTP server {self.where} refused the login of "
                              f"{smtp.username!r}: {_reply(error.smtp_code, error.smtp_error)}"
                              ) from None
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                raise Unreachable(f"{self.where}: {_reply(error.smtp_code, error.smtp_error)}"
                                  ) from None
            raise ConfigError(f"the SMTP server {self.where} refused the session: "
                              f"{_reply(error.smtp_code, error.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise Unreachable(f"cannot reach the SMTP server {self.where}: "
                              f"{getattr(error, 'strerror', None) or error}") from None
        self.session = session

    def _start(self, session: smtplib.SMTP, context: ssl.SSLContext) -> None:
        session.ehlo()
        if self.smtp.security == "starttls":
            if not session.has_extn("starttls"):
                raise ConfigError(f"the SMTP server {self.where} does not offer STARTTLS; "
                                  "set [smtp] security = \"ssl\" if it expects TLS from the "
                                  "start (port 465)")
            session.starttls(context=context)
            session.ehlo()
        if self.smtp.username:
            if not session.has_extn("auth"):
                raise ConfigError(f"the SMTP server {self.where} offers no login (AUTH); "
                                  "leave [smtp] username out if it needs none")
            try:
                if (self.smtp.username + self.smtp.password).isascii():
                    session.login(self.smtp.username, self.smtp.password)
                else:
                    _login_utf8(session, self.smtp.username, self.smtp.password)
            except smtplib.SMTPException as error:
                if isinstance(error, smtplib.SMTPResponseException):
                    raise  # a refusal with a reply code: handled by the caller
                # No method both sides know (the server offers only, say, XOAUTH2): trying
                # again cannot help.
                raise ConfigError(f"the SMTP server {self.where} cannot log in "
                                  f"{self.smtp.username!r}: {error}") from None

    def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> str:
        """Hand one message over; what the server said about a Bcc it refused.

        The transaction is spelled out rather than ``sendmail``: when the server refuses
        the customer (the first recipient), it is abandoned before DATA, so the Bcc
        archive never holds a message the customer did not get.
        """
        self.connect()
        session = self.session
        assert session is not None
        try:
            code, reply = session.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            notes = []
            for index, address in enumerate(recipients):
                code, reply = session.rcpt(address)
                if code in (250, 251):
                    continue
                if index == 0:
                    session.rset()
                    raise _refusal(code, reply)
                notes.append(f"{address} refused: {_reply(code, reply)}")
            # CRLF line ends: smtplib sends bytes as they are, and SMTP needs CRLF.
            session.data(message.as_bytes(policy=email.policy.SMTP))
        except smtplib.SMTPServerDisconnected as error:
            self.close()
            raise Temporary(f"the connection to {self.where} dropped: {error or 'closed'}"
                            ) from None
        except smtplib.SMTPResponseException as error:  # sender or data refused
            if error.smtp_code == 421:  # "closing the connection": reconnect next time
                self.close()
            else:
                self._reset()
            raise _refusal(error.smtp_code, error.smtp_error) from None
        except OSError as error:
            self.close()
            raise Temporary(f"the connection to {self.where} dropped: "
                            f"{error.strerror or error}") from None
        return "; ".join(notes)

    def _reset(self) -> None:
        """Ready for the next message after a refused one, or reconnect next time."""
        assert self.session is not None
        try:
            self.session.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self.session is None:
            return
        session, self.session = self.session, None
        try:
            session.quit()
        except (smtplib.SMTPException, OSError):
            session.close()


class RateLimit:
    """At most ``per_minute`` messages in any 60 seconds (0: no limit)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_minute = per_minute
        self.clock, self.sleep = clock, sleep
        self.times: deque[float] = deque()

    def wait(self) -> None:
        if not self.per_minute:
            return
        if len(self.times) >= self.per_minute:
            self.sleep(max(0.0, self.times[0] + 60 - self.clock()))
            self.times.popleft()
        self.times.append(self.clock())


def pause(seconds: float, stop: Stop) -> None:
    """Sleep, waking for a stop request: a signal does not wait out a backoff or the rate
    limit."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))
