"""What a clerk sends: a re-render, a send, an export to check, invoices to print, their
name. Writing is a job (:mod:`jobs`), never done inside the request; the answer is a 303
to the job's page. Checking and printing only read, so they answer at once.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import batch, store
from ..core.addresses import checked
from ..core.errors import XoiError
from ..core.models import Rendered
from ..core.text import one_line
from .exports import Export, discard, save_upload
from .jobs import Job
from .state import UPLOAD_LIMIT, Desk, clerk_name
from .views import page, problem
from .work import regenerate, resend

_FIELDS = {"max_files": 1, "max_fields": 8, "max_part_size": 64 * 1024}


async def act(request: Request) -> Response:
    """``POST /invoices/<number>/regenerate`` and ``.../send``."""
    desk: Desk = request.app.state.desk
    number, _, action = request.path_params["rest"].rpartition("/")
    if action not in ("regenerate", "send"):
        return problem(request, 404, "Not found", "No such action.")
    form = await request.form(**_FIELDS)
    reason = one_line(str(form.get("reason") or ""))[:500]
    found = await run_in_threadpool(_issued, desk, number)
    if found is None:
        return problem(request, 404, "Not found", "No invoice of this folder has that number.")
    if not reason:
        return problem(request, 400, "A reason is needed", "Say why (it goes into the "
                       "invoice's audit trail), then send the form again.")
    if found.withdrawn:
        return problem(request, 409, "Withdrawn", f"Invoice {number} is withdrawn: its work "
                       "order is unconfirmed.")
    clerk = request.scope["clerk"]
    try:
        job = await _job(desk, request, form, action, found, clerk.name, reason)
    except XoiError as error:
        return problem(request, 400, "Not started", str(error))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


async def _job(desk: Desk, request: Request, form: FormData, action: str, found: Rendered,
               who: str, reason: str) -> Job:
    to = one_line(str(form.get("to") or "")) if action == "send" else ""
    if to:
        try:
            to = checked(to)
        except ValueError as error:
            raise XoiError(f"{to!r} is not an address to send to: {error}") from None
    # The form's one-time key and what it asks: a double click finds the job the first
    # click made; a form without a key is never taken for another's click.
    nonce = str(form.get("nonce") or "") or secrets.token_urlsafe(16)
    asked = hashlib.sha256(f"{reason}\0{to}\0{form.get('from')}".encode()).hexdigest()[:16]
    key = f"{action}:{found.service_ticket}:{nonce}:{asked}"
    if (known := desk.jobs.by_key(key)) is not None:
        return known  # before anything is saved again
    common: dict[str, Any] = {"ticket": found.service_ticket,
                              "invoice_number": found.invoice_number, "who": who,
                              "reason": reason}
    if action == "send":
        return desk.jobs.submit(Job("send", **common, source=to and f"to {to}",
                                    work=lambda job: resend(desk, job, to)), key)
    upload = form.get("export")
    source: Export | None = None
    if form.get("from") == "upload" or "from" not in form:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise XoiError("choose the corrected export to upload")
        source = await run_in_threadpool(save_upload, upload.file, upload.filename,
                                         desk.uploads)
    elif desk.settings.inputs:
        source = await run_in_threadpool(desk.exports.holding, found.service_ticket)
    if source is None:
        raise XoiError("no configured export holds this ticket: upload the corrected export")
    chosen = source
    cleanup = functools.partial(discard, chosen) if form.get("from") != "configured" else None
    job = desk.jobs.submit(Job("regenerate", **common, cleanup=cleanup,
                               source=f"{chosen.shown} (modified {chosen.modified})",
                               work=lambda job: regenerate(desk, job, chosen)), key)
    if job.cleanup is not cleanup and cleanup is not None:  # a double click's second copy
        cleanup()
    return job


def _issued(desk: Desk, number: str) -> Rendered | None:
    with desk.ledger() as ledger:
        return None if ledger is None else ledger.by_number(number)


def cancel(request: Request) -> Response:
    """A plain function, run in the thread pool: cancelling writes the audit row."""
    desk: Desk = request.app.state.desk
    job_id = request.path_params["job_id"]
    desk.jobs.cancel(job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


async def name(request: Request) -> Response:
    form = await request.form(**_FIELDS)
    if not request.scope["clerk"].proxied:  # behind a proxy, the proxy names the clerk
        request.session["name"] = clerk_name(str(form.get("name") or ""))
    return RedirectResponse("/", status_code=303)


async def check(request: Request) -> Response:
    """``POST /validate``: the export's problems as ``validate`` prints them."""
    desk: Desk = request.app.state.desk
    form = await request.form(**_FIELDS)
    upload = form.get("export")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return problem(request, 400, "No file", "Choose the export to check.")
    try:
        saved = await run_in_threadpool(save_upload, upload.file, upload.filename,
                                        desk.uploads)
    except XoiError as error:
        return problem(request, 400, "Not an export", str(error))
    try:
        checked = await run_in_threadpool(_check, desk, saved)
    finally:
        await run_in_threadpool(discard, saved)
    return page(request, "check.html", here="check", checked=checked,
                limit=f"{UPLOAD_LIMIT // 2**20} MB")


def _check(desk: Desk, saved: Export) -> dict[str, object]:
    shown = str(saved.path)
    try:
        outcome = batch.check_all([saved.path], desk.settings)
    except XoiError as error:  # the whole file is unreadable
        return {"name": saved.shown, "ok": False, "summary": "cannot be read",
                "lines": [str(error).replace(shown, saved.shown)]}
    lines = [str(item).replace(shown, saved.shown)
             for item in (*outcome.rejected, *outcome.warnings)]
    return {"name": saved.shown, "ok": outcome.ok, "summary": outcome.checked(),
            "lines": lines}


async def merge(request: Request) -> Response:
    """``POST /merge``: the chosen invoices as one PDF, one bookmark each."""
    desk: Desk = request.app.state.desk
    form = await request.form(max_files=0, max_fields=1000, max_part_size=1024)
    numbers = [str(value) for value in form.getlist("invoice")][:1000]
    if not numbers:
        return problem(request, 400, "Nothing chosen", "Tick the invoices to print first.")
    try:
        data = await run_in_threadpool(_merged, desk, numbers)
    except XoiError as error:
        return problem(request, 400, "Not printed", str(error))
    return Response(data, media_type="application/pdf", headers={
        "Cache-Control": "no-store",
        "Content-Disposition": f'inline; filename="invoices-{len(numbers)}.pdf"'})


def _merged(desk: Desk, numbers: list[str]) -> bytes:
    with desk.ledger() as ledger:
        if ledger is None:
            raise XoiError("no invoices here yet")
        tickets = []
        for number in numbers:
            found = ledger.by_number(number)
            if found is None or found.withdrawn:
                raise XoiError(f"invoice {number!r} is not issued in this folder")
            tickets.append(found.service_ticket)
    with tempfile.TemporaryDirectory(dir=desk.uploads) as scratch:
        target = Path(scratch) / "merged.pdf"
        with store.reading(desk.folder, lock=False) as folder:
            store.merge(folder, target, tickets)
        return target.read_bytes()

