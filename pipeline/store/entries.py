"""The output folder's own entries: their names, and what a command checks of them before
it trusts a folder it did not just make (:mod:`folder` opens every folder through
:func:`check`).

- Nothing there is a link, a FIFO or a device where the folder keeps a file or folder of
  its own: a run writes, renames and deletes there, and a planted link would send that
  to its target (``ln -s ~/victim output/.lock``).
- A path the ledger gives is used only when it is the name the row's invoice number
  gives (an edited ``pdf`` column must not move or delete a file anywhere).
- A folder that holds issued invoices keeps the ledger that vouches for them: without it
  a run would issue them again under new dates and ``send`` would email them again.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import OutputError
from ..core.file_names import file_names
from ..core.files import open_regular, own_entry
from ..core.models import Rendered
from .database import Database

INVOICES = "invoices"
HISTORY = f"{INVOICES}/history"
MANIFEST = "manifest.csv"
REPORT = "report.json"
LEDGER = "ledger.sqlite3"
# SQLite's files beside the ledger, which it opens following links.
LEDGER_FILES = (LEDGER, f"{LEDGER}-wal", f"{LEDGER}-shm", f"{LEDGER}-journal")
LOCK = ".lock"
LAUNCH = "launch"
DELIVERIES = "deliveries.csv"
_FOLDERS = (INVOICES, HISTORY, LAUNCH)
_FILES = (LOCK, *LEDGER_FILES, MANIFEST, REPORT, DELIVERIES)
# Written in place (the lock's holder, SQLite's pages), not replaced by a rename.
_IN_PLACE = (LOCK, *LEDGER_FILES)
# Whether the ledger's tables hold a row (table name → query).
_ANY_ROW = {"invoices": "SELECT EXISTS (SELECT 1 FROM invoices)",
            "invoice_mail": "SELECT EXISTS (SELECT 1 FROM invoice_mail)",
            "deliveries": "SELECT EXISTS (SELECT 1 FROM deliveries)"}


def own(folder: Path, relative: str, *, is_folder: bool = False, alone: bool = False) -> Path:
    """``folder / relative``, each folder on the way and the entry itself checked with
    :func:`pipeline.core.files.own_entry` (refused when it is a link or not what it should be)."""
    *parents, name = relative.split("/")
    path = folder
    for part in parents:
        path /= part
        own_entry(path, folder=True)
    own_entry(path / name, folder=is_folder, alone=alone)
    return path / name


def check(folder: Path) -> None:
    """:class:`OutputError` naming the first of the folder's own entries that is a link,
    a FIFO, a device or a socket, or a file where a folder belongs."""
    for name in _FOLDERS:
        own(folder, name, is_folder=True)
    for name in _FILES:
        own(folder, name, alone=name in _IN_PLACE)


def issued_pdf(folder: Path, rendered: Rendered) -> Path:
    """The PDF of a ledger row, checked: the row's ``pdf`` must be the file its invoice
    number names (:func:`pipeline.core.file_names.file_names`), a regular file or none; otherwise
    :class:`OutputError` names the row and the path."""
    if not names_pdf(rendered.invoice_number, rendered.pdf):
        raise OutputError(
            f"{rendered.pdf!r} is not {expected_pdf(rendered.invoice_number)}, the file of "
            f"invoice {rendered.invoice_number}: the ledger was edited or damaged; restore "
            "it from a backup", source=folder / LEDGER, ticket=rendered.service_ticket,
            field="pdf")
    return own(folder, rendered.pdf)


def names_pdf(invoice_number: str, pdf: str) -> bool:
    """Whether ``pdf`` (relative to the folder) is where invoice ``invoice_number``'s PDF
    is kept, by this version or an earlier one."""
    return pdf in {f"{INVOICES}/{name}.pdf" for name in file_names(invoice_number)}


def expected_pdf(invoice_number: str) -> str:
    return f"{INVOICES}/{file_names(invoice_number)[0]}.pdf"


def check_ledger(folder: Path) -> bool:
    """Whether the folder has a ledger; :class:`OutputError` when it holds issued
    invoices (a PDF, a manifest, a record of emails) and its ledger is missing, emptied
    (``: > ledger.sqlite3``), or lost its tables or its rows."""
    ledger = folder / LEDGER
    there = own_entry(ledger)
    shown = [f"PDFs in {name}/" for name in (INVOICES, HISTORY) if _holds_pdfs(folder / name)]
    shown += [name for name in (MANIFEST, DELIVERIES) if own_entry(folder / name)]
    if not shown:
        return there
    if not there:
        problem = f"is missing, but this folder holds issued invoices ({', '.join(shown)})"
    else:
        rows = _rows(ledger)
        if "invoices" not in rows:
            problem = (f"is empty (it has no invoices table), but this folder holds issued "
                       f"invoices ({', '.join(shown)})")
        elif not rows["invoices"] and (left := _left_by_rows(folder, rows)):
            problem = f"records no invoice, but this folder holds issued ones ({', '.join(left)})"
        elif not rows.get("deliveries") and _lists_rows(folder / DELIVERIES):
            problem = f"records no email, but {DELIVERIES} lists some"
        else:
            return True
    raise OutputError(f"{problem}: a run would issue them again under new dates and `send` "
                      f"would email them again. Restore {LEDGER} from a backup, or move this "
                      "folder aside to start a new one", source=ledger)


def _left_by_rows(folder: Path, rows: dict[str, bool]) -> list[str]:
    """What only a ledger that had invoice rows leaves behind, in words.

    Not PDFs in invoices/: a first run killed before its first commit leaves those beside
    a ledger with no row yet (the next run renders them again, as it should). Billing
    facts are committed with an invoice's row, deliveries after it.
    """
    left = [f"PDFs in {HISTORY}/"] if _holds_pdfs(folder / HISTORY) else []
    left += [words for table, words in (("invoice_mail", "billing facts it keeps for emails"),
                                        ("deliveries", "emails it recorded")) if rows.get(table)]
    return left + [f"rows in {name}" for name in (MANIFEST, DELIVERIES)
                   if _lists_rows(folder / name)]


def _holds_pdfs(path: Path) -> bool:
    """Whether the folder at ``path`` exists and holds a PDF: the first one will do, not
    a list of a million names."""
    if not own_entry(path, folder=True):
        return False
    with os.scandir(path) as entries:
        return any(entry.name.endswith(".pdf") and entry.is_file(follow_symlinks=False)
                   for entry in entries)


def _rows(ledger: Path) -> dict[str, bool]:
    """Each of the ledger's tables that exists → whether it holds a row; read before
    :class:`ledger.Ledger` opens the file, which would create what is missing."""
    db = Database(ledger, peek=True)
    try:
        tables = {row[0] for row in db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {table: db.one(query) == (1,) for table, query in _ANY_ROW.items()
                if table in tables}
    finally:
        db.close()


def _lists_rows(path: Path) -> bool:
    """Whether the CSV file at ``path`` exists and has a line after its header."""
    if not own_entry(path):
        return False
    with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
        handle.readline()
        return bool(handle.readline().strip())
