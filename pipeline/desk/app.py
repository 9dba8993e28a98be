"""The desk as an ASGI application: routes, the guard around them, the job thread's life."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route

from . import forms, pages, views
from .guard import Clerks, Guard, Proxy
from .state import UPLOAD_LIMIT, Desk

SESSION_HOURS = 12  # a working day: a clerk signs in again the next morning


def application(desk: Desk, *, origin: str, hosts: list[str],
                any_address: int | None = None) -> Starlette:
    """The desk at ``origin`` (``http://HOST:PORT``); ``hosts``, the ``Host`` values a
    request may name (see :class:`Guard` for ``any_address``)."""
    settings = desk.settings
    proxy = Proxy(settings.trusted_proxy, settings.auth_header) \
        if settings.trusted_proxy and settings.auth_header else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        desk.jobs.start()
        try:
            yield
        finally:
            desk.jobs.stop()  # the job that runs finishes; the waiting ones are cancelled

    # The cookie's key follows the token: a desk restarted with XOI_DESK_TOKEN keeps its
    # clerks signed in; one with a new random token signs everyone out.
    secret = hmac.new(desk.token.encode(), b"xoi-desk session", hashlib.sha256).hexdigest()
    app = Starlette(
        routes=[
            Route("/", pages.invoices),
            Route("/healthz", pages.healthz),
            Route("/login", pages.login),
            Route("/desk.css", views.stylesheet),
            Route("/runs/last", pages.last_run),
            Route("/validate", pages.check_form),
            Route("/validate", forms.check, methods=["POST"]),
            Route("/merge", forms.merge, methods=["POST"]),
            Route("/name", forms.name, methods=["POST"]),
            Route("/jobs/{job_id}", pages.job),
            Route("/jobs/{job_id}/cancel", forms.cancel, methods=["POST"]),
            Route("/invoices/{rest:path}", pages.invoice),
            Route("/invoices/{rest:path}", forms.act, methods=["POST"]),
        ],
        middleware=[
            Middleware(Guard, hosts=hosts, origins=[origin], max_body=UPLOAD_LIMIT + 2**20,
                       proxy=proxy, any_address=any_address),
            Middleware(SessionMiddleware, secret_key=secret, session_cookie="xoi_desk",
                       max_age=SESSION_HOURS * 3600, same_site="strict", https_only=False),
            Middleware(Clerks),
        ],
        lifespan=lifespan,
    )
    app.state.desk = desk
    return app
