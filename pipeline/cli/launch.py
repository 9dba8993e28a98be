"""``xoi-invoices launch``: the technicians' launch pages, from files or one typed ticket."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core.errors import EXIT_OK, EXIT_PROBLEMS
from ..validate import command_line_order
from .options import config_option, mapping_option, maps_errors, out_option, settings_from


@click.command()
@click.argument("inputs", nargs=-1, metavar="[INPUT]...",
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--ticket", help="one work order's service ticket, instead of INPUT files")
@click.option("--customer", help="with --ticket: the end customer's name")
@click.option("--location", help="with --ticket: the address where the work takes place")
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="with --ticket: a tag for the activity (repeatable, kept in order)")
@click.option("--share-id", help="with --ticket: the share ID to launch with "
              "[default: derived from the ticket with XOI_SHARE_SECRET]")
@click.option("--stdout", "to_stdout", is_flag=True,
              help="with --ticket: print the page instead of writing it")
@click.option("--curl", is_flag=True,
              help="with --ticket: print the same POST as a curl command instead")
@out_option
@mapping_option
@config_option
@maps_errors
def launch(inputs: tuple[Path, ...], ticket: str | None, customer: str | None,
           location: str | None, tags: tuple[str, ...], share_id: str | None,
           to_stdout: bool, curl: bool, out: Path | None, mapping: Path | None,
           config_file: Path | None) -> None:
    """Write the technicians' launch pages: a button that opens XOi Vision for a ticket.

    With INPUT files (CSV, JSON, JSON Lines): OUT/launch/<ticket>.html for every work
    order, confirmed or not, and OUT/launch/index.html listing them. With --ticket: one
    page, or the page on stdout (--stdout), or the same POST as a curl command (--curl).
    The button posts to XOI_BASE_URL/partners/XOI_PARTNER_ID/share with the share ID the
    ticket's invoice will link to.

    \b
    Example:
        xoi-invoices launch exports/work_orders.csv --out output/
        xoi-invoices launch --ticket WO-10421 --customer "Karen Whitfield" \\
            --location "2744 S Clayton St, Denver, CO" --tag HVAC --tag Repair --curl
    """
    # Imported here: only this command needs Jinja; the others start without it.
    from .. import launch as launch_pages

    if inputs and ticket is not None:
        raise click.UsageError("give INPUT files or --ticket, not both")
    if ticket is None:
        if not inputs:
            raise click.UsageError("give INPUT files, or --ticket with --customer and "
                                   "--location")
        single_only = {"--customer": customer, "--location": location, "--tag": tags,
                       "--share-id": share_id, "--stdout": to_stdout, "--curl": curl}
        misplaced = [name for name, value in single_only.items() if value]
        if misplaced:
            raise click.UsageError(f"{misplaced[0]} goes with --ticket, not with INPUT files")
        outcome = launch_pages.write_pages(inputs, settings_from(config_file, out=out,
                                                                 mapping=mapping))
        for problem in outcome.rejected:
            click.echo(problem, err=True)
        for caution in outcome.warnings:
            click.echo(f"warning: {caution}", err=True)
        click.echo(f"wrote {len(outcome.pages):,} launch pages and "
                   f"{outcome.folder / launch_pages.INDEX}, rejected {len(outcome.rejected):,}")
        sys.exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)
    if customer is None or location is None:
        raise click.UsageError("--ticket needs --customer and --location")
    if mapping is not None:
        raise click.UsageError("--mapping goes with INPUT files, not with --ticket")
    if to_stdout and curl:
        raise click.UsageError("--stdout and --curl exclude each other")
    settings = settings_from(config_file, out=out)
    action = launch_pages.form_action(settings)  # a missing partner id stops us first
    order = command_line_order(ticket, customer, location, tags, share_id)
    page, warnings = launch_pages.launch_for(order, settings)
    for caution in warnings:
        click.echo(f"warning: {caution.message}", err=True)
    if curl:
        click.echo(launch_pages.curl_command(page, action))
    elif to_stdout:
        click.echo(launch_pages.page_html(page, action), nl=False)
    else:
        click.echo(f"wrote {launch_pages.write_page(page, settings)}")
