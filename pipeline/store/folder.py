"""The output folder: every name in it and every write to it.

::

    DIR/invoices/<number>.pdf     the issued invoices        (store, withdraw)
    DIR/invoices/history/         PDFs a re-render replaced  (store, withdraw)
    DIR/manifest.csv              what is issued now         (finish)
    DIR/report.json               what the last run did      (finish)
    DIR/ledger.sqlite3            what was ever published    (store, withdraw)
                                  each command's last report (finish)
                                  and emailed                (its annex: send)
    DIR/deliveries.csv            each ticket's latest email (write_deliveries)
    DIR/.lock                     one writer at a time
    DIR/launch/                   the technicians' launch pages (write_pages)

A command opens the folder once: :func:`writing` makes it, takes the lock exclusively,
sweeps what a killed run left and opens the ledger; :func:`reading` takes the lock
shared and opens the ledger only if there is one, so a command that only looks never
leaves a ledger behind. Both first check the folder's own entries and its ledger
(:mod:`.entries`): no link is followed out of it, and a folder whose ledger no
longer vouches for its invoices is refused. A file is written, moved or removed only
under a path that :func:`.entries.own` checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..core.errors import ConfigError, OutputError, RenderError
from ..core.file_names import safe_name
from ..core.files import atomic_write, make_folder, sha256_file, sweep
from ..core.models import Invoice, Outcome, Rendered
from ..core.stop import Stop
from . import entries as folder_entries
from . import history
from . import manifest as record
from .entries import DELIVERIES as DELIVERIES
from .entries import HISTORY as HISTORY
from .entries import INVOICES as INVOICES
from .entries import LAUNCH as LAUNCH
from .entries import LEDGER as LEDGER
from .entries import LEDGER_FILES, own
from .entries import LOCK as LOCK
from .entries import MANIFEST as MANIFEST
from .entries import REPORT as REPORT
from .ledger import Annex, Ledger
from .lock import hold

# What opening a folder for writing creates, before anything is written.
_BOOKKEEPING = frozenset({LOCK, *LEDGER_FILES})
# A merged file written over one of these would destroy an issued invoice, the manifest,
# the record of published share IDs or of what was emailed.
MANAGED = (INVOICES, LAUNCH, MANIFEST, REPORT, *LEDGER_FILES, LOCK, DELIVERIES)


@dataclass
class OutputFolder:
    """One output folder, open for one command."""

    path: Path
    ledger: Ledger | None = None

    def published(self, ticket: str) -> dict[str, Rendered]:
        """``ticket`` → the invoice issued for it here, withdrawn or not; empty when none."""
        return self.published_of([ticket])

    def published_of(self, tickets: Collection[str]) -> dict[str, Rendered]:
        """:meth:`published` of these tickets only: a run looks its work orders up a few
        hundred at a time instead of holding every row."""
        return self.ledger.rows(tickets) if self.ledger else {}

    def owners(self, share_ids: Collection[str], file_keys: Collection[str]
               ) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """The tickets that hold these share IDs and invoice file keys here, withdrawn
        ones too (see :meth:`Ledger.owners`; :class:`pipeline.link.Claims` checks against them)."""
        return self.ledger.owners(share_ids, file_keys) if self.ledger else ({}, {})

    def issued(self) -> Iterator[Rendered]:
        """The invoices in the folder now, by ticket: the manifest's rows, a page at a time
        (see :meth:`Ledger.each`)."""
        return self.ledger.each() if self.ledger else iter(())

    def issued_count(self) -> int:
        return self.ledger.count() if self.ledger else 0

    def intact(self, rendered: Rendered) -> bool:
        """Whether the PDF the ledger names is still the one it recorded."""
        path = self.pdf(rendered)
        return path.is_file() and sha256_file(path) == rendered.sha256

    def pdf(self, rendered: Rendered) -> Path:
        """The PDF of a ledger row (see :func:`.entries.issued_pdf`): never a path
        the ledger merely says."""
        return folder_entries.issued_pdf(self.path, rendered)

    def store(self, invoice: Invoice, pdf: bytes, pages: int, fingerprint: str,
              previous: Rendered | None, *, xml_sha256: str = "") -> Rendered:
        """Write one invoice and record it.

        A PDF that cannot be written (most likely a full disk) is :class:`RenderError`,
        that invoice's failure: the previous PDF and its record stay, the next run writes
        this one. A ledger that cannot record is :class:`OutputError`, the run's end.
        """
        ledger = self._ledger()
        relative = f"{INVOICES}/{safe_name(invoice.order.invoice_number)}.pdf"
        target = own(self.path, relative)
        earlier = self.pdf(previous) if previous else None
        replaced = earlier is not None and earlier.is_file()
        versions = own(self.path, HISTORY, is_folder=True)
        try:
            history.keep_previous(versions, earlier, target, pdf)
            atomic_write(target, pdf, sync_folder=False)
        except OutputError as error:
            raise RenderError(str(error), ticket=invoice.ticket) from None
        if earlier is not None and earlier != target:
            earlier.unlink(missing_ok=True)  # kept in history/, replaced under a new name
        order = invoice.order
        rendered = Rendered(
            invoice.ticket, order.invoice_number, order.customer, invoice.share_id,
            invoice.share_url, relative, hashlib.sha256(pdf).hexdigest(), pages, order.total,
            order.currency, fingerprint, timestamp(), invoice.invoice_date.isoformat(),
            xml_sha256=xml_sha256)
        ledger.record(rendered, invoice, at_once=replaced, unsynced=target.parent)
        return rendered

    def remember_unchanged(self, kept: list[tuple[Invoice, Rendered]]) -> None:
        """Invoices a run left as they were (each with its ledger row), for the ledger's
        annex (see :meth:`Ledger.keep`): a folder rendered before email delivery existed
        can be sent without re-rendering. A run gives them a few hundred at a time."""
        if not kept:  # most chunks of a first run: no transaction at all
            return
        self._ledger().keep([(invoice, rendered.sha256) for invoice, rendered in kept])

    def withdraw(self, rendered: Rendered) -> str:
        """Take an issued invoice out of the folder: its PDF to history/, its ledger row
        kept (share ID and number stay the ticket's). Where the PDF went, in words."""
        current = self.pdf(rendered)
        kept = history.archive(own(self.path, HISTORY, is_folder=True), current) \
            if current.is_file() else None
        self._ledger().withdraw(rendered.service_ticket, timestamp())
        return f"moved to {kept.relative_to(self.path)}" if kept else "its PDF was gone"

    def write_manifest(self) -> None:
        atomic_write(own(self.path, MANIFEST), record.manifest_csv(self.issued()))

    def write_report(self, outcome: Outcome, *, command: str = "run") -> None:
        """report.json, and the same report in the ledger as ``command``'s last (see
        :func:`.lookup.last_report`): a ``regenerate`` replaces the file, not the night's."""
        text = record.report_json(outcome, command=command)
        atomic_write(own(self.path, REPORT), text)
        if self.ledger is not None:
            self.ledger.record_report(command, timestamp(), text.decode())

    def write_deliveries(self, text: Iterable[bytes]) -> None:
        """Replace deliveries.csv with ``text`` (send writes what it holds)."""
        atomic_write(own(self.path, DELIVERIES), text)

    def write_pages(self, pages: Mapping[str, str]) -> Path:
        """Write launch pages (file name → HTML) into launch/; that folder."""
        for name, html in pages.items():
            atomic_write(own(self.path, f"{LAUNCH}/{name}"), html.encode())
        return self.path / LAUNCH

    def check_target(self, target: Path) -> None:
        """:class:`ConfigError` when a file written at ``target`` (a merged PDF) would
        replace one of the folder's own files, or anything but a regular file or a new
        name: a device, a FIFO or a link's target must not be replaced (as root,
        /dev/null would be)."""
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise ConfigError("is not a regular file; write the merged PDF to a new file or "
                              "a regular one", source=target)
        resolved = target.resolve()
        for name in MANAGED:
            managed = (self.path / name).resolve()
            if resolved == managed or resolved.is_relative_to(managed):
                raise ConfigError(f"the merged file would replace {name} of the output "
                                  "folder; write it elsewhere", source=target)

    def _ledger(self) -> Ledger:
        if self.ledger is None:
            raise OutputError("no ledger here; run `xoi-invoices run` first", source=self.path)
        return self.ledger

    @contextmanager
    def lock(self, *, shared: bool = False, wait: float = 0,
             stop: Stop | None = None) -> Iterator[None]:
        """The folder's lock alone (see :func:`lock.hold`)."""
        with hold(self.path / LOCK, shared=shared, wait=wait, stop=stop):
            yield


@contextmanager
def writing(path: Path, *, new_ledger: bool = True, annex: Annex | None = None,
            wait: float = 0, stop: Stop | None = None) -> Iterator[OutputFolder]:
    """The folder made, locked for this command alone and swept; with its ledger (a new
    one unless ``new_ledger`` is false: launch pages publish nothing) and the ledger's
    ``annex``, if given. Another command's lock is waited for up to ``wait`` seconds,
    unless ``stop`` is set first (see :func:`lock.hold`)."""
    made = [folder for folder in (path, *path.parents) if not folder.exists()]
    make_folder(path)
    folder = OutputFolder(path)
    with folder.lock(wait=wait, stop=stop):
        sweep(path)
        try:
            with _ledger(folder, create=new_ledger, annex=annex):
                yield folder
        except BaseException:
            _unmake(path, made)
            raise


def _unmake(path: Path, made: list[Path]) -> None:
    """Remove the folders a command made (``made``, deepest first) when it failed before
    writing anything but its lock and ledger: an error must not leave an empty folder."""
    if not made or {entry.name for entry in path.iterdir()} - _BOOKKEEPING:
        return
    for name in _BOOKKEEPING:
        (path / name).unlink(missing_ok=True)
    for folder in made:
        try:
            folder.rmdir()
        except OSError:  # not empty: something else was written there meanwhile
            return


@contextmanager
def reading(path: Path, *, lock: bool = True) -> Iterator[OutputFolder]:
    """The folder for a command that only looks: a shared lock (any number of readers,
    none while a run writes) unless ``lock`` is false, and its ledger if it has one."""
    folder = OutputFolder(path)
    if not lock:
        with _ledger(folder, create=False):
            yield folder
        return
    with folder.lock(shared=True), _ledger(folder, create=False):
        yield folder


@contextmanager
def _ledger(folder: OutputFolder, *, create: bool,
            annex: Annex | None = None) -> Iterator[None]:
    """The folder checked (its entries, whether its ledger vouches for its invoices), then
    its ledger opened; made if ``create``."""
    folder_entries.check(folder.path)
    if not folder_entries.check_ledger(folder.path) and not create:
        yield
        return
    folder.ledger = Ledger(folder.path / LEDGER, annex=annex)
    try:
        yield
    finally:
        folder.ledger.close()
        folder.ledger = None


def timestamp() -> str:
    """Now, as every row of the ledger (renders, withdrawals, deliveries) records it."""
    return datetime.now(UTC).isoformat(timespec="seconds")
