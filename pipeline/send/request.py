"""What a send is asked to do, checked before the folder is opened and anything is sent:
``resend`` and ``to`` are about invoices the caller names, and ``to`` must be an address
a message can go to."""

from __future__ import annotations

from collections.abc import Collection

from ..core.addresses import checked
from ..core.errors import ConfigError


def checked_request(only: Collection[str] | None, *, resend: bool,
                    to: str | None) -> str | None:
    """``to`` in the form to send to (``None``: each invoice to its customer's
    bill_to_email); :class:`ConfigError` for a request no send can serve. ``only`` holds
    the tickets named, spelled as the ledger does."""
    if resend and not only:
        raise ConfigError("--resend sends named invoices again: name them with --only TICKET")
    if to is None:
        return None
    # One named invoice: a typo in `only` must not send the whole folder to one person.
    if not only or len(only) != 1:
        raise ConfigError("to sends one named invoice: name it with only")
    try:
        return checked(to)
    except ValueError as error:
        raise ConfigError(f"{to!r} is not an address to send to: {error}",
                          field="to") from None
