"""Email every invoice of an output folder whose current version has not been sent.

:class:`Outbox` checks what sending needs once (for ``run --send``, before anything is
rendered); :meth:`Outbox.send` sends over a folder its command already holds open and
locked: the batch's own folder in ``run --send``, :func:`send_folder`'s in ``send``.
Exactly once as far as SMTP allows: the intent is recorded before each SMTP transaction
and the result after it (:class:`.log.DeliveryLog`), so a run killed between the server's
acceptance and the recording sends at most that one message again, with the same
Message-ID (at least once, with an idempotency key). A stop request (see
:mod:`pipeline.cli.signals`) lets the message in flight finish and be recorded, and sends no more.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path

from .. import store
from ..core.addresses import checked, to_address
from ..core.config import Settings
from ..core.errors import ConfigError, TicketError
from ..core.models import Delivered, Failure, Rendered
from ..core.stop import Stop
from ..validate import canonical_ticket
from .log import Delivery, DeliveryLog, deliveries_csv, mail_kind
from .message import Envelope, MailTemplates, message_id
from .request import checked_request
from .smtp import Mailer, Permanent, RateLimit, Temporary, Unreachable, pause

Progress = Callable[[str, dict[str, object]], None]
# A greylisting server or a dropped connection gets three more tries within 20 s; past
# that the message fails and the next `send` tries it again.
RETRY_DELAYS = (1.0, 4.0, 15.0)
# Messages in a row that a server put off (4xx) through all their tries: it is throttling
# or over a quota, and the rest of the night would only hammer it, 20 s a message.
PUT_OFF_IN_A_ROW = 3


def _quiet(event: str, data: dict[str, object]) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True, slots=True)
class _Planned:
    delivery: Delivery
    message: EmailMessage
    recipients: list[str]


@dataclass
class _Sender:
    """One ``send`` over one open folder: its delivery log, the outbox, the outcome."""

    out: store.OutputFolder
    log: DeliveryLog
    outbox: Outbox
    resend: bool
    progress: Progress
    outcome: Delivered
    stop: Stop
    to: str | None = None  # every message to this address instead of the customer's
    put_off: int = 0  # messages in a row that ended on a temporary refusal

    def plan(self, rendered: Rendered) -> _Planned | None:
        """The message for this invoice, or ``None`` when there is none to send now."""
        ticket = rendered.service_ticket
        sent = self.log.sent_versions(ticket)
        mail = mail_kind(sent, rendered.sha256)
        if mail == "sent":
            if not (self.resend or self.to):
                self.outcome.already_sent.append(ticket)
                return None
            # Sent again as it went: a correction if another version went before it.
            mail = mail_kind([version for version in sent if version != rendered.sha256],
                             rendered.sha256)
        delivery = Delivery(ticket, rendered.invoice_number, "", rendered.sha256,
                            message_id(rendered.invoice_number, rendered.sha256,
                                       self.outbox.envelope.sender.domain), "", "", "",
                            copy=self.to is not None)
        facts = self.log.facts(ticket, rendered.sha256)
        if facts is None:
            self.finish(replace(delivery, status="skipped", reason=(
                "the ledger has no billing details for this PDF (rendered before email "
                "delivery existed): the next `xoi-invoices run` records them")))
            return None
        email = self.to or str(facts["bill_to"]["email"]).strip()
        delivery = replace(delivery, recipient=email)
        if not email:
            self.outcome.unaddressed.append(ticket)
            self.finish(replace(delivery, status="skipped",
                                reason="no bill_to_email in the work order"))
            return None
        try:
            # Not the customer's name on another address (their accountant's, say).
            to = to_address("" if self.to else str(facts["bill_to"]["name"]), checked(email))
        except ValueError as error:
            self.finish(replace(delivery, status="skipped",
                                reason=f"bill_to_email is not valid: {error}"))
            return None
        path = self.out.pdf(rendered)
        pdf = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(pdf).hexdigest() != rendered.sha256:
            self.finish(replace(delivery, status="failed", reason=(
                f"{rendered.pdf} is missing or differs from the manifest's sha256; "
                "`xoi-invoices verify` tells more, `xoi-invoices run` renders it again")))
            return None
        message = self.outbox.templates.build(rendered, facts, pdf, to=to,
                                              envelope=self.outbox.envelope,
                                              correction=mail == "correction")
        delivery = replace(delivery, recipient=to.addr_spec)
        if self.outcome.dry_run:
            self.outcome.would_send.append(ticket)
            self.progress("would_send", {"service_ticket": ticket,
                                         "recipient": to.addr_spec,
                                         "subject": str(message["Subject"])})
            return None
        return _Planned(delivery, message, self.outbox.envelope.recipients(to))

    def finish(self, delivery: Delivery) -> None:
        """A delivery decided without the server: recorded (not in a dry run) and counted."""
        if not self.outcome.dry_run:
            self.log.finished(delivery, store.timestamp())
        failure = Failure(delivery.service_ticket, delivery.reason)
        (self.outcome.skipped if delivery.status == "skipped" else self.outcome.failed) \
            .append(failure)
        self.progress(delivery.status, {"service_ticket": delivery.service_ticket,
                                        "reason": delivery.reason})

    def transmit(self, planned: _Planned) -> None:
        """One message: intent, the SMTP transaction (tried again on 4xx or a drop), result.

        :class:`Unreachable` escapes when even connecting keeps failing, or when
        :data:`PUT_OFF_IN_A_ROW` messages were put off to the end of their tries: the rest
        of the batch would fare no better. A stop request ends the tries of this message.
        """
        mailer = self.outbox.mailer
        row: int | None = None
        reason, unreachable, temporary, tries = "", False, False, 0
        for delay in (0.0, *RETRY_DELAYS):
            pause(delay, self.stop)
            if tries and self.stop.is_set():
                reason = f"{reason}; stopped before trying again"
                break
            tries += 1
            try:
                mailer.connect()  # a refused login stops us before any intent
                if row is None:
                    row = self.log.intent(planned.delivery, store.timestamp())
                note = mailer.send(planned.message, self.outbox.envelope.sender.addr_spec,
                                   planned.recipients)
            except Permanent as error:
                reason, temporary = str(error), False
                break
            except Temporary as error:
                reason = f"{error} (tried {tries} time{'s' if tries > 1 else ''})"
                unreachable, temporary = isinstance(error, Unreachable), True
                continue
            assert row is not None
            self.put_off = 0
            self.log.result(row, "sent", sent_at=store.timestamp(), reason=note)
            self.outcome.sent.append(planned.delivery.service_ticket)
            self.progress("sent", {"service_ticket": planned.delivery.service_ticket,
                                   "recipient": planned.delivery.recipient,
                                   "message_id": planned.delivery.message_id})
            return
        if row is None:
            self.finish(replace(planned.delivery, status="failed", reason=reason))
        else:
            self.log.result(row, "failed", reason=reason)
            self.outcome.failed.append(Failure(planned.delivery.service_ticket, reason))
            self.progress("failed", {"service_ticket": planned.delivery.service_ticket,
                                     "reason": reason})
        self.put_off = self.put_off + 1 if temporary else 0
        if unreachable:
            raise Unreachable(reason)
        if self.put_off >= PUT_OFF_IN_A_ROW:
            raise Unreachable(f"{reason}; {self.put_off} messages in a row were put off: the "
                              "server is throttling or over a quota")


def _no_invoices(path: Path) -> ConfigError:
    return ConfigError("has no invoices yet: `xoi-invoices run` renders them first",
                       source=path)


class Outbox:
    """What sending needs, checked before any folder is touched: the configured addresses,
    the SMTP server (connected on the first message) and the email templates."""

    def __init__(self, settings: Settings) -> None:
        self.envelope = Envelope.from_settings(settings.smtp)
        self.mailer = Mailer(settings.smtp)
        self.templates = MailTemplates(settings)
        self.max_per_minute = settings.smtp.max_per_minute

    def send(self, out: store.OutputFolder, *, only: Collection[str] | None = None,
             dry_run: bool = False, resend: bool = False, progress: Progress = _quiet,
             stop: Stop | None = None, held: Mapping[str, str] | None = None,
             to: str | None = None) -> Delivered:
        """Email the folder's issued invoices that need it (``only``: of those tickets).

        ``held`` (ticket → why) are skipped: the run that sends could not issue their
        current work order, so the version in the folder may be out of date.

        ``out`` is open and locked by the caller: exclusively, or shared for a dry run,
        which reports what would be sent and changes nothing. ``resend`` sends the named
        tickets again even if their current version was sent (same Message-ID); ``to``
        sends the one named ticket to that address instead of its customer's, sent or not.
        Withdrawn and unconfirmed tickets are in no manifest, so they are never sent.
        """
        started = time.monotonic()
        stop = stop or threading.Event()
        only = None if only is None else {canonical_ticket(ticket) for ticket in only}
        to = checked_request(only, resend=resend, to=to)
        if out.ledger is None:
            raise _no_invoices(out.path)
        selected: Iterable[Rendered]
        if only is None:  # the whole manifest, a page of rows at a time
            selected, total = out.issued(), out.issued_count()
        else:
            selected = sorted((rendered for rendered in out.published_of(only).values()
                               if not rendered.withdrawn), key=_by_ticket)
            total = len(selected)
        outcome = Delivered(dry_run=dry_run)
        sender = _Sender(out, DeliveryLog(out.ledger), self, resend, progress, outcome, stop, to)
        limit = RateLimit(self.max_per_minute, sleep=functools.partial(pause, stop=stop))
        progress("sending", {"total": total, "dry_run": dry_run})
        try:
            unreachable: Unreachable | None = None
            # One message at a time: a night's PDFs need not all be in memory at once.
            for rendered in selected:
                if stop.is_set():
                    break
                item = sender.plan(rendered)
                if item is None:
                    continue
                if held and rendered.service_ticket in held:
                    sender.finish(replace(item.delivery, status="skipped",
                                          reason=held[rendered.service_ticket]))
                    continue
                if unreachable is not None:
                    sender.finish(replace(item.delivery, status="failed",
                                          reason=f"not tried: {unreachable}"))
                    continue
                limit.wait()
                if stop.is_set():
                    break
                try:
                    sender.transmit(item)
                except Unreachable as error:
                    unreachable = error
        finally:
            self.mailer.close()
            if not dry_run:
                out.write_deliveries(deliveries_csv(sender.log.latest()))
        outcome.interrupted = stop.is_set()
        done = {*outcome.sent, *outcome.already_sent, *outcome.would_send,
                *(failure.service_ticket for failure in outcome.failed + outcome.skipped)}
        outcome.left = total - len(done)  # every ticket in done is one of those selected
        outcome.seconds = time.monotonic() - started
        return outcome


def send_folder(path: Path, settings: Settings, *, only: Iterable[str] = (),
                dry_run: bool = False, resend: bool = False, progress: Progress = _quiet,
                stop: Stop | None = None, to: str | None = None) -> Delivered:
    """``xoi-invoices send``: open the folder and :meth:`Outbox.send` over it.

    Every ticket in ``only`` must have an invoice there. The lock is exclusive, shared
    for a dry run: two sends at once would both send what neither had recorded; another
    command's is waited for as ``run`` does (``settings.lock_timeout``, unless ``stop``).
    A folder no run has written to is an error, and is left as it was (no ledger made).
    """
    outbox = Outbox(settings)
    wanted = {canonical_ticket(ticket) for ticket in only}
    checked_request(wanted, resend=resend, to=to)  # before the folder's lock is asked for
    if not store.check_ledger(path):
        raise _no_invoices(path)
    opened = store.reading(path) if dry_run else store.writing(
        path, new_ledger=False, wait=settings.lock_timeout, stop=stop)
    with opened as out:
        issued = out.published_of(wanted)
        missing = sorted(ticket for ticket in wanted
                         if ticket not in issued or issued[ticket].withdrawn)
        if missing:
            near = store.listed(store.closest_invoiced(out.ledger, missing[0]))
            raise TicketError(f"has no invoice in {path}/{store.MANIFEST} (not invoiced, or "
                              f"withdrawn): nothing to send{near}", ticket=missing[0])
        return outbox.send(out, only=wanted or None, dry_run=dry_run, resend=resend,
                           progress=progress, stop=stop, to=to)


def _by_ticket(rendered: Rendered) -> str:
    return rendered.service_ticket
