"""One print-ready PDF of many invoices, in manifest order, one bookmark per invoice."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from pypdf import PdfWriter

from .errors import ConfigError, InputError
from .ledger import FILE_NAME, existing
from .write import atomic_write

# What the output folder manages: a merged file written over one of these would destroy
# an issued invoice, the manifest or the record of published share IDs.
MANAGED = ("invoices", "launch", "manifest.csv", "report.json", FILE_NAME,
           f"{FILE_NAME}-wal", f"{FILE_NAME}-shm", ".lock")


def check_target(folder: Path, target: Path) -> None:
    """:class:`ConfigError` when ``target`` is one of the folder's own files, or anything
    but a regular file or a new name: the merged file replaces what is there, and a device,
    a FIFO or a link's target must not be replaced (as root, /dev/null would be)."""
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise ConfigError("is not a regular file; write the merged PDF to a new file or a "
                          "regular one", source=target)
    resolved = target.resolve()
    for name in MANAGED:
        managed = (folder / name).resolve()
        if resolved == managed or resolved.is_relative_to(managed):
            raise ConfigError(f"the merged file would replace {name} of the output folder; "
                              "write it elsewhere", source=target)


def merge(folder: Path, target: Path, tickets: Iterable[str] | None = None) -> int:
    """Write ``target`` from the folder's invoices (only ``tickets`` if given); page count."""
    check_target(folder, target)
    with existing(folder) as ledger:
        if ledger is None:
            raise InputError("no invoices here yet (no ledger); run `xoi-invoices run` "
                             "first", source=folder)
        invoices = ledger.all()  # sorted by service_ticket, as the manifest is
    if tickets is not None:
        wanted = set(tickets)
        invoices = [invoice for invoice in invoices if invoice.service_ticket in wanted]
    if not invoices:
        raise InputError("no invoices to merge", source=folder)
    writer = PdfWriter()
    for invoice in invoices:
        path = folder / invoice.pdf
        if not path.is_file():
            raise InputError(f"{invoice.pdf} is missing; run `xoi-invoices verify`",
                             source=folder, ticket=invoice.service_ticket)
        writer.append(path, outline_item=f"{invoice.invoice_number} · {invoice.customer}",
                      import_outline=False)
    writer.add_metadata({"/Title": f"Invoices ({len(invoices)})"})
    buffer = io.BytesIO()
    writer.write(buffer)
    atomic_write(target, buffer.getvalue())
    return len(writer.pages)
