"""The batch, as a plain Python API: read → validate → share link → render → write → record.

:func:`check` reads and validates only; :func:`run` does the whole night's work;
``regenerate`` is :func:`run` with ``force`` and a list of tickets that must exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import history, record
from .config import Settings
from .errors import ConfigError, OutputError, RecordError, TicketError
from .inputs import Checked, check, without_cycle_collector
from .ledger import Ledger
from .lock import folder_lock
from .merge import check_target, merge
from .models import Failure, Invoice, Outcome, Problem, Rendered, Warning_, WorkOrder
from .share import LinkRegistry, ShareUrlBuilder, share_id_warning
from .template_files import BUILT_IN, TEMPLATE_FILES
from .write import atomic_write, make_folder, safe_name, sha256_file, sweep, writable

INVOICES = "invoices"
Progress = Callable[[str, dict[str, object]], None]


def _quiet(event: str, data: dict[str, object]) -> None:
    """The default progress callback: say nothing."""


def today() -> date:
    """The issue date of new invoices; ``SOURCE_DATE_EPOCH`` pins it for reproducible runs."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC).date()
        except (OverflowError, OSError, ValueError):
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch[:20]} is not a time in years "
                              "1970 to 9999") from None
    return date.today()


def _versions() -> str:
    """The versions of this package and of the libraries that write the PDF's bytes."""
    found = []
    for package in ("xoi-invoices", "weasyprint", "pydyf", "qrcode", "babel"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} unknown")
    return ", ".join(found)


# The modules whose code decides what a PDF shows: an edit without a version bump (a
# development checkout) still re-renders.
RENDER_CODE = ("render.py", "layout.py", "labels.py", "money.py", "models.py")


def run_fingerprint(settings: Settings) -> str:
    """Everything besides the work order that shapes a PDF: templates, configuration, code."""
    digest = hashlib.sha256(_versions().encode())
    files = [Path(__file__).with_name(name) for name in RENDER_CODE]
    files += [BUILT_IN / name for name in TEMPLATE_FILES]
    if settings.templates is not None:
        files += sorted(path for path in settings.templates.rglob("*") if path.is_file())
    company = settings.company
    if company.logo is not None and company.logo.is_file():
        files.append(company.logo)
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(repr((replace(company, logo=None), settings.locale,
                        settings.pdf_variant)).encode())
    return digest.hexdigest()


