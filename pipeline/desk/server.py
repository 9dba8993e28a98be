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
from .work import finished


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not uvicorn's way (it raises the signal again once stopped): the contract's exit
        # status is 0 after a clean stop. A second Ctrl-C stops at once.
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def serve(settings: Settings, say: Callable[[str], None]) -> None:
    """Serve the desk over ``settings.out`` until stopped; ``say`` gets the login line."""
    host = settings.host
    check_host(settings)
    token = settings.desk_token or secrets.token_urlsafe(24)
    listening = _listen(host, settings.port)
    port = listening.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    origin = f"http://{shown}:{port}"
    uploads = Path(tempfile.mkdtemp(prefix="xoi-desk-"))
    try:
        jobs = Jobs(settings.out)
        desk = Desk(settings, token, Exports(settings), jobs, uploads)
        jobs.finished = functools.partial(finished, desk)
        app = application(desk, origin=origin, host=f"{shown}:{port}")
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                server_header=False, proxy_headers=False)
        say(f"Desk: {origin}/login?token={token}")
        _Server(config).run(sockets=[listening])
    finally:
        listening.close()
        shutil.rmtree(uploads, ignore_errors=True)


def check_host(settings: Settings) -> None:
    """A desk shows customers' data and re-issues invoices: it listens beyond this machine
    only behind a proxy that authenticates the clerks."""
    proxied = bool(settings.auth_header and settings.trusted_proxy)
    if bool(settings.auth_header) != bool(settings.trusted_proxy):
        raise ConfigError("--auth-header and --trusted-proxy go together: the header is "
                          "believed only from that proxy's address")
    if settings.trusted_proxy:
        try:
            ipaddress.ip_address(settings.trusted_proxy)
        except ValueError:
            raise ConfigError(f"--trusted-proxy {settings.trusted_proxy!r} is not an IP "
                              "address") from None
    if not proxied and not _loopback(settings.host):
        raise ConfigError(f"--host {settings.host} would show invoices to the network: "
                          "serve on 127.0.0.1, or behind the office's reverse proxy with "
                          "--auth-header and --trusted-proxy (README, \"The billing desk\")")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
