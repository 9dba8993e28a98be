"""Re-open every PDF the manifest lists and check it still is what was issued."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ..core.einvoice import FILE_NAME
from ..core.errors import InputError, OutputError
from ..core.files import own_entry, sha256_file
from . import folder as output
from .entries import expected_pdf, names_pdf
from .history import versions
from .manifest import MANIFEST_HEADER, spreadsheet_safe


def unneutralized(cell: str) -> str:
    """The value behind a cell that :func:`.manifest.spreadsheet_safe` prefixed with ``'``."""
    if cell[:1] == "'" and spreadsheet_safe(cell[1:]) == cell:
        return cell[1:]
    return cell


def link_uris(reader: PdfReader) -> list[str]:
    """Every URI of every link annotation in the document."""
    uris = []
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and action.get_object().get("/URI") is not None:
                uris.append(str(action.get_object()["/URI"]))
    return uris


def _interrupted(opened: output.OutputFolder, path: Path, digest: str | None, issued: str,
                 recorded: str | None) -> str | None:
    """Why a PDF the manifest does not vouch for (other bytes, or none: ``digest`` is
    ``None``) is no tampering, in words; ``None`` when nothing explains it.

    A run records each PDF as it is written and rewrites the manifest at its end, so a
    run killed between leaves new PDFs that the ledger vouches for (``recorded``, its
    sha256) and the manifest does not. One killed a moment earlier, after it replaced or
    withdrew the PDF and before the ledger recorded that, leaves the issued version
    (``issued``, the manifest's sha256) as the newest in history/: a run keeps it there
    right before it writes the new one or takes it away.
    """
    if digest is not None and recorded == digest:
        return "is newer than manifest.csv, which an interrupted run left out of date: " \
               "run again to rewrite it"
    kept = list(versions(opened.path / output.HISTORY, path.stem))
    if not kept or sha256_file(kept[-1]) != issued:
        return None
    what = "replaced by a run interrupted before it recorded the new version" if digest \
        else "withdrawn by a run interrupted before it recorded that"
    return f"was {what} (the issued one is {kept[-1].relative_to(opened.path)}): run again " \
           "to finish it"


def _einvoice(reader: PdfReader, recorded: str, where: str, pdf: str) -> Iterator[str]:
    """The problem with an e-invoice's embedded XML: missing, or not the one issued."""
    try:
        embedded = reader.attachments.get(FILE_NAME) or []
    except (PyPdfError, ValueError) as error:
        yield f"{where}: {pdf}: its embedded files cannot be read: {error}"
        return
    if not embedded:
        yield f"{where}: {pdf} lacks {FILE_NAME}, the e-invoice it was issued with"
    elif hashlib.sha256(embedded[0]).hexdigest() != recorded:
        yield f"{where}: {pdf}: its {FILE_NAME} is not the one issued (its sha256 differs " \
              "from the ledger's)"


def verify(folder: Path) -> Iterator[str]:
    """Yield one line per problem; nothing when every invoice checks out.

    The caller holds the folder's lock (shared): a run rewrites the manifest when it ends.
    The folder is opened as every command opens it (:func:`folder.reading`): a link among
    its files or a ledger that no longer vouches for its invoices is :class:`OutputError`.
    """
    with output.reading(folder, lock=False) as opened:
        yield from _problems(opened)


def _problems(opened: output.OutputFolder) -> Iterator[str]:
    folder = opened.path
    manifest = folder / output.MANIFEST
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError:
        raise InputError("no manifest.csv: nothing was rendered into this folder yet",
                         source=folder) from None
    except UnicodeDecodeError:
        yield f"{manifest}: not UTF-8, so not the manifest a run wrote; run again to rewrite it"
        return
    table = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(table)
    except csv.Error as error:
        yield f"{manifest}:{table.line_num}: not a manifest ({error}); run again to rewrite it"
        return
    if tuple(table.fieldnames or ()) != MANIFEST_HEADER:
        yield f"{manifest}:1: not a manifest (wrong header); run again to rewrite it"
        return
    recorded: dict[str, str] | None = None  # the ledger's digests, read at the first need
    einvoices: dict[str, str] | None = None  # likewise, of the e-invoice XML each embeds
    for line, row in enumerate(rows, start=2):
        values = {key: unneutralized(value or "") for key, value in row.items()}
        ticket = values["service_ticket"]
        where = f"{manifest}:{line}: ticket {ticket}"
        if not names_pdf(values["invoice_number"], values["pdf"]):
            yield f"{where}: {values['pdf']} is not {expected_pdf(values['invoice_number'])}, " \
                  "the file of its invoice number: run again to rewrite the manifest"
            continue
        path = folder / values["pdf"]
        try:
            digest = sha256_file(path) if own_entry(path) else None
            if digest != values["sha256"]:
                if recorded is None:
                    recorded = {rendered.service_ticket: rendered.sha256
                                for rendered in opened.issued()}
                why = _interrupted(opened, path, digest, values["sha256"], recorded.get(ticket))
                yield f"{where}: {values['pdf']} " + (why or (
                    "is missing" if digest is None else
                    "does not match its sha256 (changed since issued)"))
                continue
        except OutputError as error:  # a link or a FIFO where the PDF belongs
            yield f"{where}: {error}"
            continue
        try:
            reader = PdfReader(path)
            pages = len(reader.pages)
            uris = link_uris(reader)
        except (PyPdfError, OSError, ValueError) as error:
            yield f"{where}: {values['pdf']} cannot be opened as a PDF: {error}"
            continue
        if str(pages) != values["pages"]:
            yield f"{where}: {values['pdf']} has {pages} pages, the manifest says " \
                  f"{values['pages']}"
        if values["share_url"] not in uris:
            yield f"{where}: {values['pdf']} does not link to {values['share_url']}"
        if einvoices is None:
            einvoices = {rendered.service_ticket: rendered.xml_sha256
                         for rendered in opened.issued() if rendered.xml_sha256}
        if ticket in einvoices:
            yield from _einvoice(reader, einvoices[ticket], where, values["pdf"])
