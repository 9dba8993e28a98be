"""Which link each ticket gets: the one place that decides it, for invoices and launch pages.

A pure stage: work orders and a snapshot of what the output folder published (ticket →
its :class:`Rendered`, read once from the ledger by the caller) in; links, problems and
warnings out. The rules, each here only:

- the input's share ID wins, then the one published for the ticket before, then the one
  derived from the secret (:func:`share.share_id_for`); a published share ID never changes;
- a share ID belongs to one ticket, an invoice number too (compared as the PDF's file
  name, without letter case), and an issued invoice number never changes;
- a published share URL never changes either, not even when the base URL or the URL
  template does: it is printed on paper. Only tickets not yet invoiced get the new form;
- an issued invoice keeps its date; a new one is dated today (``SOURCE_DATE_EPOCH`` pins
  it), due after the payment terms, never before its date.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Generic, TypeVar

from .config import Settings
from .errors import ConfigError, RecordError, ShareLinkError
from .models import Invoice, Problem, Rendered, Warning_, WorkOrder
from .share import ShareUrlBuilder, share_id_for, share_id_warning
from .write import safe_name

T = TypeVar("T")
Published = Mapping[str, Rendered]


@dataclass
class Linked(Generic[T]):
    """What a linking stage gives: one item per order that got its link, and why not."""

    items: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Launch:
    """One work order and the share ID its activity is started with."""

    order: WorkOrder
    share_id: str


def issue_date() -> date:
    """The date of new invoices, read once per run: ``SOURCE_DATE_EPOCH`` pins it."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC).date()
        except (OverflowError, OSError, ValueError):
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch[:20]} is not a time in years "
                              "1970 to 9999") from None
    return date.today()


def invoices(orders: Iterable[WorkOrder], settings: Settings, published: Published,
             today: date) -> Linked[Invoice]:
    """Each confirmed order's invoice: share ID, share URL, invoice date and due date."""
    claims = _Claims(settings, published)
    urls = ShareUrlBuilder.from_settings(settings)
    terms = timedelta(days=settings.company.payment_terms_days)

    def invoice(order: WorkOrder) -> tuple[Invoice, str]:
        share_id = claims.claim(order.service_ticket, order.share_id, order.invoice_number)
        earlier = published.get(order.service_ticket)
        url = earlier.share_url if earlier else urls.url(share_id)
        day = order.invoice_date or (date.fromisoformat(earlier.invoice_date)
                                     if earlier and earlier.invoice_date else today)
        due = order.due_date or day + terms
        return Invoice(order, share_id, url, day, max(due, day)), share_id

    return _link(orders, invoice)


def launches(orders: Iterable[WorkOrder], settings: Settings,
             published: Published) -> Linked[Launch]:
    """Each order's launch; the orders that claim first win a contested share ID, so a
    caller passes confirmed orders first, as the batch sees them."""
    claims = _Claims(settings, published)

    def launch(order: WorkOrder) -> tuple[Launch, str]:
        share_id = claims.claim(order.service_ticket, order.share_id)
        return Launch(order, share_id), share_id

    return _link(orders, launch)


def published_link(settings: Settings, ticket: str, given: str | None,
                   published: Rendered | None) -> tuple[str, str]:
    """The share ID and URL of ``ticket`` as its invoice carries them: the recorded ones
    when it was invoiced (``published``), else those a run would give it."""
    if published is not None:
        if given and given != published.share_id:
            raise _changed(given, published.share_id)
        return published.share_id, published.share_url
    if not given and not settings.share_secret:
        raise ConfigError("no --share-id and no share secret to derive one: set "
                          "XOI_SHARE_SECRET or give --share-id")
    share_id = share_id_for(settings, ticket, given)
    return share_id, ShareUrlBuilder.from_settings(settings).url(share_id)


def _link(orders: Iterable[WorkOrder],
          link: Callable[[WorkOrder], tuple[T, str]]) -> Linked[T]:
    """Link each order (``link`` gives its item and share ID), collecting why not."""
    linked: Linked[T] = Linked()
    for order in orders:
        try:
            item, share_id = link(order)
        except RecordError as error:
            linked.problems.append(Problem(order.source, order.line, order.service_ticket,
                                           f"{error.field}: {error.message}"))
            continue
        warning = share_id_warning(share_id)
        if warning:
            linked.warnings.append(Warning_(order.source, order.line, order.service_ticket,
                                            warning))
        linked.items.append(item)
    return linked


class _Claims:
    """Share IDs and invoice numbers unique across tickets and immutable per ticket."""

    def __init__(self, settings: Settings, published: Published) -> None:
        self.settings = settings
        self.published = published
        self.ticket_of_share = {item.share_id: ticket for ticket, item in published.items()}
        # Keyed by the PDF's file name, compared without letter case: "INV-a" and "INV-A"
        # are one file on the file systems billing folders are often shared from.
        self.owner_of_file = {_file_key(item.invoice_number): (ticket, item.invoice_number)
                              for ticket, item in published.items()}

    def claim(self, ticket: str, given: str | None, invoice_number: str | None = None) -> str:
        """The ticket's share ID; :class:`ShareLinkError` when it cannot have it.

        A ticket published before keeps its share ID when the input gives none, even if
        the secret that derived it has changed since.
        """
        earlier = self.published.get(ticket)
        share_id = share_id_for(self.settings, ticket,
                                given or (earlier.share_id if earlier else None))
        if earlier is not None and earlier.share_id != share_id:
            raise _changed(share_id, earlier.share_id)
        owner = self.ticket_of_share.get(share_id)
        if owner is not None and owner != ticket:
            raise ShareLinkError(f"{share_id!r} is already the share ID of ticket {owner}",
                                 field="share_id")
        if invoice_number is not None:
            self._claim_number(ticket, invoice_number, earlier)
        self.ticket_of_share[share_id] = ticket
        return share_id

    def _claim_number(self, ticket: str, number: str, earlier: Rendered | None) -> None:
        if earlier is not None and earlier.invoice_number != number:
            # Accounting keeps an issued number; a correction is a credit note.
            raise ShareLinkError(
                f"{number!r} differs from {earlier.invoice_number!r}, the invoice number "
                "already issued for this ticket (invoice numbers are immutable)",
                field="invoice_number")
        key = _file_key(number)
        owner, taken = self.owner_of_file.get(key, (ticket, ""))
        if owner != ticket:
            raise ShareLinkError(
                f"{number!r} is already the invoice number of ticket {owner}"
                if taken == number else f"{number!r} and {taken!r}, the invoice number of "
                f"ticket {owner}, differ only in letter case: one PDF file on many file "
                "systems", field="invoice_number")
        self.owner_of_file[key] = (ticket, number)


def _changed(share_id: str, earlier: str) -> ShareLinkError:
    return ShareLinkError(f"{share_id!r} differs from {earlier!r}, the share ID already "
                          "published for this ticket (share IDs are immutable)",
                          field="share_id")


def _file_key(invoice_number: str) -> str:
    return safe_name(invoice_number).lower()
