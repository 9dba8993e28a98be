"""``xoi-invoices send``: the options, then :func:`pipeline.send.send_folder`."""

from __future__ import annotations

from pathlib import Path

import click

from ..store import not_files
from .console import Console
from .options import (
    config_option,
    errors_shown,
    finish,
    maps_errors,
    out_option,
    settings_from,
)
from .signals import on_signals


@click.command("send")
@out_option
@click.option("--only", "only", multiple=True, metavar="TICKET",
              help="send only this ticket's invoice (repeatable)")
@click.option("--dry-run", is_flag=True,
              help="print what would be sent (ticket, recipient, subject); send nothing")
@click.option("--resend", is_flag=True,
              help="with --only: send again even if already sent (same Message-ID)")
@click.option("--templates", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="email.txt and email.html here override the built-in ones")
@click.option("--quiet", is_flag=True, default=None,
              help="no line per message sent; only problems and the summary (for cron)")
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="json: one JSON object per event on stderr [default: text]")
@config_option
@maps_errors
def send(out: Path | None, only: tuple[str, ...], dry_run: bool, resend: bool,
         templates: Path | None, quiet: bool | None, log_format: str | None,
         config_file: Path | None) -> None:
    """Email each invoice in OUT whose current version was not sent yet to its bill_to_email.

    The PDF is attached and the XOi share link is in the message. A version of an
    invoice is sent once; a re-rendered, changed one is sent again as "Corrected
    invoice". Every delivery is in OUT/deliveries.csv. SMTP settings come from the [smtp]
    table of the configuration file, the password from XOI_SMTP_PASSWORD.

    Exit status: 0 all sent, or skipped for want of a bill_to_email (counted in the
    summary), and every dry run; 1 some failed or were skipped for a reason to fix (an
    address that is not valid), the others were sent; 2 usage or configuration error (no
    SMTP host, login refused); 75 another run holds OUT; 130/143 stopped by SIGINT/SIGTERM
    (the message in flight finishes first).

    \b
    Example:
        export XOI_SMTP_PASSWORD=...
        xoi-invoices send --out output/ --dry-run
        xoi-invoices send --out output/
        xoi-invoices send --out output/ --only WO-10421 --resend
    """
    # Imported here: Jinja, Babel and the address checks load only for a command that sends.
    from ..send import send_folder

    not_files(only, "--only takes a ticket")
    settings = settings_from(config_file, out=out, templates=templates, quiet=quiet,
                             log_format=log_format)
    console = Console(quiet=settings.quiet, log_format=settings.log_format)
    with errors_shown(as_json=console.json):
        with on_signals() as stop:
            outcome = send_folder(settings.out, settings, only=only, dry_run=dry_run,
                                  resend=resend, progress=console, stop=stop)
        finish(outcome, console, stop)
