"""The desk's pages as HTML: its templates (package data) in the same Jinja sandbox as the
invoice's, escaped, so a customer named ``<script>`` is shown as that text.

What every page shows besides its own content (the company, the clerk, the folder and
who holds its lock) is added here, once; the words for a delivery's status and for what
the next send does are decided here too, the only place they are said.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .. import store
from ..core.sandbox import environment
from ..read import SUFFIXES
from .state import Desk

# What the next `send` does with an invoice's current version (send.next_mail's answer).
NEXT_MAIL = {
    "first": "mails it to the customer: it was never sent",
    "correction": "mails it as a correction: the customer has an earlier version",
    "sent": "mails nothing: the mail server accepted this version already",
}
TEMPLATES = Path(str(resources.files("pipeline.desk") / "templates"))
_ENV = environment([TEMPLATES])


def page(request: Request, name: str, *, code: int = 200, refresh: int | None = None,
         **context: Any) -> Response:
    """``name`` rendered with ``context`` and what every page shows."""
    desk: Desk = request.app.state.desk
    clerk = request.scope.get("clerk")
    context.setdefault("here", "")
    context.setdefault("accept", ",".join(SUFFIXES))  # the exports `run` reads
    text = _ENV.get_template(name).render(
        company=desk.settings.company.name, clerk=clerk.name if clerk else None,
        clerk_name=clerk.given if clerk else "", proxied=bool(clerk and clerk.proxied),
        folder=str(desk.folder), holder=store.lock_holder(desk.folder) if clerk else None,
        refresh=refresh, **context)
    return HTMLResponse(text, status_code=code, headers={"Cache-Control": "no-store"})


def stylesheet(request: Request) -> Response:
    """The desk's CSS in the company's accent colour (checked as one CSS colour token when
    the settings were read)."""
    desk: Desk = request.app.state.desk
    css = _ENV.get_template("desk.css").render(accent=desk.settings.company.accent_color)
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-cache"})


def problem(request: Request, status: int, heading: str, message: str) -> Response:
    """A page that says what went wrong and nothing of how: never a traceback."""
    return page(request, "error.html", code=status, status=status, heading=heading,
                message=message)


def delivery_words(status: str, recipient: str, reason: str) -> tuple[str, str]:
    """What is known of one delivery, in words, and its badge: the server accepted or
    refused the message; we never know that it was delivered."""
    if status == "sent":
        return f"accepted by the mail server{f' for {recipient}' if recipient else ''}", "sent"
    if status == "failed":
        refused = reason[:1].isdigit()
        return (f"refused: {reason}" if refused else f"not sent: {reason}"), "failed"
    if status == "skipped":
        return f"not sent: {reason}", "skipped"
    if status == "sending":
        return "interrupted while sending: the next send tries it again", "waiting"
    return "not sent yet", "unsent"
