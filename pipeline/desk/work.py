"""What a desk job does, through the library calls the command line makes: ``regenerate``
is :func:`pipeline.batch.run` with ``force`` and one ticket, a send is
:func:`pipeline.send.send_folder` with ``resend`` (and another address if the clerk gave
one). Each returns the lines its job's page shows: what changed, in words.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from .. import batch, send
from ..core.errors import XoiError
from ..core.models import Rendered
from .exports import Export, discard
from .jobs import Job
from .state import Desk
from .trail import Trail

# Seconds a job's command waits for the folder's lock: the job looked and found it free,
# so only a command that started in between holds it; longer, and the job waits again.
GRACE = 2
NEXT_SEND = {
    "first": "The next send mails it to the customer (it was never sent).",
    "correction": "The next send mails it as a correction: the customer has an earlier "
                  "version.",
    "sent": "The customer already has this version: the next send mails nothing.",
}


class JobFailed(XoiError):
    """What the command reported for the job's ticket, as the job's reason to fail."""


def regenerate(desk: Desk, job: Job, source: Export, *, uploaded: bool) -> list[str]:
    settings = replace(desk.settings, lock_timeout=GRACE, quiet=True, send=False,
                       merge=None, workers=1)
    try:
        before = _issued(desk, job.ticket)
        outcome = batch.run([source.path], settings, force=True, only=(job.ticket,),
                            stop=threading.Event(), command="regenerate")
    finally:
        if uploaded:
            discard(source)
    shown = str(source.path)
    for problem in outcome.rejected:
        raise JobFailed(str(problem).replace(shown, source.shown))
    for failure in outcome.failed:
        raise JobFailed(f"{source.shown}: ticket {failure.service_ticket}: {failure.reason}")
    after = _issued(desk, job.ticket)
    if after is None:
        raise JobFailed(f"{source.shown}: ticket {job.ticket} was not rendered")
    lines = [f"Rendered from {source.shown} (modified {source.modified}): invoice "
             f"{after.invoice_number}, share link {after.share_url}."]
    if before is not None and before.invoice_number != after.invoice_number:
        lines.append(f"The invoice number changed from {before.invoice_number}.")
    if before is None or before.sha256 == after.sha256:
        lines.append("The content did not change: the PDF is the one issued, byte for byte.")
    else:
        lines.append("The content changed: the previous PDF is kept as an earlier version.")
    with desk.ledger() as ledger:
        assert ledger is not None
        lines.append(NEXT_SEND[send.next_mail(ledger, job.ticket, after.sha256)])
    return lines


def resend(desk: Desk, job: Job, to: str) -> list[str]:
    from ..send import send_folder  # Jinja and the SMTP client load for a send only

    settings = replace(desk.settings, lock_timeout=GRACE, quiet=True)
    outcome = send_folder(desk.folder, settings, only=(job.ticket,), resend=True,
                          to=to or None, stop=threading.Event())
    for failure in (*outcome.failed, *outcome.skipped):
        raise JobFailed(failure.reason)
    with desk.ledger() as ledger:
        assert ledger is not None
        latest = send.attempts(ledger, job.ticket)[0]
    return [f"Accepted by the mail server for {latest.recipient} ({latest.sent_at}); "
            f"Message-ID {latest.message_id}. Whether it reaches the inbox, the server "
            "does not say."]


def finished(desk: Desk, job: Job) -> None:
    """The job, once it has ended, into the invoice's audit trail: who, why, what came."""
    outcome = f"failed: {job.error}" if job.error else \
        f"done: {' '.join(job.lines[1:] or job.lines)}"
    action = f"{job.kind} ({job.source})" if job.source else job.kind
    with desk.ledger() as ledger:
        if ledger is not None:
            Trail(ledger.db).record(job.ticket, job.invoice_number, at=job.queued_at,
                                    who=job.who, action=action, reason=job.reason,
                                    outcome=outcome)


def _issued(desk: Desk, ticket: str) -> Rendered | None:
    with desk.ledger() as ledger:
        return None if ledger is None else ledger.rows([ticket]).get(ticket)