@dataclass
class Batch:
    """One run over one output folder, holding its lock, ledger and outcome."""

    settings: Settings
    out: Path
    progress: Progress
    outcome: Outcome = field(default_factory=Outcome)

    @without_cycle_collector()
    def invoices(self, orders: list[WorkOrder], ledger: Ledger | None) -> list[Invoice]:
        """Give each order its share link; a ledger makes earlier links binding."""
        registry = LinkRegistry(
            self.settings,
            recorded_share_ids=ledger.share_ids() if ledger else {},
            recorded_numbers=ledger.invoice_numbers() if ledger else {},
        )
        urls = ShareUrlBuilder.from_settings(self.settings)
        # A published link never changes, not even when base_url or the URL template does:
        # it is printed on paper. Only tickets not yet invoiced get the new form.
        published = ledger.share_urls() if ledger else {}
        issued = ledger.issued_dates() if ledger else {}
        invoices = []
        for order in orders:
            try:
                share_id = registry.claim(order.service_ticket, order.share_id,
                                          order.invoice_number)
                url = published.get(order.service_ticket) or urls.url(share_id)
            except RecordError as error:
                self.reject(Problem(order.source, order.line, order.service_ticket,
                                    f"{error.field}: {error.message}"))
                continue
            warning = share_id_warning(share_id)
            if warning:
                self.warn(Warning_(order.source, order.line, order.service_ticket, warning))
            day = order.invoice_date or (date.fromisoformat(issued[order.service_ticket])
                                         if order.service_ticket in issued else today())
            due = order.due_date or day + timedelta(days=self.settings.company.payment_terms_days)
            invoices.append(Invoice(order, share_id, url, day, max(due, day)))
        # Each record read lands in one bucket: a confirmed order whose link was refused
        # counts as rejected, not confirmed.
        self.outcome.confirmed = len(invoices)
        return invoices

    def withdraw(self, unconfirmed: list[WorkOrder], ledger: Ledger) -> None:
        """Take back the invoices of tickets that are now unconfirmed.

        The contract puts an unconfirmed ticket's share link in no invoice output, so an
        invoice issued while the ticket was confirmed leaves the manifest; its PDF is kept
        in history/, and the ledger keeps its share ID and number for its return.
        """
        issued = {rendered.service_ticket: rendered for rendered in ledger.all()}
        for order in unconfirmed:
            rendered = issued.get(order.service_ticket)
            if rendered is None:
                continue
            current = self.out / rendered.pdf
            kept = history.archive(self.out, current) if current.is_file() else None
            ledger.withdraw(order.service_ticket, datetime.now(UTC).isoformat(timespec="seconds"))
            self.outcome.withdrawn.append(order.service_ticket)
            where = f"moved to {kept.relative_to(self.out)}" if kept else "its PDF was gone"
            self.warn(Warning_(order.source, order.line, order.service_ticket,
                               f"was invoiced as {rendered.invoice_number} and is now "
                               f"unconfirmed: that invoice is withdrawn ({where})"))

    def warn(self, warning: Warning_) -> None:
        self.outcome.warnings.append(warning)
        self.progress("warning", {**warning.as_report(), "message": str(warning)})

    def fail(self, ticket: str, reason: str) -> None:
        self.outcome.failed.append(Failure(ticket, reason))
        self.progress("failed", {"service_ticket": ticket, "reason": reason})

    def reject(self, problem: Problem) -> None:
        self.outcome.rejected.append(problem)

    def announce_rejections(self, inputs: list[Path]) -> None:
        """Report rejections in file order, whichever stage found them."""
        position = {str(path): index for index, path in enumerate(inputs)}
        self.outcome.rejected.sort(key=lambda p: (position.get(p.source, 0), p.line))
        for problem in self.outcome.rejected:
            self.progress("rejected", {**problem.as_report(), "message": str(problem)})

    def render(self, invoices: list[Invoice], ledger: Ledger, force: bool) -> None:
        salt = run_fingerprint(self.settings)
        todo: list[Invoice] = []
        fingerprints: dict[str, str] = {}
        for invoice in invoices:
            payload = json.dumps(invoice.as_data(), sort_keys=True, ensure_ascii=False)
            fingerprints[invoice.ticket] = hashlib.sha256((salt + payload).encode()).hexdigest()
            known = ledger.get(invoice.ticket)
            if not force and known and known.fingerprint == fingerprints[invoice.ticket] \
                    and _intact(self.out / known.pdf, known.sha256):
                self.outcome.unchanged.append(invoice.ticket)
            else:
                todo.append(invoice)
        self.progress("start", {"total": len(todo), "unchanged": len(self.outcome.unchanged)})
        if not todo:
            return
        # Imported here: WeasyPrint takes a second to load, and neither `validate` nor a
        # re-run with nothing changed renders anything.
        from .render import Renderer
        from .workers import render_all

        Renderer(self.settings)  # a broken template or logo fails here, once, not per invoice
        for invoice, pdf, pages in render_all(todo, self.settings):
            if pdf is None:
                self.fail(invoice.ticket, str(pages))
                continue
            assert isinstance(pages, int)
            self.store(invoice, pdf, pages, fingerprints[invoice.ticket], ledger)

    def store(self, invoice: Invoice, pdf: bytes, pages: int, fingerprint: str,
              ledger: Ledger) -> None:
        relative = f"{INVOICES}/{safe_name(invoice.order.invoice_number)}.pdf"
        target = self.out / relative
        previous = ledger.get(invoice.ticket)
        try:
            history.keep_previous(self.out, previous, target, pdf)
            atomic_write(target, pdf)
        except OutputError as error:
            # Most likely a full disk: the ledger keeps the last good PDF, the next run
            # writes this one.
            self.fail(invoice.ticket, str(error))
            return
        digest = hashlib.sha256(pdf).hexdigest()
        ledger.record(Rendered(
            invoice.ticket, invoice.order.invoice_number, invoice.order.customer,
            invoice.share_id, invoice.share_url, relative, digest, pages, invoice.order.total,
            invoice.order.currency, fingerprint,
            datetime.now(UTC).isoformat(timespec="seconds"),
        ), invoice.invoice_date.isoformat())
        self.outcome.rendered.append(invoice.ticket)
        self.progress("rendered", {"service_ticket": invoice.ticket, "pdf": relative})


