"""What every request passes before a page sees it, and what every response carries.

:class:`Guard` (outermost): the Host header must be the served host (400), a POST must
come from the desk's own pages (``Sec-Fetch-Site: same-origin``, else an ``Origin`` equal
to the served origin; 403), a body is capped (413), and behind an office's proxy only
the proxy may ask, for the user its header names. Every response gets the security
headers, a Content-Security-Policy with no inline script and nothing from another
origin among them; an error of ours becomes a page that says so, never a traceback.
:class:`Clerks` (inside the session middleware): a request without a session is sent to
the login page (a page) or refused (401, anything else).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.errors import XoiError
from . import views
from .state import Clerk, clerk_name

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; "
       "form-action 'self'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
PUBLIC = ("/healthz", "/login", "/desk.css")
_log = logging.getLogger("pipeline.desk")


class TooLarge(Exception):
    """A request body over the cap, found while reading it."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """The office's reverse proxy: its address, and the header that names its user."""

    address: str
    header: str


class Guard:
    def __init__(self, app: ASGIApp, *, hosts: Iterable[str], origins: Iterable[str],
                 max_body: int, proxy: Proxy | None, any_address: int | None = None) -> None:
        """``hosts``: the ``Host`` values a request may name; ``any_address``: the port of
        a desk listening on every address (behind a proxy), which also answers any IP
        address with that port: DNS rebinding needs a name, never a bare address."""
        self.app = app
        self.hosts = frozenset(hosts)
        self.any_address = any_address
        self.origins = frozenset(origins)
        self.max_body = max_body
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        refusal = self._refusal(scope, Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        try:
            await self.app(scope, self._capped(receive), send_secured)
        except TooLarge:
            if not started:
                await _plain(413, "the upload is too large")(scope, receive, send_secured)
        except ClientDisconnect:  # the browser went away mid-upload: nobody to answer
            return
        except XoiError as error:  # the folder itself (a damaged ledger): say what it is
            _log.warning("%s %s: %s", scope["method"], scope["path"], error)
            if not started:
                page = views.problem(Request(scope), 503, "The folder cannot be read",
                                     str(error))
                await page(scope, receive, send_secured)
        except Exception:
            _log.exception("%s %s failed", scope["method"], scope["path"])
            if not started:
                page = views.problem(Request(scope), 500, "Something went wrong",
                                     "The desk could not answer this request; its log says "
                                     "why. Nothing was changed by it.")
                await page(scope, receive, send_secured)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        named = headers.getlist("host")
        if len(named) != 1 or not self._served(named[0]):
            return _plain(400, "this desk does not serve that host name")
        if self.proxy is not None:
            client = scope.get("client")
            if not client or client[0] != self.proxy.address:
                return _plain(403, "this desk answers only through the office's proxy")
            user = clerk_name(headers.get(self.proxy.header, ""))
            if not user:
                return _plain(401, f"the proxy did not name the user ({self.proxy.header})")
            scope["clerk"] = Clerk(user, proxied=True)
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return _plain(405, "not a method this desk answers")
        if scope["method"] == "POST" and not self._same_origin(headers):
            return _plain(403, "refused: this form was not sent from the desk's own pages")
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_body:
            return _plain(413, "the upload is too large")
        return None

    def _served(self, host: str) -> bool:
        if host in self.hosts:
            return True
        if self.any_address is None:
            return False
        address, _, port = host.rpartition(":")
        try:
            ipaddress.ip_address(address.removeprefix("[").removesuffix("]"))
        except ValueError:
            return False
        return port == str(self.any_address)

    def _same_origin(self, headers: Headers) -> bool:
        site = headers.get("sec-fetch-site")
        if site is not None:
            return site == "same-origin"
        return headers.get("origin") in self.origins

    def _capped(self, receive: Receive) -> Receive:
        """``receive`` that stops a body (chunked, without a length) past the cap."""
        read = 0

        async def capped() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.max_body:
                raise TooLarge
            return message

        return capped


class Clerks:
    """Who asks, from the session cookie the login set; none: the login page or 401."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "clerk" in scope or scope["path"] in PUBLIC:
            await self.app(scope, receive, send)
            return
        session = scope.get("session") or {}
        if session.get("signed_in"):
            scope["clerk"] = Clerk(str(session.get("name", "")))
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        page = scope["method"] == "GET" and (headers.get("sec-fetch-dest") == "document"
                                             or "text/html" in headers.get("accept", ""))
        answer = RedirectResponse("/login", status_code=303) if page else \
            _plain(401, "sign in first: open the link `xoi-invoices serve` printed")
        await answer(scope, receive, send)


def _plain(status: int, text: str) -> Response:
    return PlainTextResponse(f"{text}\n", status_code=status,
                             headers={"Cache-Control": "no-store"})
