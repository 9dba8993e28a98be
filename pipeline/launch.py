"""Launch pages: the button that starts a technician's XOi Vision activity.

XOi's guide begins the integration with an HTML form that POSTs, url-encoded, to
``{base_url}/partners/{partner_id}/share`` with ``shareId``, ``serviceTicket``,
``customer``, ``location`` and one ``tags`` field per tag. An invoice's link only works
if the activity was started with the very share ID the invoice carries, so the share ID
comes from :func:`share.share_id_for`, exactly as in the batch.

Every work order gets a page, confirmed or not: launching comes before the technician
confirms anything.
"""

from __future__ import annotations

import functools
import hashlib
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2

from .config import Settings
from .errors import ConfigError, RecordError
from .inputs import check
from .ledger import published_share_ids
from .lock import folder_lock
from .models import Problem, RawRecord, Warning_, WorkOrder
from .share import LinkRegistry, share_id_warning
from .template_files import BUILT_IN
from .validate import validate
from .write import atomic_write, make_folder, safe_name

FOLDER = "launch"
INDEX = "index.html"
PAGE_TEMPLATE = "launch.html"
INDEX_TEMPLATE = "launch_index.html"
# Plain http only where it cannot leave the machine: tests and local mock endpoints.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


@dataclass(frozen=True, slots=True)
class Launch:
    """One work order and the share ID its activity is started with."""

    order: WorkOrder
    share_id: str

    @property
    def fields(self) -> list[tuple[str, str]]:
        """The form's name/value pairs in the order XOi's guide lists them."""
        order = self.order
        return [("shareId", self.share_id), ("serviceTicket", order.service_ticket),
                ("customer", order.customer), ("location", order.location),
                *(("tags", tag) for tag in order.tags)]

    @property
    def file_name(self) -> str:
        return page_name(self.order.service_ticket)


@dataclass
class LaunchOutcome:
    """What :func:`write_pages` did."""

    folder: Path
    pages: list[Launch] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def form_action(settings: Settings) -> str:
    """The share endpoint the form posts to; :class:`ConfigError` when it cannot be built."""
    partner_id = settings.require_partner_id()
    base_url = settings.base_url.rstrip("/")
    if not _acceptable_base_url(base_url):
        raise ConfigError(f"base_url: {settings.base_url!r} is not an https URL "
                          "(plain http is accepted only for 127.0.0.1 and localhost)")
    return f"{base_url}/partners/{quote(partner_id, safe='')}/share"


def _acceptable_base_url(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number
    except ValueError:
        return False
    secure = parts.scheme == "https" and bool(parts.hostname)
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    return (secure or local) and not parts.query and not parts.fragment \
        and url.isascii() and url.isprintable() and " " not in url


def page_name(ticket: str) -> str:
    """The ticket's page in the launch folder, never the index's name."""
    name = safe_name(ticket)
    if name.lower() == INDEX.removesuffix(".html"):
        # Same suffix rule as safe_name, so a ticket "index" keeps its page and the index.
        name += "-" + hashlib.sha256(ticket.encode()).hexdigest()[:8]
    return f"{name}.html"


def launch_for(order: WorkOrder, settings: Settings) -> Launch:
    """The order's launch; :class:`ShareLinkError` when it has no share ID and none derives,
    or another than the one its invoice published."""
    registry = LinkRegistry(settings, recorded_share_ids=published_share_ids(settings.out))
    return Launch(order, registry.claim(order.service_ticket, order.share_id))


def single_order(settings: Settings, ticket: str, customer: str, location: str,
                 tags: Iterable[str] = (), share_id: str | None = None) -> WorkOrder:
    """A work order typed on the command line, checked and normalized like an input row.

    Going through :func:`validate` gives the ticket the same spelling (NFC, trimmed) as in
    an export, so a derived share ID matches the one the batch derives for it.
    """
    fields = {"service_ticket": ticket, "customer": customer, "location": location,
              "confirmed": "", "share_id": share_id or "", "tags": list(tags)}
    result = validate(RawRecord("command line", 1, ((1, fields),)), settings.currency,
                      for_launch=True)
    if isinstance(result, Problem):
        raise ConfigError(result.reason)
    return result


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(BUILT_IN)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def page_html(launch: Launch, action: str) -> str:
    order = launch.order
    return _render(PAGE_TEMPLATE, action=action, fields=launch.fields,
                   ticket=order.service_ticket, customer=order.customer,
                   location=order.location, tags=order.tags, share_id=launch.share_id)


def index_html(launches: Iterable[Launch]) -> str:
    entries = [{"ticket": launch.order.service_ticket, "customer": launch.order.customer,
                "confirmed": launch.order.confirmed, "href": launch.file_name}
               for launch in sorted(launches, key=lambda launch: launch.order.service_ticket)]
    return _render(INDEX_TEMPLATE, entries=entries)


def curl_command(launch: Launch, action: str) -> str:
    """The same POST for a shell; every word quoted, whatever the work order holds.

    Each field is ``name=value``, which curl url-encodes as given: a value starting with
    ``@`` is text, not a file to upload. Line breaks become CRLF, as a browser submitting
    the form sends them, so support staff reproduce exactly what the button posts.
    """
    words = ["curl", "-X", "POST", action]
    for name, value in launch.fields:
        sent = value.replace("\n", "\r\n")
        words += ["--data-urlencode", f"{name}={sent}"]
    return shlex.join(words)


def write_page(launch: Launch, settings: Settings) -> Path:
    """Write one launch page into ``settings.out``; the path written."""
    action = form_action(settings)
    path = settings.out / FOLDER / launch.file_name
    _write(settings.out, {path: page_html(launch, action)})
    return path


def write_pages(inputs: Iterable[Path], settings: Settings) -> LaunchOutcome:
    """A launch page for every valid work order of ``inputs``, and the index listing them.

    Records are checked for what a launch page carries (a bad amount or date is the
    invoice's problem, not the launch's); a share ID already taken by another ticket is
    rejected: two activities must never share one public link.
    """
    action = form_action(settings)
    checked = check(inputs, settings, for_launch=True)
    outcome = LaunchOutcome(settings.out / FOLDER, rejected=list(checked.problems))
    # Seeded from the folder's ledger: a page must name the activity the invoice links to.
    registry = LinkRegistry(settings, recorded_share_ids=published_share_ids(settings.out))
    # Confirmed orders claim their share IDs first, so a clash rejects the same ticket
    # here as in the batch, which sees confirmed orders only.
    for order in [*checked.confirmed, *checked.unconfirmed]:
        ticket = order.service_ticket
        try:
            launch = Launch(order, registry.claim(ticket, order.share_id))
        except RecordError as error:
            outcome.rejected.append(Problem(order.source, order.line, ticket,
                                            f"{error.field}: {error.message}"))
            continue
        warning = share_id_warning(launch.share_id)
        if warning:
            outcome.warnings.append(Warning_(order.source, order.line, ticket, warning))
        outcome.pages.append(launch)
    files = {outcome.folder / launch.file_name: page_html(launch, action)
             for launch in outcome.pages}
    files[outcome.folder / INDEX] = index_html(outcome.pages)
    _write(settings.out, files)
    return outcome


def _write(out: Path, files: dict[Path, str]) -> None:
    # Under the folder's lock: a run starting meanwhile sweeps away temporary files,
    # ours included, and would break a write half done.
    make_folder(out)
    with folder_lock(out):
        for path, html in files.items():
            atomic_write(path, html.encode())
