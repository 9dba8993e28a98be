"""Launch pages: the button that starts a technician's XOi Vision activity.

XOi's guide begins the integration with an HTML form that POSTs, url-encoded, to
``{base_url}/partners/{partner_id}/share`` with ``shareId``, ``serviceTicket``,
``customer``, ``location`` and one ``tags`` field per tag. An invoice's link only works
if the activity was started with the very share ID the invoice carries, so the share ID
comes from :func:`pipeline.link.claims.launches`, which shares its rules with the
batch's :class:`~pipeline.link.claims.Claims`.

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
from urllib.parse import quote

import jinja2

from ..core.config import Settings
from ..core.errors import ConfigError, ShareLinkError
from ..core.file_names import safe_name
from ..core.models import Problem, Warning_, WorkOrder
from ..core.sandbox import environment
from ..core.template_files import BUILT_IN
from ..link import Launch, check_url, launches
from ..store import reading, writing
from ..validate import check, in_file_order

INDEX = "index.html"
PAGE_TEMPLATE = "launch.html"
INDEX_TEMPLATE = "launch_index.html"


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


def form_fields(launch: Launch) -> list[tuple[str, str]]:
    """The form's name/value pairs in the order XOi's guide lists them."""
    order = launch.order
    return [("shareId", launch.share_id), ("serviceTicket", order.service_ticket),
            ("customer", order.customer), ("location", order.location),
            *(("tags", tag) for tag in order.tags)]


def form_action(settings: Settings) -> str:
    """The share endpoint the form posts to; :class:`ConfigError` when it cannot be built."""
    partner_id = settings.require_partner_id()
    base_url = settings.base_url.rstrip("/")
    try:
        check_url(base_url, form=True)
    except ShareLinkError:
        raise ConfigError(f"base_url: {settings.base_url!r} is not an https URL "
                          "(plain http is accepted only for 127.0.0.1 and localhost)") from None
    return f"{base_url}/partners/{quote(partner_id, safe='')}/share"


def page_name(ticket: str) -> str:
    """The ticket's page in the launch folder, never the index's name."""
    name = safe_name(ticket)
    if name.lower() == INDEX.removesuffix(".html"):
        # Same suffix rule as safe_name, so a ticket "index" keeps its page and the index.
        name += "-" + hashlib.sha256(ticket.encode()).hexdigest()[:8]
    return f"{name}.html"


def launch_for(order: WorkOrder, settings: Settings) -> tuple[Launch, list[Warning_]]:
    """The order's launch and its warnings; :class:`ShareLinkError` when it has no share ID
    and none derives, or another than the one its invoice published."""
    with reading(settings.out, lock=False) as out:
        linked = launches([order], settings, out.published(order.service_ticket))
    if linked.problems:
        raise ShareLinkError(linked.problems[0].reason)
    return linked.items[0], linked.warnings


@functools.cache
def _environment() -> jinja2.Environment:
    return environment([BUILT_IN])


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def page_html(launch: Launch, action: str) -> str:
    order = launch.order
    return _render(PAGE_TEMPLATE, action=action, fields=form_fields(launch),
                   ticket=order.service_ticket, customer=order.customer,
                   location=order.location, tags=order.tags, share_id=launch.share_id)


def index_html(launches: Iterable[Launch]) -> str:
    entries = [{"ticket": launch.order.service_ticket, "customer": launch.order.customer,
                "confirmed": launch.order.confirmed, "href": page_name(launch.order.service_ticket)}
               for launch in sorted(launches, key=lambda launch: launch.order.service_ticket)]
    return _render(INDEX_TEMPLATE, entries=entries)


def curl_command(launch: Launch, action: str) -> str:
    """The same POST for a shell; every word quoted, whatever the work order holds.

    Each field is ``name=value``, which curl url-encodes as given: a value starting with
    ``@`` is text, not a file to upload. Line breaks become CRLF, as a browser submitting
    the form sends them, so support staff reproduce exactly what the button posts.
    """
    words = ["curl", "-X", "POST", action]
    for name, value in form_fields(launch):
        sent = value.replace("\n", "\r\n")
        words += ["--data-urlencode", f"{name}={sent}"]
    return shlex.join(words)


def write_page(launch: Launch, settings: Settings) -> Path:
    """Write one launch page into ``settings.out``; the path written."""
    html = page_html(launch, form_action(settings))
    name = page_name(launch.order.service_ticket)
    with writing(settings.out, new_ledger=False) as out:
        return out.write_pages({name: html}) / name


def write_pages(inputs: Iterable[Path], settings: Settings) -> LaunchOutcome:
    """A launch page for every valid work order of ``inputs``, and the index listing them.

    Records are checked for what a launch page carries (a bad amount or date is the
    invoice's problem, not the launch's); a share ID already taken by another ticket is
    rejected: two activities must never share one public link.
    """
    action = form_action(settings)
    inputs = list(inputs)
    checked = check(inputs, settings, for_launch=True)
    # Under the folder's lock: a run starting meanwhile sweeps away temporary files, ours
    # included. Checked against its ledger: a page must name the activity the invoice
    # links to. Confirmed orders claim their share IDs first, so a clash rejects the same
    # ticket here as in the batch, which sees confirmed orders only.
    with writing(settings.out, new_ledger=False) as out:
        orders = [*checked.confirmed, *checked.unconfirmed]
        linked = launches(orders, settings, out.published_of(
            {order.service_ticket for order in orders}), checked.formats, issued=out)
        pages = {page_name(launch.order.service_ticket): page_html(launch, action)
                 for launch in linked.items}
        pages[INDEX] = index_html(linked.items)
        where = out.write_pages(pages)
    return LaunchOutcome(where, linked.items,
                         in_file_order([*checked.problems, *linked.problems], inputs),
                         linked.warnings)
