"""One print-ready PDF of many invoices, in manifest order, one bookmark per invoice."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from pypdf import PdfWriter

from ..core.errors import ConfigError, InputError
from ..core.files import atomic_write
from .folder import OutputFolder


def check_target(folder: OutputFolder, target: Path) -> None:
    """:class:`ConfigError` unless ``target`` can take the merged file: a new or regular
    file (:meth:`OutputFolder.check_target`) in a folder that exists.

    No folder is made for it: a mistyped path would leave a tree of folders nobody asked
    for (as root, anywhere), and the file in a place nobody looks.
    """
    parent = target.parent
    if not parent.is_dir():
        problem = f"{parent} is not a folder" if parent.exists() else \
            f"the folder {parent} does not exist"
        raise ConfigError(f"{problem}; name a file in a folder that exists (merging makes "
                          "no folders)", source=target)
    folder.check_target(target)


def merge(folder: OutputFolder, target: Path, tickets: Iterable[str] | None = None) -> int:
    """Write ``target`` from the folder's invoices (only ``tickets`` if given); page count."""
    check_target(folder, target)
    if folder.ledger is None:
        raise InputError("no invoices here yet (no ledger); run `xoi-invoices run` first",
                         source=folder.path)
    wanted = None if tickets is None else set(tickets)
    # Sorted by service_ticket, as the manifest is. All of them at once: pypdf's writer
    # holds every page of the merged file anyway.
    invoices = [invoice for invoice in folder.issued()
                if wanted is None or invoice.service_ticket in wanted]
    if not invoices:
        raise InputError("no invoices to merge", source=folder.path)
    writer = PdfWriter()
    for invoice in invoices:
        path = folder.pdf(invoice)
        if not path.is_file():
            raise InputError(f"{invoice.pdf} is missing; run `xoi-invoices verify`",
                             source=folder.path, ticket=invoice.service_ticket)
        writer.append(path, outline_item=f"{invoice.invoice_number} · {invoice.customer}",
                      import_outline=False)
    writer.add_metadata({"/Title": f"Invoices ({len(invoices)})"})
    buffer = io.BytesIO()
    writer.write(buffer)
    atomic_write(target, buffer.getvalue())
    return len(writer.pages)
