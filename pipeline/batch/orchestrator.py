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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import Settings
from ..core.errors import RenderError, TicketError
from ..core.files import writable
from ..core.models import (
    Delivered,
    Failure,
    Invoice,
    Outcome,
    Problem,
    Rendered,
    Warning_,
    WorkOrder,
)
from ..core.stop import Stop
from ..link import issue_date
from ..plan import Planned, Spool, fingerprint, plan
from ..render import ExecutorFor, RenderFailure, renderers, salt
from ..send import BillingFacts
from ..store import OutputFolder, check_target, merge, writing
from .named_tickets import NamedTickets
from .stream import Linking, readable

if TYPE_CHECKING:
    from ..send import Outbox

Progress = Callable[[str, dict[str, object]], None]


def _quiet(event: str, data: dict[str, object]) -> None:
    """The default progress callback: say nothing."""


def check_all(inputs: Iterable[Path], settings: Settings,
              progress: Progress = _quiet) -> Outcome:
    """What ``validate`` reports: every record checked, share links included, nothing written."""
    started = time.monotonic()
    linking = Linking(list(inputs), settings, issue_date())
    unconfirmed = [order.service_ticket for chunk in linking for order in chunk.unconfirmed]
    unconfirmed = [ticket for ticket in unconfirmed if ticket not in linking.dropped]
    outcome = Outcome(read=linking.read, confirmed=linking.confirmed, unconfirmed=unconfirmed,
                      warnings=linking.warnings, rejected=linking.problems())
    _announce(progress, outcome.warnings, outcome.rejected)
    outcome.seconds = time.monotonic() - started
    return outcome


def run(inputs: Iterable[Path], settings: Settings, *, force: bool = False,
        only: Iterable[str] = (), progress: Progress = _quiet,
        stop: Stop | None = None, command: str = "run") -> Outcome:
    """Invoice the confirmed work orders of ``inputs`` into ``settings.out``.

    ``only`` limits the run to those tickets, and what it reports to them: problems and
    unconfirmed work orders of other tickets are counted (``others_rejected``,
    ``others_unconfirmed``), not listed. A named ticket that cannot be invoiced (missing,
    unconfirmed) is listed under ``failed`` and the others are rendered; when none of
    them can be, :class:`TicketError` says why before anything is written. ``stop`` (see
    :mod:`~pipeline.cli.signals`) ends the run early and cleanly. ``settings.send``
    (``run --send``) then emails what was not sent yet, in this run and under its lock
    (:mod:`~pipeline.send.outbox`), the counts in ``outcome.delivery``. ``command``
    (``run``, ``regenerate``) names the report; another command's lock is waited for up
    to ``settings.lock_timeout`` seconds.
    """
    started = time.monotonic()
    stop = stop or threading.Event()
    settings.require_partner_id()
    inputs = list(inputs)
    named = NamedTickets(only)
    with renderers(settings) as executor_for:  # Dask's scheduler before any input is read
        outbox = _checked_job(inputs, settings)
        with writing(settings.out, annex=BillingFacts(), wait=settings.lock_timeout,
                     stop=stop) as out, Spool() as todo:
            # Links are claimed over the whole input, then the selection is taken: a ticket
            # outside it may hold the share ID or invoice number a selected one claims.
            linking = Linking(inputs, settings, issue_date(), folder=out, stop=stop)
            run_salt = salt(settings)
            sorted_out = _link_and_plan(linking, named, out, todo, run_salt=run_salt, force=force)
            unservable = _unservable(named, linking, stopped=stop.is_set(), progress=progress)
            linked = _linked(linking, sorted_out, named)
            _tell(progress, linked, inputs)
            withdrawn = _withdraw(out, sorted_out.withdrawals, progress)
            rejected = {problem.service_ticket for problem in linked.rejected}
            refused = [_failed(progress, ticket, unservable[ticket])
                       for ticket in sorted(unservable.keys() - rejected)]
            progress("start", {"total": len(todo), "unchanged": len(linked.unchanged)})
            stored = _render_and_store(out, todo, run_salt=run_salt, executor_for=executor_for,
                                       stop=stop, progress=progress)
            outcome = replace(linked, rendered=stored.rendered, failed=[*refused, *stored.failed],
                              withdrawn=[warning.service_ticket for warning in withdrawn],
                              warnings=[*linked.warnings, *withdrawn],
                              interrupted=stop.is_set(), left=stored.left)
            out.write_manifest()
            try:
                tickets = [*outcome.rendered, *outcome.unchanged]
                if settings.merge is not None and tickets:
                    merge(out, settings.merge, tickets)
                if outbox is not None and not stop.is_set():
                    outcome.delivery = _send(outbox, out, outcome, named=named, stop=stop,
                                             progress=progress)
                    outcome.interrupted = outcome.delivery.interrupted  # stopped while sending
            finally:
                # Also when the merged file cannot be written: the invoices are, and the
                # report must say so.
                outcome.seconds = time.monotonic() - started
                out.write_report(outcome, command=command)
    return outcome


