"""Share IDs and share URLs: how they are made and checked (:mod:`claims` decides which
one a ticket gets).

XOi's guide asks for a share ID per activity that is unique, immutable for the same
activity and not sequential, because it becomes part of a public URL. The input's
``share_id`` wins; otherwise the ID is an HMAC-SHA256 of the partner id and the service
ticket under the operator's secret: stable for the ticket, 128 bits, URL-safe, and
unguessable without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import string
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ..core.config import Settings
from ..core.errors import ConfigError, ShareLinkError

PLACEHOLDERS = frozenset({"base_url", "partner_id", "share_id"})
_NOT_IN_URLS = frozenset(' "<>\\^`{|}')
_HOST = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")  # urlsplit gives it in lower case
# Plain http only where it cannot leave the machine: tests and local mock endpoints.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
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
            raise ConfigError(f"share_url_template {template!r}: {error}") from None
        # "{}" (name ""), "{share_id!r}" and "{share_id:d}" would pass the name check and
        # then fail inside str.format() with a traceback instead of a configuration error.
        for name, spec, conversion in fields:
            if not name or spec or conversion:
                raise ConfigError(f"share_url_template {template!r}: write placeholders as "
                                  "{base_url}, {partner_id}, {share_id}, nothing else")
        names = {name for name, _, _ in fields}
        unknown = names - PLACEHOLDERS
        if unknown:
            raise ConfigError(
                f"share_url_template {template!r}: unknown placeholder "
                f"{{{sorted(unknown)[0]}}}; use {{base_url}}, {{partner_id}}, {{share_id}}"
            )
        if "share_id" not in names:
            raise ConfigError(f"share_url_template {template!r} has no {{share_id}}")
        _check_host_fixed(template)
        if "partner_id" in names:
            settings.require_partner_id()
        builder = cls(template, settings.base_url.rstrip("/"), settings.partner_id or "")
        # Probing with a harmless ID turns a bad base URL into one configuration error
        # instead of one rejection per record.
        base = [("base_url", builder.base_url)] if "base_url" in names else []
        for key, url in (*base, ("share_url_template", builder.url("probe"))):
            try:
                check_url(url)
            except ShareLinkError as error:
                raise ConfigError(f"{key}: {error.message}") from None
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


def check_url(url: str, *, form: bool = False) -> None:
    """:class:`ShareLinkError` saying why ``url`` cannot be published: the one rule for a
    share URL and, with ``form``, for the base of a launch form's action, which a path
    follows (so it has no query or fragment) and which may be plain http where it cannot
    leave the machine (:data:`LOCAL_HOSTS`)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises on a port that is not a number below 65536
    except ValueError:  # e.g. "https://[bad": a traceback otherwise
        raise ShareLinkError(f"{url!r} is not a valid URL", field="share_url") from None
    local = form and parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not (parts.scheme == "https" and parts.hostname) and not local:
        raise ShareLinkError(f"{url!r} is not an https URL", field="share_url")
    if form and (parts.query or parts.fragment):
        raise ShareLinkError(f"{url!r} has a query or a fragment: the path that follows "
                             "would be part of it", field="share_url")
    # A reader of https://vision.xoeye.io@evil.example/ sees XOi; the link opens
    # evil.example.
    if "@" in parts.netloc:
        raise ShareLinkError(f"{url!r} opens {parts.hostname}: what comes before \"@\" "
                             "is a user name, which a share URL has none of",
                             field="share_url")
    # Percent signs in a host ("xoeye.io%2f.evil") are read one way or another by
    # browsers; a host name is letters, digits, dots and hyphens (or an IPv6 address).
    if not _HOST.fullmatch(parts.hostname or ""):
        raise ShareLinkError(f"{url!r}: {parts.hostname!r} is not a host name",
                             field="share_url")
    # RFC 3986 has no place for these; a PDF writer would percent-encode them in the
    # link but not in the printed URL or the QR code, and the three would differ.
    if not url.isascii() or not url.isprintable() or any(ch in _NOT_IN_URLS for ch in url):
        raise ShareLinkError(f"{url!r} holds characters a URL cannot", field="share_url")


def _check_host_fixed(template: str) -> None:
    """The host of every share URL is the one the template (or the base URL it starts
    with) writes out: no placeholder may add to it, whatever a partner id or a share ID
    holds (``https://{partner_id}.example/``, ``{base_url}.evil.example/``)."""
    if template.startswith("{base_url}"):
        if template.removeprefix("{base_url}")[:1] not in ("", "/", "?", "#"):
            raise ConfigError(f"share_url_template {template!r}: \"/\" must follow "
                              "{base_url}, or what follows it would be part of its host")
        return
    authority = template.split("{", 1)[0].partition("//")[2]
    if not any(delimiter in authority for delimiter in "/?#"):
        raise ConfigError(f"share_url_template {template!r}: write the host out, then "
                          "\"/\", before any placeholder (or start with {base_url}), so "
                          "that no partner id or share ID can change the host")
