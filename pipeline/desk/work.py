"""What a desk job does, through the library calls the command line makes: ``regenerate``
is :func:`pipeline.batch.run` with ``force`` and one ticket, a send is
:func:`pipeline.send.send_folder` with ``resend`` (and another address if the clerk gave
one). Each returns the lines its job's page shows: what changed, in words.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from .. import batch, send, store
from ..core.errors import XoiError
from ..core.models import Rendered
from .exports import Export
from .jobs import Job
from .state import Desk
from .trail import Trail
from .views import NEXT_MAIL

# Seconds a job's command waits for the folder's lock: the job looked and found it free,
# so only a command that started in between holds it; longer, and the job waits again.
GRACE = 2
class JobFailed(XoiError):
    """What the command reported for the job's ticket, as the job's reason to fail."""


def regenerate(desk: Desk, job: Job, source: Export) -> list[str]:
    settings = replace(desk.settings, lock_timeout=GRACE, quiet=True, send=False,
                       merge=None, workers=1)
    before = _issued(desk, job.ticket)
    outcome = batch.run([source.path], settings, force=True, only=(job.ticket,),
                        stop=threading.Event(), command="regenerate")
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
        kind = send.next_mail(ledger, job.ticket, after.sha256)
        lines.append(f"The next send {NEXT_MAIL[kind]}.")
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


def started(desk: Desk, job: Job) -> None:
    """The job into the invoice's audit trail as it starts: who asked, why, ``running``."""
    with desk.ledger() as ledger:
        if ledger is not None:
            job.trail_row = _trail(ledger, job, "running")


def finished(desk: Desk, job: Job) -> None:
    """What came of the job into its row of the audit trail (a job cancelled before it
    started gets its row now)."""
    outcome = f"failed: {job.error}" if job.error else \
        f"done: {' '.join(job.lines[1:] or job.lines)}"
    with desk.ledger() as ledger:
        if ledger is None:
            return
        if job.trail_row:
            Trail(ledger.db).came(job.trail_row, outcome)
        else:
            job.trail_row = _trail(ledger, job, outcome)


def _trail(ledger: store.Ledger, job: Job, outcome: str) -> int:
    action = f"{job.kind} ({job.source})" if job.source else job.kind
    return Trail(ledger.db).record(job.ticket, job.invoice_number, at=job.queued_at,
                                   who=job.who, action=action, reason=job.reason,
                                   outcome=outcome)


def _issued(desk: Desk, ticket: str) -> Rendered | None:
    with desk.ledger() as ledger:
        return None if ledger is None else ledger.rows([ticket]).get(ticket)
