"""Email addresses: checked for syntax (no DNS), and never a way into the message headers.

``email-validator`` knows the address grammar (and internationalized domains) better than a
regular expression would; the standard library's ``email.headerregistry.Address`` then
encodes display names with non-ASCII characters.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

from .errors import ConfigError
from .text import one_line

_LINE_BREAKS = ("\r", "\n", "\0")


def checked(address: str) -> str:
    """The address in the form to send to; :class:`ValueError` says what is wrong.

    Internationalized local parts need SMTPUTF8, which many relays lack: refused here
    rather than bounced later. An internationalized domain is sent in its ASCII form.
    """
    if any(character in address for character in _LINE_BREAKS):
        raise ValueError("contains a line break")
    try:
        result = validate_email(address.strip(), check_deliverability=False,
                                allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return str(result.ascii_email)


def mailbox(text: str, *, setting: str) -> Address:
    """``billing@acme.example`` or ``Acme Billing <billing@acme.example>`` from configuration."""
    if any(character in text for character in _LINE_BREAKS):
        raise ConfigError(f"{setting}: must be one line")
    name, address = parseaddr(text)
    if not address:
        raise ConfigError(f"{setting}: {text!r} is not an email address")
    try:
        return to_address(name, checked(address))
    except ValueError as error:
        raise ConfigError(f"{setting}: {text!r}: {error}") from None


def to_address(display_name: str, address: str) -> Address:
    """An ``Address`` whose display name is one line, so it can only ever fill its header."""
    local, _, domain = address.rpartition("@")
    return Address(display_name=one_line(display_name), username=local, domain=domain)
