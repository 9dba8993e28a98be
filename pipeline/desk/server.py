"""``serve``: listen, print the login link, answer until SIGINT or SIGTERM, then exit 0
once the job in progress has finished (the waiting ones are cancelled)."""

from __future__ import annotations

import functools
import ipaddress
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from ..core.config import Settings
from ..core.errors import ConfigError
from .app import application
from .exports import Exports
from .jobs import Jobs
from .state import Desk
from .work import finished, started

TOKEN_LENGTH = 16  # a shorter XOI_DESK_TOKEN could be guessed


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not uvicorn's way (it raises the signal again once stopped, and a second one cuts
        # the shutdown short with a traceback): the contract's exit status is 0 after a
        # clean stop, and the job in progress is never cut while it writes. A second
        # Ctrl-C changes nothing: the stop is already under way.
        self.should_exit = True


def serve(settings: Settings, say: Callable[[str], None]) -> None:
    """Serve the desk over ``settings.out`` until stopped; ``say`` gets the login line."""
    host = settings.host
    check_host(settings)
    if settings.desk_token is not None and len(settings.desk_token) < TOKEN_LENGTH:
        raise ConfigError(f"XOI_DESK_TOKEN: at least {TOKEN_LENGTH} characters, or it can be "
                          "guessed (e.g. `python3 -c 'import secrets; print(secrets."
                          "token_urlsafe(24))'`)")
    token = settings.desk_token or secrets.token_urlsafe(24)
    uploads = Path(tempfile.mkdtemp(prefix="xoi-desk-"))
    try:
        jobs = Jobs(settings.out)
        desk = Desk(settings, token, Exports(settings), jobs, uploads)
        jobs.started = functools.partial(started, desk)
        jobs.finished = functools.partial(finished, desk)
        desk.prepare()  # a damaged ledger is one error line, before the link is printed
        listening = _listen(host, settings.port)
        port = listening.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        origin = f"http://{shown}:{port}"
        hosts = [f"{shown}:{port}"] + ([f"localhost:{port}"] if _loopback(host) else [])
        address = _address(host)
        app = application(desk, origin=origin, hosts=hosts,
                          any_address=port if address and address.is_unspecified else None)
        # h11, not httptools: it refuses a request with two Host headers outright.
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                server_header=False, proxy_headers=False, http="h11")
        say(f"Desk: {origin}/login?token={token}")
        try:
            _Server(config).run(sockets=[listening])
        finally:
            listening.close()
    finally:
        shutil.rmtree(uploads, ignore_errors=True)


def check_host(settings: Settings) -> None:
    """A desk shows customers' data and re-issues invoices: it listens beyond this machine
    only behind a proxy that authenticates the clerks."""
    proxied = bool(settings.auth_header and settings.trusted_proxy)
    if bool(settings.auth_header) != bool(settings.trusted_proxy):
        raise ConfigError("--auth-header and --trusted-proxy go together: the header is "
                          "believed only from that proxy's address")
    if settings.trusted_proxy and _address(settings.trusted_proxy) is None:
        raise ConfigError(f"--trusted-proxy {settings.trusted_proxy!r} is not an IP address")
    if not proxied and not _loopback(settings.host):
        raise ConfigError(f"--host {settings.host} would show invoices to the network: "
                          "serve on 127.0.0.1, or behind the office's reverse proxy with "
                          "--auth-header and --trusted-proxy (README, \"The billing desk\")")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _loopback(host: str) -> bool:
    address = _address(host)
    return host == "localhost" or bool(address and address.is_loopback)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed: a port in use is one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(128)
    except OSError as error:
        listening.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") \
            from None
    return listening
