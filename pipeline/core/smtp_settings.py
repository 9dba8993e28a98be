"""Where invoices are emailed from: the TOML table ``[smtp]`` (:mod:`config` reads it,
:mod:`pipeline.send.smtp` speaks to the server)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ConfigError

SMTP_SECURITY = ("starttls", "ssl", "none")
# Without TLS the password and the invoices cross the network in clear: only a relay on
# this machine may be spoken to that way.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Smtp:
    """Where invoices are emailed from (TOML table ``[smtp]``; ``from`` is ``sender`` here)."""

    host: str = ""
    port: int = 0  # 0: the standard port of ``security`` (587, 465, 25)
    security: str = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    reply_to: str = ""
    bcc: str = ""
    max_per_minute: int = 0  # 0: no limit

    @property
    def standard_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]


def checked_smtp(smtp: Smtp) -> Smtp:
    """Addresses well-formed and free of line breaks; plain text only to this machine."""
    if smtp.security not in SMTP_SECURITY:
        raise ConfigError(f"[smtp] security: {smtp.security!r} is not one of "
                          f"{', '.join(SMTP_SECURITY)}")
    if smtp.security == "none" and smtp.host.strip().lower() not in LOOPBACK:
        raise ConfigError(f"[smtp] security: 'none' sends the password and the invoices "
                          f"unencrypted; it is only allowed for a relay on this machine "
                          f"(127.0.0.1), not {smtp.host!r}")
    for name in ("host", "username"):
        if any(character in getattr(smtp, name) for character in "\r\n\0"):
            raise ConfigError(f"[smtp] {name}: must be one line")
    if smtp.sender or smtp.reply_to or smtp.bcc:
        # Imported here: only a folder that emails needs the address checks.
        from .addresses import mailbox

        for name, key in (("sender", "from"), ("reply_to", "reply_to"), ("bcc", "bcc")):
            if getattr(smtp, name):
                mailbox(getattr(smtp, name), setting=f"[smtp] {key}")
    return smtp
