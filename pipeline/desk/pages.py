"""The pages a clerk reads: invoices, one invoice (its PDF, versions, QR), a job, the last
run, the export check's form. Reading never waits for the folder's lock. A PDF is served
only from the path the ledger names for it, checked by the store.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import qrcode
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from .. import send, store
from ..core.errors import OutputError
from ..core.models import Rendered
from ..core.money import format_money
from .exports import Export
from .index import Index
from .state import UPLOAD_LIMIT, Desk, clerk_name
from .trail import Trail
from .views import NEXT_MAIL, delivery_words, page, problem

FILTERS = ((None, "All"), ("unsent", "Not sent"), ("failed", "Delivery failed"),
           ("withdrawn", "Withdrawn"))
_VERSION = re.compile(r"(.+)/versions/([0-9]{1,6})\.pdf")


def invoice_href(number: str) -> str:
    return f"/invoices/{quote(number, safe='')}"


def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def login(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    if "clerk" in request.scope:  # behind the office's proxy: signed in already
        return RedirectResponse("/", status_code=303)
    token = request.query_params.get("token")
    if token is None:
        return page(request, "login.html", wrong=False)
    if not secrets.compare_digest(token.encode(), desk.token.encode()):
        return page(request, "login.html", code=403, wrong=True)
    request.session.clear()
    request.session.update(signed_in=True,
                           name=clerk_name(request.query_params.get("name", "")))
    return RedirectResponse("/", status_code=303)


def invoices(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    q = request.query_params.get("q", "").strip()[:200]
    status = request.query_params.get("status")
    status = status if status in ("unsent", "failed", "withdrawn") else None
    after = request.query_params.get("after")

    def link(**params: str | None) -> str:
        given = {key: value for key, value in params.items() if value}
        return f"/?{urlencode(given)}" if given else "/"

    context: dict[str, Any] = {
        "here": "invoices", "q": q, "status": status, "after": after, "filters": FILTERS,
        "filter_links": {value: link(q=q, status=value) for value, _ in FILTERS},
        "first_link": link(q=q, status=status), "next_link": None, "rows": [],
        "counts": dict.fromkeys(value for value, _ in FILTERS), "no_ledger": False}
    with desk.ledger() as ledger:
        if ledger is None:
            return page(request, "invoices.html", **{**context, "no_ledger": True})
        index = Index(ledger.db)
        found = index.page(q, status, after)
        context["counts"] = {value: index.count(value) for value, _ in FILTERS}
        issued = ledger.rows([row.service_ticket for row in found.rows])
        for row in found.rows:
            words, css = delivery_words(row.last_status, row.last_recipient, row.last_reason)
            context["rows"].append({
                **asdict(row), "href": invoice_href(row.invoice_number),
                "total": _money(desk, row.total, row.currency),
                "versions": _version_count(desk, issued.get(row.service_ticket)),
                "delivery": words, "delivery_class": css})
    if found.next:
        context["next_link"] = link(q=q, status=status, after=found.next)
    return page(request, "invoices.html", **context)


def invoice(request: Request) -> Response:
    """``/invoices/<number>``, its PDF (``.pdf``), an earlier version
    (``/versions/<n>.pdf``) or its QR code (``/qr.png``): an invoice number may hold any
    of those endings or a slash, so the ledger says which it is."""
    desk: Desk = request.app.state.desk
    rest = request.path_params["rest"]
    with desk.ledger() as ledger:
        if ledger is None:
            return _missing(request)
        found = ledger.by_number(rest)
        if found is not None:
            return _invoice_page(request, desk, ledger, found)
        if (match := _VERSION.fullmatch(rest)) and (found := ledger.by_number(match[1])):
            return _version_pdf(request, desk, found, int(match[2]))
        if rest.endswith(".pdf") and (found := ledger.by_number(rest[:-4])):
            return _current_pdf(request, desk, found)
        if rest.endswith("/qr.png") and (found := ledger.by_number(rest[:-7])):
            return _qr(found.share_url)
    return _missing(request)


def _invoice_page(request: Request, desk: Desk, ledger: store.Ledger,
                  found: Rendered) -> Response:
    base = invoice_href(found.invoice_number)
    kept = store.versions(desk.folder, found)
    versions = [{"label": f"{version.number}", "href": f"{base}/versions/{version.number}.pdf",
                 "written_at": version.written_at, "sha256": version.sha256}
                for version in kept]
    versions.append({"label": f"{len(kept) + 1} (current)", "href": f"{base}.pdf",
                     "written_at": found.rendered_at, "sha256": found.sha256})
    attempts = []
    for attempt in send.attempts(ledger, found.service_ticket):
        words, css = delivery_words(attempt.status, attempt.recipient, attempt.reason)
        if attempt.copy:  # to accounts payable, say: no delivery to the customer
            words = f"copy: {words}"
        attempts.append({**asdict(attempt), "words": words, "css": css})
    export: Export | None = None
    note = "No export among the desk's configured inputs holds this ticket: upload one."
    if not desk.settings.inputs:
        note = "The desk has no configured exports (--input): upload the corrected one."
    else:
        export = desk.exports.holding(found.service_ticket)
    facts = send.billing_facts(ledger, found.service_ticket, found.sha256) or {}
    bill_to = facts.get("bill_to") or {}
    return page(request, "invoice.html", here="invoices", inv=found, base_href=base,
                pdf_href=f"{base}.pdf", qr_href=f"{base}/qr.png", versions=versions,
                attempts=attempts, actions=Trail(ledger.db).of(found.service_ticket),
                total=_money(desk, found.total, found.currency), email=bill_to.get("email", ""),
                bill_to=bill_to.get("name", ""), due=facts.get("due_date", ""),
                location=facts.get("location", ""), po=facts.get("po_number", ""),
                next_mail="withdrawn: nothing is sent" if found.withdrawn else
                NEXT_MAIL[send.next_mail(ledger, found.service_ticket, found.sha256)],
                export=export, export_note=note, nonce=secrets.token_urlsafe(16))


def _current_pdf(request: Request, desk: Desk, found: Rendered) -> Response:
    if found.withdrawn:
        return problem(request, 404, "Withdrawn", f"Invoice {found.invoice_number} was "
                       "withdrawn: its work order is unconfirmed. Its last version is kept "
                       "among the earlier versions.")
    try:
        path = store.OutputFolder(desk.folder).pdf(found)
    except OutputError as error:
        return problem(request, 404, "Not served", str(error))
    return _pdf(request, path, found.invoice_number)


def _version_pdf(request: Request, desk: Desk, found: Rendered, number: int) -> Response:
    kept = store.versions(desk.folder, found)
    if not 1 <= number <= len(kept):
        return _missing(request)
    return _pdf(request, kept[number - 1].path, f"{found.invoice_number}.{number}")


def _pdf(request: Request, path: Path, name: str) -> Response:
    try:
        data = path.read_bytes()
    except OSError:
        return _missing(request)
    tag = f'"{hashlib.sha256(data).hexdigest()}"'
    headers = {"Cache-Control": "no-store", "ETag": tag,
               "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}.pdf"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/pdf", headers=headers)


def _qr(url: str) -> Response:
    image = qrcode.make(url, box_size=4, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return Response(buffer.getvalue(), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


def job(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    found = desk.jobs.get(request.path_params["job_id"])
    if found is None:
        return problem(request, 404, "No such job", "The desk does not know this job: it "
                       "was restarted since, or the link is wrong.")
    busy = found.state in ("waiting", "running")
    return page(request, "job.html", job=found, refresh=2 if busy else None,
                invoice_href=invoice_href(found.invoice_number))


def last_run(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    report = store.last_report(desk.folder, "run")
    context: dict[str, Any] = {"report": report}
    if report is not None:
        rejected = list(report.get("rejected") or [])
        context.update(
            counts=[(label, _count(report.get(key))) for key, label in (
                ("read", "Read"), ("confirmed", "Confirmed"), ("unconfirmed", "Unconfirmed"),
                ("rejected", "Rejected"), ("rendered", "Rendered"), ("unchanged", "Unchanged"),
                ("failed", "Failed"), ("withdrawn", "Withdrawn"), ("warnings", "Warnings"))],
            rejected=rejected[:500], rejected_total=len(rejected),
            failed=list(report.get("failed") or []))
    return page(request, "run.html", here="run", **context)


def check_form(request: Request) -> Response:
    return page(request, "check.html", here="check", checked=None,
                limit=f"{UPLOAD_LIMIT // 2**20} MB")


def _count(value: object) -> int:
    return len(value) if isinstance(value, list) else int(value or 0)  # type: ignore[call-overload]


def _money(desk: Desk, amount: object, currency: str) -> str:
    return format_money(amount, currency, desk.settings.locale)  # type: ignore[arg-type]


def _version_count(desk: Desk, rendered: Rendered | None) -> int:
    if rendered is None:
        return 0
    try:
        return store.version_count(desk.folder, rendered) + 1
    except OutputError:
        return 1


def _missing(request: Request) -> Response:
    return problem(request, 404, "Not found", "No invoice of this folder has that number.")
