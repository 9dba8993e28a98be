"""The one exception tree of xoi-invoices.

Every error a user can cause derives from :class:`XoiError`, carries its context as
keyword arguments (``source=``, ``line=``, ``field=``, ``ticket=``) and knows the exit
status the contract gives it, so the CLI maps errors to messages in one place::

    XoiError                      exit 2 unless a subclass says otherwise
    ├── ConfigError               bad option, missing partner id, bad TOML, bad template URL
    ├── InputError                an input file that cannot be read at all
    ├── RecordError               one work order rejected (collected, never fatal)
    ├── ShareLinkError            a share ID or share URL that cannot be published
    ├── RenderError               one invoice that failed to render (collected; exit 1)
    ├── TicketError               a ticket named on the command line that cannot be served
    ├── OutputError               a file or folder that cannot be written (no such folder,
    │                             no permission, disk full)
    └── LockedError               another run holds the output folder (exit 75)
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75


class XoiError(Exception):
    """Base of every error the product reports to a user."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        ticket: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = str(source) if source is not None else None
        self.line = line
        self.field = field
        self.ticket = ticket

    def __str__(self) -> str:
        """Render as ``file:line: ticket T: field: message``, leaving out what is unknown."""
        where = ""
        if self.source is not None:
            where = self.source if self.line is None else f"{self.source}:{self.line}"
            where += ": "
        ticket = f"ticket {self.ticket}: " if self.ticket else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}{ticket}{field}{self.message}"


class ConfigError(XoiError):
    """Configuration or usage that makes the command impossible to run."""


class InputError(XoiError):
    """An input file that cannot be read at all (missing, not UTF-8, broken JSON...)."""


class RecordError(XoiError):
    """One field of one work order is wrong; the record is rejected, the run goes on."""

    exit_code = EXIT_PROBLEMS


class ShareLinkError(RecordError):
    """A share ID or share URL that cannot be published for this record."""


class RenderError(XoiError):
    """One invoice failed to render or write; the others are still produced."""

    exit_code = EXIT_PROBLEMS


class TicketError(XoiError):
    """A ticket named on the command line is unknown, unconfirmed or rejected."""

    exit_code = EXIT_PROBLEMS


class OutputError(XoiError):
    """A file or folder the command must write cannot be written."""


class LockedError(XoiError):
    """Another run holds the output folder's lock."""

    exit_code = EXIT_LOCKED
