"""The batch, as a plain Python API: check → links → plan → render → store → finish.

:func:`check_all` is what ``validate`` reports; :func:`run` does the night's work;
``regenerate`` is :func:`run` with ``force`` and tickets that must exist. Each stage is
a module of its own (README, "How it works"); this one only calls them in order and
says what happened through ``progress``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import Settings
from ..core.errors import RenderError, TicketError
from ..core.files import writable
from ..core.models import Failure, Invoice, Outcome, Problem, Rendered, Warning_, WorkOrder
from ..core.stop import Stop
from ..link import claims as links
from ..plan.changes import Planned, fingerprint, plan
from ..plan.spool import Spool
from ..render import RenderFailure, executor_for, salt
from ..send.log import BillingFacts
from ..store import folder
from ..store.print_pdf import check_target, merge
from ..store.typed_tickets import Nearest, listed
from ..validate.work_order import canonical_ticket
from .stream import Chunk, Linking, readable

if TYPE_CHECKING:
    from ..send.outbox import Outbox

Progress = Callable[[str, dict[str, object]], None]


def _quiet(event: str, data: dict[str, object]) -> None:
    """The default progress callback: say nothing."""


def check_all(inputs: Iterable[Path], settings: Settings,
              progress: Progress = _quiet) -> Outcome:
    """What ``validate`` reports: every record checked, share links included, nothing written."""
    started = time.monotonic()
    linking = Linking(list(inputs), settings, links.issue_date())
    unconfirmed = [order.service_ticket for chunk in linking for order in chunk.unconfirmed]
    unconfirmed = [ticket for ticket in unconfirmed if ticket not in linking.dropped]
    outcome = Outcome(read=linking.read, confirmed=linking.confirmed, unconfirmed=unconfirmed,
                      warnings=linking.warnings, rejected=linking.problems())
    _announce(progress, outcome.warnings, outcome.rejected)
    outcome.seconds = time.monotonic() - started
    return outcome


def run(inputs: Iterable[Path], settings: Settings, *, force: bool = False,
        only: Iterable[str] = (), progress: Progress = _quiet,
        stop: Stop | None = None) -> Outcome:
    """Invoice the confirmed work orders of ``inputs`` into ``settings.out``.

    ``only`` limits the run to those tickets, and what it reports to them: problems and
    unconfirmed work orders of other tickets are counted (``others_rejected``,
    ``others_unconfirmed``), not listed. A named ticket that
    cannot be invoiced (missing, unconfirmed) is listed under ``failed`` and the others
    are rendered; when none of them can be, :class:`TicketError` says why before
    anything is written. ``stop`` (see :mod:`stopping`) ends the run early and cleanly.
    ``settings.send`` (``run --send``) then emails what was not sent yet, in this run and
    under its lock (:mod:`deliver`), the counts in ``outcome.delivery``.
    """
    started = time.monotonic()
    stop = stop or threading.Event()
    settings.require_partner_id()
    inputs = list(inputs)
    wanted = {canonical_ticket(ticket) for ticket in only}

    def ours(ticket: str | None) -> bool:
        return not wanted or ticket in wanted

    readable(inputs)
    if settings.merge is not None:  # before the night's work, not after it
        check_target(folder.OutputFolder(settings.out), settings.merge)
        writable(settings.merge)
    outbox = _outbox(settings)
    with folder.writing(settings.out, annex=BillingFacts()) as out, Spool() as todo:
        # Links are claimed over the whole input, then the selection is taken: a ticket
        # outside it may hold the share ID or invoice number a selected one claims.
        linking = Linking(inputs, settings, links.issue_date(), folder=out, stop=stop)
        run_salt = salt(settings)
        named = _Named(wanted)
        unconfirmed: list[str] = []
        unchanged: list[str] = []
        # Only the unconfirmed tickets with an issued invoice, to be withdrawn after the
        # problems are told, as when the stages ran one after the other.
        withdrawals: list[tuple[WorkOrder, Rendered]] = []
        for chunk in linking:
            named.saw(chunk)
            unconfirmed += (order.service_ticket for order in chunk.unconfirmed)
            withdrawals += ((order, issued) for order in chunk.unconfirmed
                            if ours(order.service_ticket)
                            and (issued := chunk.published.get(order.service_ticket))
                            and not issued.withdrawn)
            planned = plan([invoice for invoice in chunk.invoices if ours(invoice.ticket)],
                           chunk.published, run_salt, out.intact, force=force)
            todo.add(planned.todo)
            unchanged += (invoice.ticket for invoice, _ in planned.unchanged)
            out.remember_unchanged(planned.unchanged)
        if linking.dropped:  # rejected whole after their first record was planned
            unconfirmed = [ticket for ticket in unconfirmed if ticket not in linking.dropped]
            unchanged = [ticket for ticket in unchanged if ticket not in linking.dropped]
            withdrawals = [(order, issued) for order, issued in withdrawals
                           if order.service_ticket not in linking.dropped]
            todo.discard(linking.dropped)
        # Stopped while reading: a named ticket may be in what was not read yet.
        unservable = {} if stop.is_set() else named.unservable(linking)
        if wanted and len(unservable) == len(wanted):
            _announce(progress, [], [p for p in linking.checked if p.service_ticket in wanted])
            ticket = min(unservable)
            raise TicketError(unservable[ticket], ticket=ticket)
        problems = linking.problems()
        outcome = Outcome(
            read=linking.read, confirmed=linking.confirmed,
            unconfirmed=[ticket for ticket in unconfirmed if ours(ticket)],
            rejected=[problem for problem in problems if ours(problem.service_ticket)],
            warnings=[warning for warning in linking.warnings if ours(warning.service_ticket)],
            unchanged=unchanged)
        outcome.others_rejected = len(problems) - len(outcome.rejected)
        outcome.others_unconfirmed = len(unconfirmed) - len(outcome.unconfirmed)
        _announce(progress, outcome.warnings, outcome.rejected)
        if outcome.others_rejected:
            progress("others_rejected", {"count": outcome.others_rejected,
                                         "inputs": [str(path) for path in inputs]})
        _withdraw(out, withdrawals, outcome, progress)
        rejected = {problem.service_ticket for problem in outcome.rejected}
        for ticket in sorted(unservable.keys() - rejected):
            _fail(progress, outcome, ticket, unservable[ticket])
        progress("start", {"total": len(todo), "unchanged": len(outcome.unchanged)})
        finished = _render_and_store(out, todo, run_salt, settings, stop, outcome, progress) \
            if len(todo) and not stop.is_set() else 0
        outcome.interrupted = stop.is_set()
        outcome.left = len(todo) - finished
        out.write_manifest()
        try:
            tickets = [*outcome.rendered, *outcome.unchanged]
            if settings.merge is not None and tickets:
                merge(out, settings.merge, tickets)
            if outbox is not None and not stop.is_set():
                # Not a ticket whose corrected work order this run could not issue: the
                # folder still holds its earlier version.
                held = {ticket: "not sent: this run could not issue its current work order"
                        for ticket in {failure.service_ticket for failure in outcome.failed}
                        | {problem.service_ticket for problem in outcome.rejected
                           if problem.service_ticket}}
                outcome.delivery = outbox.send(out, only=wanted or None, progress=progress,
                                               stop=stop, held=held)
                outcome.interrupted = stop.is_set()
        finally:
            # Also when the merged file cannot be written: the invoices are, and the
            # report must say so.
            outcome.seconds = time.monotonic() - started
            out.write_report(outcome)
    return outcome


def _withdraw(out: folder.OutputFolder, unconfirmed: list[tuple[WorkOrder, Rendered]],
              outcome: Outcome, progress: Progress) -> None:
    """Take back the invoices issued for tickets that are now unconfirmed.

    The contract puts an unconfirmed ticket's share link in no invoice output; the ledger
    keeps its share ID and number for its return (folder.withdraw).
    """
    for order, issued in unconfirmed:
        where = out.withdraw(issued)
        outcome.withdrawn.append(order.service_ticket)
        _warn(progress, outcome, Warning_(
            order.source, order.line, order.service_ticket,
            f"was invoiced as {issued.invoice_number} and is now unconfirmed: that "
            f"invoice is withdrawn ({where})"))


def _render_and_store(out: folder.OutputFolder, todo: Spool, run_salt: str,
                      settings: Settings, stop: Stop, outcome: Outcome,
                      progress: Progress) -> int:
    """Render ``todo`` and store each PDF as it comes; how many came back."""
    # The planned invoices an executor has taken and not given back: a bounded few.
    taken: dict[str, Planned] = {}

    def invoices() -> Iterator[Invoice]:
        for item in todo:
            taken[item.invoice.ticket] = item
            yield item.invoice

    finished = 0
    for result in executor_for(settings, len(todo)).render(invoices(), stop):
        finished += 1
        item = taken.pop(result.invoice.ticket)
        if isinstance(result, RenderFailure):
            _fail(progress, outcome, item.invoice.ticket, result.reason)
            continue
        try:
            stored = out.store(item.invoice, result.pdf, result.pages,
                               fingerprint(item.invoice, run_salt), item.previous)
        except RenderError as error:  # this PDF could not be written (a full disk)
            _fail(progress, outcome, item.invoice.ticket, error.message)
            continue
        outcome.rendered.append(stored.service_ticket)
        progress("rendered", {"service_ticket": stored.service_ticket, "pdf": stored.pdf})
    return finished


def _outbox(settings: Settings) -> Outbox | None:
    """What ``run --send`` sends with, checked before anything is rendered; ``None``
    without ``send``. Imported here: Jinja and Babel load only for a run that sends."""
    if not settings.send:
        return None
    from ..send.outbox import Outbox

    return Outbox(settings)


def _announce(progress: Progress, warnings: list[Warning_], problems: list[Problem]) -> None:
    for warning in warnings:
        progress("warning", {**warning.as_report(), "message": str(warning)})
    for problem in problems:
        progress("rejected", {**problem.as_report(), "message": str(problem)})


def _warn(progress: Progress, outcome: Outcome, warning: Warning_) -> None:
    outcome.warnings.append(warning)
    progress("warning", {**warning.as_report(), "message": str(warning)})


def _fail(progress: Progress, outcome: Outcome, ticket: str, reason: str) -> None:
    outcome.failed.append(Failure(ticket, reason))
    progress("failed", {"service_ticket": ticket, "reason": reason})


class _Named:
    """What became of the tickets a command names (``--only``, regenerate): only those are
    followed by ticket, whatever the input's size."""

    def __init__(self, wanted: set[str]) -> None:
        self.wanted = wanted
        self.known: set[str] = set()
        self.unconfirmed: set[str] = set()
        self.nearest = Nearest(wanted)  # for a ticket in none of the inputs (a typo)

    def saw(self, chunk: Chunk) -> None:
        if self.wanted:
            tickets = [item.ticket for item in chunk.invoices]
            unconfirmed = [order.service_ticket for order in chunk.unconfirmed]
            self.known |= self.wanted.intersection(tickets)
            self.unconfirmed |= self.wanted.intersection(unconfirmed)
            self.nearest.saw([*tickets, *unconfirmed],
                             self.wanted - self.known - self.unconfirmed)

    def unservable(self, linking: Linking) -> dict[str, str]:
        """The named tickets that are no confirmed, valid work order, and why."""
        # A valid confirmed order whose link was refused is known: it is rejected.
        known = (self.known - linking.dropped) | {problem.service_ticket
                                                  for problem in linking.unlinked}
        rejected = {problem.service_ticket for problem in linking.checked}
        reasons = {}
        for ticket in self.wanted - known:
            if ticket in self.unconfirmed:
                reasons[ticket] = ("is not confirmed: the technician has not completed the "
                                   "workflow, so it gets no invoice")
            elif ticket in rejected:
                reasons[ticket] = "was rejected; run `xoi-invoices validate` to see why"
            else:
                reasons[ticket] = \
                    f"is in none of the inputs{listed(self.nearest.of(ticket))}"
        return reasons
