"""``xoi-invoices share-url``: the link a ticket's invoice carries, for a clerk to paste.

A published link is looked up in the folder's ledger and needs no configuration. A ticket
the folder has not invoiced is an error naming the closest invoiced tickets (a typo must
not print a valid-looking URL); ``--unpublished`` asks for the URL a run would give it.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..core.errors import ConfigError, TicketError
from ..core.text import utf8
from ..link import published_link, share_id_warning
from ..store import closest_invoiced, listed, not_files, reading
from ..validate import canonical_ticket
from .options import config_option, maps_errors, out_option, settings_from


@click.command("share-url")
@click.argument("ticket")
@click.option("--share-id", help="the share ID the activity was launched with "
              "[default: derived from the ticket with XOI_SHARE_SECRET]")
@click.option("--unpublished", is_flag=True,
              help="for a ticket not invoiced in OUT: print the URL a run would give it")
@out_option
@config_option
@maps_errors
def share_url(ticket: str, share_id: str | None, unpublished: bool, out: Path | None,
              config_file: Path | None) -> None:
    """Print the share URL of TICKET, exactly as its invoice in OUT carries it.

    The published link needs no configuration. A ticket OUT (default output/) has not
    invoiced is exit status 1, naming the closest tickets it has; --unpublished prints
    the URL a run would give it instead (needs the partner id, and the share secret or
    --share-id).

    \b
    Example:
        xoi-invoices share-url WO-10421 --out /srv/invoices
        xoi-invoices share-url WO-10421 --unpublished --share-id k7Qm2xR9vT4pL8sN3wZ6yB1c
    """
    if not utf8(ticket + (share_id or "")):
        raise ConfigError("TICKET and --share-id must be UTF-8 text")
    if share_id is not None and not share_id.strip():
        raise ConfigError("--share-id is blank; leave it out to derive the share ID")
    given = share_id.strip() if share_id else None
    settings = settings_from(config_file, out=out)
    ticket = canonical_ticket(ticket)
    with reading(settings.out, lock=False) as out_folder:  # never waits for a run
        issued = out_folder.published(ticket).get(ticket)
        if issued is None and not unpublished:
            not_files([ticket], "share-url takes one ticket (--out names the folder)")
            near = closest_invoiced(out_folder.ledger, ticket)
            raise TicketError(f"has no invoice in {settings.out}/{listed(near)} (--out names "
                              "another folder; --unpublished prints the URL a run would "
                              "give it)", ticket=ticket)
    if issued is None:
        settings.require_partner_id()
    identifier, url = published_link(settings, ticket, given, issued)
    warning = share_id_warning(identifier)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if issued is None:
        click.echo(f"note: no invoice for {ticket} in {settings.out}/ yet: this is the "
                   "URL a run would give it (--out names another folder)", err=True)
    elif issued.withdrawn:
        click.echo(f"note: the invoice of {ticket} in {settings.out}/ was withdrawn "
                   "(its work order became unconfirmed); this is the URL it was issued with",
                   err=True)
    click.echo(url)
