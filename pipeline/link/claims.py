"""Which link each ticket gets: the one place that decides it, for invoices and launch pages.

A pure stage: work orders and what the output folder published (ticket → its
:class:`Rendered`, looked up in the ledger by the caller: all at once, or a few hundred
tickets at a time as a run streams its orders) in; links, problems and warnings out.
The rules, each here only:

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

import contextlib
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from ..core.compact import Texts, digest
from ..core.config import Settings
from ..core.errors import ConfigError, RecordError, ShareLinkError
from ..core.file_names import file_key
from ..core.formats import OURS, Formats
from ..core.models import Invoice, Problem, Rendered, Warning_, WorkOrder
from .share import ShareUrlBuilder, share_id_for, share_id_warning

Published = Mapping[str, Rendered]


class Issued(Protocol):
    """Who holds a share ID or an invoice file key in a folder (:class:`OutputFolder`)."""

    def owners(self, share_ids: Collection[str], file_keys: Collection[str]
               ) -> tuple[Mapping[str, str], Mapping[str, tuple[str, str]]]: ...


@dataclass(frozen=True, slots=True)
class Launch:
    """One work order and the share ID its activity is started with."""

    order: WorkOrder
    share_id: str


@dataclass(frozen=True, slots=True)
class Launches:
    """What :func:`launches` gives: one launch per order that got its share ID, and why not."""

    items: list[Launch]
    problems: list[Problem]
    warnings: list[Warning_]


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


class Claims:
    """The invoices' links, one order at a time as a command streams them: :meth:`look_up`
    before each chunk of orders, then :meth:`invoice` gives each order's invoice or the
    :class:`Problem` that rejects it; ``warnings`` collects the rest.

    What it keeps per ticket is only what the rules compare later orders against (see
    :class:`_Owners`).
    """

    def __init__(self, settings: Settings, today: date, *, issued: Issued | None = None,
                 formats: Formats = OURS) -> None:
        """``today`` dates new invoices. ``issued`` is the folder's owners of share IDs and
        invoice numbers (none: the folder issued nothing), asked by :meth:`look_up` so
        that no order takes what another ticket was issued. ``formats`` names fields in
        problems as the export does (a mapping's columns)."""
        self.settings = settings
        self.today = today
        self.warnings: list[Warning_] = []
        self.formats = formats
        self._published: Published = {}
        self._terms = timedelta(days=settings.company.payment_terms_days)
        self._issued = issued
        self._owners = _Owners(settings, ())
        # Built before any order: a bad template is one configuration error, not a
        # rejection per order.
        self._urls = ShareUrlBuilder.from_settings(settings)

    def look_up(self, orders: Iterable[WorkOrder], published: Published) -> None:
        """The orders claimed next, with ``published``, the folder's rows of their
        tickets: ask ``issued`` which tickets hold what they are about to claim, one
        question for a chunk, so that a folder's whole history need not be in memory."""
        self._published = published
        if self._issued is not None:
            self._owners.ask(self._issued, orders, published)

    def invoice(self, order: WorkOrder) -> Invoice | Problem:
        """A confirmed order's invoice: share ID, share URL, invoice date and due date."""
        earlier = self._published.get(order.service_ticket)
        try:
            # A URL too long for its QR code rejects the order after its claim, as ever.
            share_id = self._owners.claim(order.service_ticket, order.share_id, earlier,
                                          order.invoice_number)
            url = earlier.share_url if earlier else self._urls.url(share_id)
        except RecordError as error:
            return _problem(order, error, self.formats)
        self.warnings += _warnings(order, share_id)
        day = order.invoice_date or (date.fromisoformat(earlier.invoice_date)
                                     if earlier and earlier.invoice_date else self.today)
        due = order.due_date or day + self._terms
        return Invoice(order, share_id, url, day, max(due, day))


def launches(orders: Iterable[WorkOrder], settings: Settings, published: Published,
             formats: Formats = OURS, *, issued: Issued | None = None) -> Launches:
    """Each order's launch, all at once, against ``published``: what the folder issued,
    by ticket. ``issued`` is asked once which other tickets hold the share IDs these
    orders claim, as a run asks it: never the whole ledger, which may hold a million
    invoices. The orders that claim first win a contested share ID, so a caller passes
    confirmed orders first, as the batch sees them. Launch pages carry no share URL, so
    need no URL template."""
    orders = list(orders)
    owners = _Owners(settings, ((ticket, item.invoice_number, item.share_id)
                                for ticket, item in published.items()))
    if issued is not None:
        owners.ask(issued, orders, published)
    items: list[Launch] = []
    problems: list[Problem] = []
    warnings: list[Warning_] = []
    for order in orders:
        try:
            share_id = owners.claim(order.service_ticket, order.share_id,
                                    published.get(order.service_ticket))
        except RecordError as error:
            problems.append(_problem(order, error, formats))
            continue
        warnings += _warnings(order, share_id)
        items.append(Launch(order, share_id))
    return Launches(items, problems, warnings)


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


def _problem(order: WorkOrder, error: RecordError, formats: Formats) -> Problem:
    return Problem(order.source, order.line, order.service_ticket,
                   f"{formats.label(error.field or '')}: {error.message}")


def _warnings(order: WorkOrder, share_id: str) -> list[Warning_]:
    warning = share_id_warning(share_id)
    return [Warning_(order.source, order.line, order.service_ticket, warning)] if warning \
        else []


class _Owners:
    """Share IDs and invoice numbers unique across tickets and immutable per ticket.

    Each share ID and invoice file name claimed is kept as its digest, pointing to the
    number of the claim that owns it; a claim's ticket and invoice number are kept as
    text, for the comparison and the message when another ticket wants the same (see
    :mod:`pipeline.core.compact`). What the folder issued before comes either the same way, seeded
    (:func:`launches`), or a chunk at a time in ``issued_shares`` and ``issued_files``
    (:meth:`ask`); a claim made in this run is checked against both.
    """

    def __init__(self, settings: Settings, issued: Iterable[tuple[str, str, str]]) -> None:
        """``issued``: (ticket, invoice number, share ID) of every invoice to seed."""
        self.settings = settings
        self.tickets = Texts()
        self.numbers = Texts()
        self.share_owner: dict[int, int] = {}
        self.file_owner: dict[int, int] = {}  # keyed by the file key (see core.file_names.file_key)
        for ticket, number, share_id in issued:
            owner = self._owner(ticket, number)
            self.share_owner[digest(share_id)] = owner
            self.file_owner[digest(file_key(number))] = owner
        self.issued_shares: Mapping[str, str] = {}
        self.issued_files: Mapping[str, tuple[str, str]] = {}
        self.share_ids: dict[str, str] = {}  # the chunk's, by ticket (Claims.look_up)

    def ask(self, issued: Issued, orders: Iterable[WorkOrder], published: Published) -> None:
        """Which tickets the folder issued what ``orders`` are about to claim: one question
        to ``issued`` for all of them."""
        shares, files = {}, set()
        for order in orders:
            earlier = published.get(order.service_ticket)
            with contextlib.suppress(RecordError):  # the claim rejects the order for it
                shares[order.service_ticket] = share_id_for(
                    self.settings, order.service_ticket,
                    order.share_id or (earlier.share_id if earlier else None))
            if order.invoice_number is not None:
                files.add(file_key(order.invoice_number))
        self.issued_shares, self.issued_files = issued.owners(shares.values(), files)
        self.share_ids = shares  # derived once (an HMAC): the claims take them from here

    def claim(self, ticket: str, given: str | None, earlier: Rendered | None,
              invoice_number: str | None = None) -> str:
        """The ticket's share ID; :class:`ShareLinkError` when it cannot have it.

        ``earlier`` is the ticket's published invoice: it keeps its share ID when the
        input gives none, even if the secret that derived it has changed since.
        """
        share_id = self.share_ids.pop(ticket, None) or share_id_for(
            self.settings, ticket, given or (earlier.share_id if earlier else None))
        if earlier is not None and earlier.share_id != share_id:
            raise _changed(share_id, earlier.share_id)
        share_key = digest(share_id)
        owner = self.share_owner.get(share_key)
        holder = self.tickets[owner] if owner is not None else \
            self.issued_shares.get(share_id)
        if holder is not None and holder != ticket:
            raise ShareLinkError(f"{share_id!r} is already the share ID of ticket {holder}",
                                 field="share_id")
        number_key = None
        if invoice_number is not None:
            number_key = self._check_number(ticket, invoice_number, earlier)
        claim = self._owner(ticket, invoice_number or "")
        if number_key is not None:
            self.file_owner[number_key] = claim
        self.share_owner[share_key] = claim
        return share_id

    def _check_number(self, ticket: str, number: str, earlier: Rendered | None) -> int:
        """The key of the number's file once the ticket may have it."""
        if earlier is not None and earlier.invoice_number != number:
            # Accounting keeps an issued number; a correction is a credit note.
            raise ShareLinkError(
                f"{number!r} differs from {earlier.invoice_number!r}, the invoice number "
                "already issued for this ticket (invoice numbers are immutable)",
                field="invoice_number")
        text = file_key(number)
        key = digest(text)
        owner = self.file_owner.get(key)
        holder, taken = (self.tickets[owner], self.numbers[owner]) if owner is not None \
            else self.issued_files.get(text, (ticket, number))
        if holder != ticket:
            raise ShareLinkError(
                f"{number!r} is already the invoice number of ticket {holder}"
                if taken == number else f"{number!r} and {taken!r}, the invoice number of "
                f"ticket {holder}, differ only in letter case: one PDF file on "
                "many file systems" if taken.lower() == number.lower() else
                f"{number!r} prints like {taken!r}, the invoice number of ticket {holder}",
                field="invoice_number")
        return key

    def _owner(self, ticket: str, number: str) -> int:
        self.numbers.add(number)
        return self.tickets.add(ticket)


def _changed(share_id: str, earlier: str) -> ShareLinkError:
    return ShareLinkError(f"{share_id!r} differs from {earlier!r}, the share ID already "
                          "published for this ticket (share IDs are immutable)",
                          field="share_id")