@dataclass(frozen=True, slots=True)
class _Sorted:
    """Where the input's valid work orders went, besides the invoices to render."""

    unconfirmed: list[str]  # every unconfirmed ticket, named or not (to count the others)
    unchanged: list[str]
    # Only the unconfirmed tickets with an issued invoice, to be withdrawn after the
    # problems are told, as when the stages ran one after the other.
    withdrawals: list[tuple[WorkOrder, Rendered]]


def _checked_job(inputs: list[Path], settings: Settings) -> Outbox | None:
    """What can be checked before the folder is taken: the inputs open, the merged file
    can be written, the mail settings of ``run --send`` hold. What the run sends with;
    ``None`` without ``send``."""
    readable(inputs)
    if settings.merge is not None:  # before the night's work, not after it
        check_target(OutputFolder(settings.out), settings.merge)
        writable(settings.merge)
    if not settings.send:
        return None
    # Imported here: Jinja and the SMTP client load only for a run that sends.
    from ..send import Outbox

    return Outbox(settings)


def _link_and_plan(linking: Linking, named: NamedTickets, out: OutputFolder,
                   todo: Spool, *, run_salt: str, force: bool) -> _Sorted:
    """Link and plan the named tickets a chunk at a time, the invoices to render into
    ``todo``: a million work orders are never all in memory."""
    unconfirmed: list[str] = []
    unchanged: list[str] = []
    withdrawals: list[tuple[WorkOrder, Rendered]] = []
    for chunk in linking:
        named.saw(chunk)
        unconfirmed += (order.service_ticket for order in chunk.unconfirmed)
        withdrawals += ((order, issued) for order in chunk.unconfirmed
                        if named.includes(order.service_ticket)
                        and (issued := chunk.published.get(order.service_ticket))
                        and not issued.withdrawn)
        planned = plan([invoice for invoice in chunk.invoices if named.includes(invoice.ticket)],
                       chunk.published, run_salt, out.intact, force=force)
        todo.add(planned.todo)
        unchanged += (invoice.ticket for invoice, _ in planned.unchanged)
        out.remember_unchanged(planned.unchanged)
    dropped = linking.dropped  # rejected whole after their first record was planned
    if not dropped:
        return _Sorted(unconfirmed, unchanged, withdrawals)
    todo.discard(dropped)
    return _Sorted([ticket for ticket in unconfirmed if ticket not in dropped],
                   [ticket for ticket in unchanged if ticket not in dropped],
                   [(order, issued) for order, issued in withdrawals
                    if order.service_ticket not in dropped])


def _unservable(named: NamedTickets, linking: Linking, *, stopped: bool,
                progress: Progress) -> dict[str, str]:
    """The named tickets that cannot be invoiced, and why; :class:`TicketError` when none
    of them can, after their problems are told."""
    if stopped:  # while reading: a named ticket may be in what was not read yet
        return {}
    unservable = named.unservable(linking)
    if named.wanted and len(unservable) == len(named.wanted):
        _announce(progress, [], [problem for problem in linking.checked
                                 if problem.service_ticket in named.wanted])
        ticket = min(unservable)
        raise TicketError(unservable[ticket], ticket=ticket)
    return unservable


