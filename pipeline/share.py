"""Share IDs and share URLs: the one place that decides what link a customer gets.

XOi's guide asks for a share ID per activity that is unique, immutable for the same
activity and not sequential, because it becomes part of a public URL. The input's
``share_id`` wins; otherwise the ID is an HMAC-SHA256 of the partner id and the service
ticket under the operator's secret: stable for the ticket, 128 bits, URL-safe, and
unguessable without the secret. The launch page and the invoice both call
:func:`share_id_for`, so they always agree.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .config import Settings
from .errors import ConfigError, ShareLinkError
from .ledger import existing
from .write import safe_name

PLACEHOLDERS = frozenset({"base_url", "partner_id", "share_id"})
_NOT_IN_URLS = frozenset(' "<>\\^`{|}')
SHORT_SHARE_ID = 16  # below this many characters a public ID is easy to enumerate
# A QR code of this many characters is 113 modules wide: 90 mm at the module size a 150 dpi
# print still scans (layout.QR_MODULE_MM); longer would crowd the invoice's XOi section.
MAX_SHARE_URL = 1000


def derive_share_id(secret: str, partner_id: str, service_ticket: str) -> str:
    """The share ID of a ticket that came without one: 32 hex digits (128 bits).

    Hex, not base64: a derived ID never starts with ``-`` (a spreadsheet formula) and
    reads aloud over the phone without case confusion.
    """
    message = f"xoi-share-id\x1f{partner_id}\x1f{service_ticket}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def share_id_for(settings: Settings, service_ticket: str, given: str | None) -> str:
    """The share ID to publish for a ticket: the given one, else the derived one."""
    if given:
        return given
    if not settings.share_secret:
        raise ShareLinkError(
            "no share_id and no share secret configured to derive one "
            "(set XOI_SHARE_SECRET or give the share ID in the input)",
            field="share_id",
        )
    return derive_share_id(settings.share_secret, settings.partner_id or "", service_ticket)


def share_id_warning(share_id: str) -> str | None:
    """Why a share ID is risky in a public URL, or ``None`` when it is not."""
    if share_id.isdigit():
        return f"share_id {share_id!r} is all digits: a public URL that is easy to guess"
    if len(share_id) < SHORT_SHARE_ID:
        return (
            f"share_id {share_id!r} is short ({len(share_id)} characters): "
            "a public URL that is easy to guess"
        )
    return None


@dataclass(frozen=True)
class ShareUrlBuilder:
    """Checks the configured template once, then builds URLs for any number of tickets."""

    template: str
    base_url: str
    partner_id: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ShareUrlBuilder:
        template = settings.share_url_template
        try:
            fields = [(name, spec, conversion) for _, name, spec, conversion
                      in string.Formatter().parse(template) if name is not None]
        except ValueError as error:
            raise ConfigError(f"share URL template {template!r}: {error}") from None
        # "{}" (name ""), "{share_id!r}" and "{share_id:d}" would pass the name check and
        # then fail inside str.format() with a traceback instead of a configuration error.
        for name, spec, conversion in fields:
            if not name or spec or conversion:
                raise ConfigError(f"share URL template {template!r}: write placeholders as "
                                  "{base_url}, {partner_id}, {share_id}, nothing else")
        names = {name for name, _, _ in fields}
        unknown = names - PLACEHOLDERS
        if unknown:
            raise ConfigError(
                f"share URL template {template!r}: unknown placeholder "
                f"{{{sorted(unknown)[0]}}}; use {{base_url}}, {{partner_id}}, {{share_id}}"
            )
        if "share_id" not in names:
            raise ConfigError(f"share URL template {template!r} has no {{share_id}}")
        if "partner_id" in names:
            settings.require_partner_id()
        builder = cls(template, settings.base_url.rstrip("/"), settings.partner_id or "")
        # Probing with a harmless ID turns a bad base URL into one configuration error
        # instead of one rejection per record.
        try:
            cls.check(builder.url("probe"))
        except ShareLinkError as error:
            raise ConfigError(f"share URL template or base URL: {error.message}") from None
        return builder

    def url(self, share_id: str) -> str:
        url = self.template.format(
            base_url=self.base_url,
            partner_id=quote(self.partner_id, safe=""),
            share_id=quote(share_id, safe=""),
        )
        # The percent-encoded ID is plain ASCII, so checking the template once with a probe
        # ID (from_settings) vouches for every URL; this is the hot path of 100,000 rows.
        if len(url) > MAX_SHARE_URL:
            raise ShareLinkError(
                f"the share URL would be {len(url)} characters once the share ID is "
                f"percent-encoded; at most {MAX_SHARE_URL} fit a QR code that scans from paper",
                field="share_id")
        return url

    @staticmethod
    def check(url: str) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  # raises on a port that is not a number below 65536
        except ValueError:  # e.g. "https://[bad": a traceback otherwise
            raise ShareLinkError(f"{url!r} is not a valid URL", field="share_url") from None
        if parts.scheme != "https" or not parts.hostname:
            raise ShareLinkError(f"{url!r} is not an https URL", field="share_url")
        # RFC 3986 has no place for these; a PDF writer would percent-encode them in the
        # link but not in the printed URL or the QR code, and the three would differ.
        if not url.isascii() or not url.isprintable() or any(ch in _NOT_IN_URLS for ch in url):
            raise ShareLinkError(f"{url!r} holds characters a URL cannot", field="share_url")


class LinkRegistry:
    """Keeps share IDs and invoice numbers unique across tickets and immutable per ticket.

    Seeded from the ledger, so a link published by an earlier run can never change or
    move to another ticket. The batch and the launch pages share it, so both reject the
    same ticket when two claim one share ID.
    """

    def __init__(self, settings: Settings, *, recorded_share_ids: dict[str, str] | None = None,
                 recorded_numbers: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.recorded = recorded_share_ids or {}
        self.ticket_of_share = {share: ticket for ticket, share in self.recorded.items()}
        # Keyed by the PDF's file name, compared without letter case: "INV-a" and "INV-A"
        # are one file on the file systems billing folders are often shared from.
        self.owner_of_file: dict[str, tuple[str, str]] = {
            _file_key(number): (ticket, number)
            for number, ticket in (recorded_numbers or {}).items()}
        self.issued_number = {ticket: number
                              for number, ticket in (recorded_numbers or {}).items()}

    def claim(self, ticket: str, given: str | None, invoice_number: str | None = None) -> str:
        """The ticket's share ID; :class:`ShareLinkError` when it cannot have it.

        A ticket published before keeps its share ID when the input gives none, even if
        the secret that derived it has changed since.
        """
        earlier = self.recorded.get(ticket)
        share_id = share_id_for(self.settings, ticket, given or earlier)
        if earlier is not None and earlier != share_id:
            raise _changed(share_id, earlier)
        owner = self.ticket_of_share.get(share_id)
        if owner is not None and owner != ticket:
            raise ShareLinkError(f"{share_id!r} is already the share ID of ticket {owner}",
                                 field="share_id")
        if invoice_number is not None:
            issued = self.issued_number.get(ticket, invoice_number)
            if issued != invoice_number:
                # Accounting keeps an issued number; a correction is a credit note.
                raise ShareLinkError(
                    f"{invoice_number!r} differs from {issued!r}, the invoice number already "
                    "issued for this ticket (invoice numbers are immutable)",
                    field="invoice_number")
            key = _file_key(invoice_number)
            owner, number = self.owner_of_file.get(key, (ticket, ""))
            if owner != ticket:
                raise ShareLinkError(
                    f"{invoice_number!r} is already the invoice number of ticket {owner}"
                    if number == invoice_number else f"{invoice_number!r} and {number!r}, "
                    f"the invoice number of ticket {owner}, differ only in letter case: "
                    "one PDF file on many file systems", field="invoice_number")
            self.owner_of_file[key] = (ticket, invoice_number)
        self.ticket_of_share[share_id] = ticket
        return share_id


def published_link(settings: Settings, ticket: str,
                   given: str | None) -> tuple[str, str, str]:
    """The share ID and URL of ``ticket`` as its invoice carries them, and its invoice's
    state in ``settings.out``: ``issued``, ``withdrawn`` or ``none``.

    A ticket already invoiced there has the ones its ledger recorded (the URL template
    may have changed since); any other ticket, the ones a run would give it.
    """
    with existing(settings.out) as ledger:
        if ledger is not None and (recorded := ledger.get(ticket)) is not None:
            if given and given != recorded.share_id:
                raise _changed(given, recorded.share_id)
            state = "withdrawn" if ledger.withdrawn(ticket) else "issued"
            return recorded.share_id, recorded.share_url, state
    if not given and not settings.share_secret:
        raise ConfigError("no --share-id and no share secret to derive one: set "
                          "XOI_SHARE_SECRET or give --share-id")
    share_id = share_id_for(settings, ticket, given)
    return share_id, ShareUrlBuilder.from_settings(settings).url(share_id), "none"


def _changed(share_id: str, earlier: str) -> ShareLinkError:
    return ShareLinkError(f"{share_id!r} differs from {earlier!r}, the share ID already "
                          "published for this ticket (share IDs are immutable)",
                          field="share_id")


def _file_key(invoice_number: str) -> str:
    return safe_name(invoice_number).lower()
