"""What a process that stays up (the billing desk) reads of an output folder while runs
come and go: never the folder's lock, and no file created where there is none.

- :func:`lock_holder`: who writes the folder now, if anyone;
- :func:`last_report`: the last report of ``run`` or ``regenerate``, from the ledger
  (WAL: a reader neither waits for a writer nor blocks it), else from report.json;
- :func:`open_ledger`: the ledger, opened read-write as a command opens it (the only one
  here that may write: its missing tables are made and an older one upgraded, and the
  caller may keep tables of its own there, as the desk does), for as long as it likes;
- :func:`versions`: the earlier PDFs of one invoice kept in invoices/history/;
  :func:`version_count`: how many, without reading them.

Like every command, each checks the folder's own entries first (:func:`.entries.check`):
a link planted there is refused, not followed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.errors import OutputError
from ..core.files import open_regular, own_entry, sha256_file
from ..core.models import Rendered
from . import entries, history
from .database import Database
from .entries import HISTORY, LEDGER, LOCK, REPORT, own
from .ledger import Ledger
from .lock import holder


@dataclass(frozen=True, slots=True)
class Version:
    """One earlier PDF of an invoice, kept in invoices/history/ (1: the first issued)."""

    number: int
    path: Path
    sha256: str
    written_at: str  # the file's modification time, UTC, ISO 8601 to the second


def lock_holder(folder: Path) -> str | None:
    """"pid N on HOST since T" when a command writes ``folder`` now, else ``None``;
    never waits (see :func:`.lock.holder`)."""
    return holder(folder, LOCK)


def open_ledger(folder: Path) -> Ledger | None:
    """The folder's ledger for a process that stays up beside the runs that write it: no
    lock is taken, and ``None`` when the folder has no ledger (none is made). It is a
    read-write :class:`Ledger`, as a command's: opening it makes the tables it lacks and
    upgrades an older one (in WAL mode, as every command opens it: neither waits for the
    other), and its caller may write its own tables. The caller closes it."""
    entries.check(folder)
    if not entries.check_ledger(folder):
        return None
    return Ledger(folder / LEDGER)


def last_report(folder: Path, command: str = "run") -> dict[str, Any] | None:
    """The newest report of ``command`` (report.json's data and ``written_at``), or
    ``None`` when that command never wrote one here.

    The ledger keeps each command's last; report.json stands in for a folder written
    before it did, when it is that command's (or says no command: ``run`` was the only
    one that wrote it then).
    """
    entries.check(folder)
    if own_entry(folder / LEDGER):
        row = _report_row(folder / LEDGER, command)
        if row is not None:
            written_at, text = row
            return {**json.loads(text), "written_at": written_at}
    if not own_entry(folder / REPORT):
        return None
    descriptor = open_regular(folder / REPORT, os.O_RDONLY)
    with os.fdopen(descriptor, "rb") as handle:
        written_at = _utc(os.fstat(handle.fileno()).st_mtime)
        try:
            data = json.loads(handle.read())
        except ValueError:
            raise OutputError("is not a report this program wrote (not JSON)",
                              source=folder / REPORT) from None
    if not isinstance(data, dict) or data.get("command", "run") != command:
        return None
    return {**data, "written_at": written_at}


def _report_row(ledger: Path, command: str) -> tuple[str, str] | None:
    db = Database(ledger, read_only=True)
    try:
        if db.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'reports'") \
                is None:  # a ledger written before reports were kept
            return None
        row = db.one("SELECT written_at, report FROM reports WHERE command = ?", (command,))
        return (str(row[0]), str(row[1])) if row else None
    finally:
        db.close()


def versions(folder: Path, rendered: Rendered) -> list[Version]:
    """The PDFs of ``rendered``'s invoice kept in invoices/history/, oldest first: the
    versions its current PDF replaced (or, withdrawn, the one taken out)."""
    found = []
    for number, path in enumerate(_kept(folder, rendered), start=1):
        own(folder, f"{HISTORY}/{path.name}")  # a link planted there is not followed
        found.append(Version(number, path, sha256_file(path), _utc(path.stat().st_mtime)))
    return found


def version_count(folder: Path, rendered: Rendered) -> int:
    """How many PDFs of ``rendered``'s invoice invoices/history/ keeps (those
    :func:`versions` lists), by their names alone: nothing is opened or hashed, for a
    page that lists many invoices."""
    return sum(1 for _ in _kept(folder, rendered))


def _kept(folder: Path, rendered: Rendered) -> list[Path]:
    """The paths in invoices/history/ of ``rendered``'s earlier PDFs, oldest first."""
    kept = own(folder, HISTORY, is_folder=True)
    if not kept.is_dir():
        return []
    return list(history.versions(kept, entries.issued_pdf(folder, rendered).stem))


def _utc(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")