def _linked(linking: Linking, sorted_out: _Sorted, named: NamedTickets) -> Outcome:
    """What reading, checking, linking and planning found, of the named tickets; the
    other tickets' problems and unconfirmed orders only counted."""
    problems = linking.problems()
    rejected = [problem for problem in problems if named.includes(problem.service_ticket)]
    unconfirmed = [ticket for ticket in sorted_out.unconfirmed if named.includes(ticket)]
    return Outcome(
        read=linking.read, confirmed=linking.confirmed, unconfirmed=unconfirmed,
        rejected=rejected, unchanged=sorted_out.unchanged,
        warnings=[warning for warning in linking.warnings
                  if named.includes(warning.service_ticket)],
        others_rejected=len(problems) - len(rejected),
        others_unconfirmed=len(sorted_out.unconfirmed) - len(unconfirmed))


def _tell(progress: Progress, linked: Outcome, inputs: list[Path]) -> None:
    _announce(progress, linked.warnings, linked.rejected)
    if linked.others_rejected:
        progress("others_rejected", {"count": linked.others_rejected,
                                     "inputs": [str(path) for path in inputs]})


def _withdraw(out: OutputFolder, withdrawals: list[tuple[WorkOrder, Rendered]],
              progress: Progress) -> list[Warning_]:
    """Take back the invoices issued for tickets that are now unconfirmed; a warning each.

    The contract puts an unconfirmed ticket's share link in no invoice output; the ledger
    keeps its share ID and number for its return (OutputFolder.withdraw).
    """
    warnings = []
    for order, issued in withdrawals:
        where = out.withdraw(issued)
        warning = Warning_(order.source, order.line, order.service_ticket,
                           f"was invoiced as {issued.invoice_number} and is now unconfirmed: "
                           f"that invoice is withdrawn ({where})")
        _announce(progress, [warning], [])
        warnings.append(warning)
    return warnings


@dataclass(frozen=True, slots=True)
class _Stored:
    """What rendering did: the tickets stored, those that failed, how many were left."""

    rendered: list[str]
    failed: list[Failure]
    left: int  # not given back by the executor: stopped before their turn


def _render_and_store(out: OutputFolder, todo: Spool, *, run_salt: str,
                      executor_for: ExecutorFor, stop: Stop, progress: Progress) -> _Stored:
    """Render ``todo`` and store each PDF as it comes."""
    rendered: list[str] = []
    failed: list[Failure] = []
    if not len(todo) or stop.is_set():  # no executor is started for nothing
        return _Stored(rendered, failed, len(todo))
    # The planned invoices an executor has taken and not given back: a bounded few.
    taken: dict[str, Planned] = {}

    def invoices() -> Iterator[Invoice]:
        for item in todo:
            taken[item.invoice.ticket] = item
            yield item.invoice

    for result in executor_for(len(todo)).render(invoices(), stop):
        item = taken.pop(result.invoice.ticket)
        if isinstance(result, RenderFailure):
            failed.append(_failed(progress, item.invoice.ticket, result.reason))
            continue
        try:
            stored = out.store(item.invoice, result.pdf, result.pages,
                               fingerprint(item.invoice, run_salt), item.previous,
                               xml_sha256=result.xml_sha256)
        except RenderError as error:  # this PDF could not be written (a full disk)
            failed.append(_failed(progress, item.invoice.ticket, error.message))
            continue
        rendered.append(stored.service_ticket)
        progress("rendered", {"service_ticket": stored.service_ticket, "pdf": stored.pdf})
    return _Stored(rendered, failed, len(todo) - len(rendered) - len(failed))


def _send(outbox: Outbox, out: OutputFolder, outcome: Outcome, *,
          named: NamedTickets, stop: Stop, progress: Progress) -> Delivered:
    """Email what was not sent yet, of the named tickets."""
    # Not a ticket whose corrected work order this run could not issue: the folder still
    # holds its earlier version.
    held = {ticket: "not sent: this run could not issue its current work order"
            for ticket in {failure.service_ticket for failure in outcome.failed}
            | {problem.service_ticket for problem in outcome.rejected
               if problem.service_ticket}}
    return outbox.send(out, only=named.wanted or None, progress=progress, stop=stop,
                       held=held)


def _announce(progress: Progress, warnings: list[Warning_], problems: list[Problem]) -> None:
    for warning in warnings:
        progress("warning", {**warning.as_report(), "message": str(warning)})
    for problem in problems:
        progress("rejected", {**problem.as_report(), "message": str(problem)})


def _failed(progress: Progress, ticket: str, reason: str) -> Failure:
    progress("failed", {"service_ticket": ticket, "reason": reason})
    return Failure(ticket, reason)
