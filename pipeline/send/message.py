"""The invoice email: headers, a plain-text and an HTML part from Jinja templates, the PDF.

Built with ``email.message.EmailMessage`` under the default policy, which encodes
non-ASCII names and subjects (RFC 2047) and refuses header values with line breaks; ours
are folded to one line before they get there, so no work-order field can add a header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import PurePosixPath
from typing import Any, NoReturn

import jinja2
from babel.dates import format_date

from ..core.addresses import mailbox
from ..core.config import Settings, Smtp
from ..core.errors import ConfigError
from ..core.models import Rendered
from ..core.money import format_money
from ..core.sandbox import config_error, environment
from ..core.template_files import BUILT_IN, EMAIL_HTML, EMAIL_TEXT
from ..core.text import one_line

LINK_TEXT = "See the photos and videos of the work"
_ATOM_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def message_id(invoice_number: str, sha256: str, domain: str) -> str:
    """The same for every send of one version of an invoice: a resend is recognisably it.

    The number is made of RFC 5322 atom characters; the sha256 keeps it unique.
    """
    token = _ATOM_UNSAFE.sub("-", invoice_number).strip("-") or "invoice"
    return f"<{token}.{sha256[:32]}@{domain}>"


def subject(company: str, invoice_number: str, *, correction: bool) -> str:
    kind = "Corrected invoice" if correction else "Invoice"
    return one_line(f"{kind} {invoice_number} from {company}")


@dataclass(frozen=True, slots=True)
class Envelope:
    """The configured addresses, checked once: From, Reply-To and the Bcc."""

    sender: Address
    reply_to: Address | None
    bcc: str | None

    @classmethod
    def from_settings(cls, smtp: Smtp) -> Envelope:
        if not smtp.sender:
            raise ConfigError("no sender: set [smtp] from in the configuration file, e.g. "
                              'from = "Acme Billing <billing@acme.example>"')
        reply_to = mailbox(smtp.reply_to, setting="[smtp] reply_to") if smtp.reply_to else None
        bcc = mailbox(smtp.bcc, setting="[smtp] bcc").addr_spec if smtp.bcc else None
        return cls(mailbox(smtp.sender, setting="[smtp] from"), reply_to, bcc)

    def recipients(self, to: Address) -> list[str]:
        """Who the server delivers to: the Bcc goes in the envelope, never in a header."""
        return [to.addr_spec, *([self.bcc] if self.bcc else [])]


class MailTemplates:
    """The two email templates, ``--templates DIR`` files first; one per ``send``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        templates = settings.templates
        self.folders = [templates, BUILT_IN] if templates else [BUILT_IN]
        loader = environment(self.folders)
        try:
            self.text = loader.get_template(EMAIL_TEXT)
            self.html = loader.get_template(EMAIL_HTML)
        except jinja2.TemplateError as error:
            self._fail(error)
        except UnicodeDecodeError:
            raise ConfigError("an email template is not UTF-8; save it as UTF-8",
                              source=templates) from None

    def _fail(self, error: Exception) -> NoReturn:
        # A broken template breaks every message: a configuration error, named once.
        raise config_error(error, self.folders, "email template") from None

    def render(self, context: dict[str, Any]) -> tuple[str, str]:
        try:
            return self.text.render(context), self.html.render(context)
        except Exception as error:  # e.g. TypeError from {{ invoice.total * 1.1 }}
            self._fail(error)

    def context(self, rendered: Rendered, facts: dict[str, Any], *,
                correction: bool) -> dict[str, Any]:
        """The variables both templates receive (documented in docs/delivery.md)."""
        company = self.settings.company
        locale = self.settings.locale
        return {
            "invoice": facts,
            "company": {name: getattr(company, name) for name in company.__dataclass_fields__
                        if name != "logo"},
            "accent": company.accent_color,
            "amount_due": format_money(rendered.total, rendered.currency, locale),
            "due_date": format_date(date.fromisoformat(facts["due_date"]), format="long",
                                    locale=locale),
            "share_url": rendered.share_url,
            "link_text": LINK_TEXT,
            "correction": correction,
            "subject": subject(company.name, rendered.invoice_number, correction=correction),
        }

    def build(self, rendered: Rendered, facts: dict[str, Any], pdf: bytes, *,
              to: Address, envelope: Envelope, correction: bool) -> EmailMessage:
        context = self.context(rendered, facts, correction=correction)
        text, html = self.render(context)
        message = EmailMessage()
        message["From"] = envelope.sender
        message["To"] = to
        if envelope.reply_to is not None:
            message["Reply-To"] = envelope.reply_to
        message["Subject"] = context["subject"]
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = message_id(rendered.invoice_number, rendered.sha256,
                                           envelope.sender.domain)
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        message.add_attachment(pdf, maintype="application", subtype="pdf",
                               filename=PurePosixPath(rendered.pdf).name)
        return message