def _intact(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_file(path) == sha256


def _checked_batch(inputs: list[Path], settings: Settings,
                   progress: Progress) -> tuple[Batch, Checked]:
    """Read and validate; the outcome so far: counts, unconfirmed tickets, rejections."""
    checked = check(inputs, settings)
    batch = Batch(settings, settings.out, progress)
    batch.outcome.read = checked.read
    batch.outcome.unconfirmed = [order.service_ticket for order in checked.unconfirmed]
    for problem in checked.problems:
        batch.reject(problem)
    return batch, checked


def check_all(inputs: Iterable[Path], settings: Settings,
              progress: Progress = _quiet) -> Outcome:
    """What ``validate`` reports: every record checked, share links included, nothing written."""
    started = time.monotonic()
    inputs = list(inputs)
    batch, checked = _checked_batch(inputs, settings, progress)
    batch.invoices(checked.confirmed, None)
    batch.announce_rejections(inputs)
    batch.outcome.seconds = time.monotonic() - started
    return batch.outcome


def run(inputs: Iterable[Path], settings: Settings, *, force: bool = False,
        only: Iterable[str] = (), progress: Progress = _quiet) -> Outcome:
    """Invoice the confirmed work orders of ``inputs`` into ``settings.out``.

    ``only`` limits the run to those tickets. One that cannot be invoiced (missing,
    unconfirmed) is listed under ``failed`` and the others are rendered; when none of them
    can be, :class:`TicketError` says why before anything is written.
    """
    started = time.monotonic()
    settings.require_partner_id()
    inputs = list(inputs)
    batch, checked = _checked_batch(inputs, settings, progress)
    outcome = batch.outcome
    wanted = set(only)
    unservable = _unservable(wanted, checked)
    if wanted and len(unservable) == len(wanted):
        ticket = min(unservable)
        raise TicketError(unservable[ticket], ticket=ticket)
    if settings.merge is not None:  # before the night's work, not after it
        check_target(settings.out, settings.merge)
        writable(settings.merge)
    make_folder(settings.out)
    with folder_lock(settings.out):
        sweep(settings.out)
        ledger = Ledger(settings.out)
        try:
            # Links are claimed over the whole input, then the selection is taken: a
            # ticket outside it may hold the share ID or invoice number a selected one
            # claims.
            invoices = batch.invoices(checked.confirmed, ledger)
            if wanted:
                invoices = [invoice for invoice in invoices if invoice.ticket in wanted]
            batch.announce_rejections(inputs)
            batch.withdraw([order for order in checked.unconfirmed
                            if not wanted or order.service_ticket in wanted], ledger)
            for ticket in sorted(unservable.keys() - {p.service_ticket for p in outcome.rejected}):
                batch.fail(ticket, unservable[ticket])
            batch.render(invoices, ledger, force)
            record.write_manifest(settings.out, ledger.all())
        finally:
            ledger.close()
        try:
            tickets = [*outcome.rendered, *outcome.unchanged]
            if settings.merge is not None and tickets:
                merge(settings.out, settings.merge, tickets)
        finally:
            # Also when the merged file cannot be written: the invoices are, and the
            # report must say so.
            outcome.seconds = time.monotonic() - started
            record.write_report(settings.out, outcome)
    return outcome


def _unservable(wanted: set[str], checked: Checked) -> dict[str, str]:
    """The tickets a command names that are no confirmed, valid work order, and why."""
    known = {order.service_ticket for order in checked.confirmed}
    unconfirmed = {order.service_ticket for order in checked.unconfirmed}
    rejected = {problem.service_ticket for problem in checked.problems}
    reasons = {}
    for ticket in wanted - known:
        if ticket in unconfirmed:
            reasons[ticket] = ("is not confirmed: the technician has not completed the "
                               "workflow, so it gets no invoice")
        elif ticket in rejected:
            reasons[ticket] = "was rejected; run `xoi-invoices validate` to see why"
        else:
            reasons[ticket] = "is in none of the inputs"
    return reasons
