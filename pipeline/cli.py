"""The ``xoi-invoices`` command line: options in, library calls, errors mapped to exit codes.

Exit status: 0 all valid, 1 records rejected or failed, 2 usage or configuration error,
75 another run holds the output folder's lock.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import batch, config, template_files
from .console import JSON_LOG, Console
from .errors import EXIT_OK, EXIT_PROBLEMS, ConfigError, OutputError, XoiError
from .lock import folder_lock
from .merge import merge
from .read import utf8
from .share import published_link, share_id_warning
from .verify import verify as verify_folder

F = TypeVar("F", bound=Callable[..., Any])


class Failed(click.ClickException):
    """An :class:`XoiError` shown as ``Error: ...`` with the contract's exit status.

    With ``--log-format json`` it is one JSON event instead, like everything else the
    command logs.
    """

    def __init__(self, error: XoiError) -> None:
        super().__init__(str(error))
        self.error = error
        self.exit_code = error.exit_code  # type: ignore[misc]  # per error, not per class
        # Decided now: click shows the error after the command's context has closed.
        context = click.get_current_context(silent=True)
        self.as_json = context is not None and bool(
            context.meta.get(JSON_LOG, context.params.get("log_format") == "json"))

    def show(self, file: Any = None) -> None:
        if not self.as_json:
            super().show(file)
            return
        error = self.error
        Console.error(str(error), error.exit_code, {
            "source": error.source, "line": error.line, "field": error.field,
            "service_ticket": error.ticket})


def maps_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except XoiError as error:
            raise Failed(error) from None
        except OSError as error:
            # Ours are mapped where they happen; this names whatever the system refused
            # (a lock file on a read-only share...) in one line instead of a traceback.
            raise Failed(OutputError(error.strerror or str(error),
                                     source=error.filename)) from None

    return wrapper  # type: ignore[return-value]


def inputs_argument(command: F) -> F:
    return click.argument("inputs", nargs=-1, required=True, metavar="INPUT...",
                          type=click.Path(path_type=Path, dir_okay=False))(command)


def config_option(command: F) -> F:
    return click.option(
        "--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
        help=f"TOML configuration file [default: ./{config.DEFAULT_CONFIG_FILE} if present]",
    )(command)


class _Folder(click.Path):
    """A folder option that refuses a blank value, which click would take as "."."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            # An unset variable in a cron line must not fill the working folder.
            self.fail('is blank; name a folder ("." for this one)', param, ctx)
        return super().convert(value, param, ctx)


def out_option(command: F) -> F:
    return click.option("--out", type=_Folder(path_type=Path, file_okay=False),
                        help="output folder [default: output/]")(command)


def batch_options(command: F) -> F:
    """Options shared by ``run`` and ``regenerate``."""
    for option in reversed((
        out_option,
        click.option("--workers", type=click.IntRange(min=1),
                     help="render in N processes [default: number of CPUs]"),
        click.option("--render-timeout", type=click.IntRange(min=0), metavar="SECONDS",
                     help="an invoice that takes longer fails, the run goes on; 0: no "
                     "limit [default: 300]"),
        click.option("--quiet", is_flag=True, default=None,
                     help="no progress bar; only problems and the summary line (for cron)"),
        click.option("--log-format", type=click.Choice(["text", "json"]),
                     help="json: one JSON object per event on stderr [default: text]"),
        click.option("--merge", type=click.Path(path_type=Path, dir_okay=False),
                     metavar="FILE.pdf", help="also write the run's invoices as one print file"),
        click.option("--templates", type=click.Path(path_type=Path, file_okay=False),
                     metavar="DIR", help="templates here override the built-in ones, file by "
                     "file (see `xoi-invoices templates export`)"),
        click.option("--locale", help="money, dates and labels, e.g. de_DE [default: en_US]"),
        click.option("--pdf-variant", type=click.Choice(config.PDF_VARIANTS),
                     help="pdf/a-3b: archival, with invoice.json embedded; pdf/ua-1: tagged, "
                     "accessible"),
        config_option,
    )):
        command = option(command)
    return command


def settings_from(config_file: Path | None, **options: Any) -> config.Settings:
    return config.resolve(options, config_file=config_file)


def finish(outcome: Any, console: Console) -> None:
    console.finish(outcome)
    sys.exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xoi-invoices")
def main() -> None:
    """Turn confirmed work orders into customer invoices that link to XOi Vision.

    \b
    Example:
        export XOI_PARTNER_ID=acme XOI_SHARE_SECRET=...
        xoi-invoices run exports/work_orders.csv --out output/
    """


@main.command()
@inputs_argument
@batch_options
@click.option("--force", is_flag=True, help="render every invoice, changed or not")
@click.option("--only", "only", multiple=True, metavar="TICKET",
              help="limit the run to this ticket (repeatable)")
@maps_errors
def run(inputs: tuple[Path, ...], config_file: Path | None, force: bool,
        only: tuple[str, ...], **options: Any) -> None:
    """Invoice the confirmed work orders of INPUT files (CSV, JSON, JSON Lines).

    Renders what is new or changed into OUT/invoices/, and rewrites OUT/manifest.csv
    and OUT/report.json. Unconfirmed work orders are listed, never invoiced.

    \b
    Example:
        xoi-invoices run fixtures/work_orders.csv fixtures/work_orders.json --out output/
    """
    settings = settings_from(config_file, **options)
    console = Console(quiet=settings.quiet, log_format=settings.log_format)
    outcome = batch.run(inputs, settings, force=force, only=only, progress=console)
    finish(outcome, console)


@main.command()
@click.argument("tickets", nargs=-1, required=True, metavar="TICKET...")
@click.option("--input", "inputs", multiple=True, required=True, metavar="INPUT",
              type=click.Path(path_type=Path, dir_okay=False),
              help="work-order file holding the tickets (repeatable)")
@batch_options
@maps_errors
def regenerate(tickets: tuple[str, ...], inputs: tuple[Path, ...],
               config_file: Path | None, **options: Any) -> None:
    """Re-render TICKETs even if unchanged: same invoice number, same share URL.

    The previous PDF is kept in OUT/invoices/history/ when the new one differs.

    \b
    Example:
        xoi-invoices regenerate WO-10421 --input exports/work_orders.csv
    """
    settings = settings_from(config_file, **options)
    console = Console(quiet=settings.quiet, log_format=settings.log_format)
    outcome = batch.run(inputs, settings, force=True, only=tickets, progress=console)
    finish(outcome, console)


@main.command()
@inputs_argument
@config_option
@maps_errors
def validate(inputs: tuple[Path, ...], config_file: Path | None) -> None:
    """Read and check INPUT files only; print each problem with file and line.

    Nothing is rendered or written. Exit status 0 when every record is valid, 1 when
    some are rejected.

    \b
    Example:
        xoi-invoices validate exports/work_orders.csv
    """
    settings = settings_from(config_file)
    console = Console()
    outcome = batch.check_all(inputs, settings, progress=console)
    orders = "work order" if outcome.read == 1 else "work orders"
    console.finish(outcome, f"checked {outcome.read:,} {orders}: {outcome.confirmed:,} "
                   f"confirmed, {len(outcome.unconfirmed):,} unconfirmed, "
                   f"{len(outcome.rejected):,} rejected, {len(outcome.warnings):,} warnings")
    sys.exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)


@main.command("share-url")
@click.argument("ticket")
@click.option("--share-id", help="the share ID the activity was launched with "
              "[default: derived from the ticket with XOI_SHARE_SECRET]")
@out_option
@config_option
@maps_errors
def share_url(ticket: str, share_id: str | None, out: Path | None,
              config_file: Path | None) -> None:
    """Print the share URL of TICKET, exactly as its invoice carries it.

    A ticket already invoiced in the output folder (--out, default output/) gets the URL
    its invoice was issued with.

    \b
    Example:
        xoi-invoices share-url WO-10421 --out /srv/invoices
        xoi-invoices share-url WO-10421 --share-id k7Qm2xR9vT4pL8sN3wZ6yB1c
    """
    settings = settings_from(config_file, out=out)
    settings.require_partner_id()
    if not ticket.strip():
        raise ConfigError("TICKET is blank")
    if not utf8(ticket + (share_id or "")):
        raise ConfigError("TICKET and --share-id must be UTF-8 text")
    if share_id is not None and not share_id.strip():
        raise ConfigError("--share-id is blank; leave it out to derive the share ID")
    ticket = unicodedata.normalize("NFC", ticket.strip())  # as validate spells it
    identifier, url, invoice = published_link(settings, ticket,
                                              share_id.strip() if share_id else None)
    warning = share_id_warning(identifier)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if invoice == "none":
        click.echo(f"note: no invoice for {ticket} in {settings.out}/ yet: this is the "
                   "URL a run would give it (--out names another folder)", err=True)
    elif invoice == "withdrawn":
        click.echo(f"note: the invoice of {ticket} in {settings.out}/ was withdrawn "
                   "(its work order became unconfirmed); this is the URL it was issued with",
                   err=True)
    click.echo(url)


@main.command("merge")
@out_option
@click.argument("target", metavar="FILE.pdf", type=click.Path(path_type=Path, dir_okay=False))
@maps_errors
def merge_command(out: Path | None, target: Path) -> None:
    """Write one print-ready PDF of every invoice in OUT, one bookmark each.

    Invoices come in manifest order (by service ticket); each bookmark reads
    "<invoice number> · <customer>".

    \b
    Example:
        xoi-invoices merge --out output/ print/2026-11-28.pdf
    """
    folder = out or config.DEFAULTS.out
    with folder_lock(folder, shared=True):  # not a half-written night's invoices
        pages = merge(folder, target)
    click.echo(f"wrote {target}: {pages} pages")


@main.group()
def templates() -> None:
    """Work with the invoice templates.

    \b
    Example:
        xoi-invoices templates export my-templates/
        xoi-invoices run orders.csv --templates my-templates/
    """


@templates.command("export")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@maps_errors
def templates_export(folder: Path) -> None:
    """Copy the built-in templates to DIR as a starting point for --templates DIR.

    \b
    Example:
        xoi-invoices templates export my-templates/
    """
    for path in template_files.export(folder):
        click.echo(path)


@main.command()
@out_option
@maps_errors
def verify(out: Path | None) -> None:
    """Re-open every PDF in OUT/manifest.csv: present, sha256, page count, share link.

    Prints one line per problem; exit status 1 when there is any.

    \b
    Example:
        xoi-invoices verify --out output/
    """
    folder = out or config.DEFAULTS.out
    problems = 0
    with folder_lock(folder, shared=True):  # a run rewrites the manifest when it ends
        for problem in verify_folder(folder):
            problems += 1
            click.echo(problem, err=True)
    click.echo(f"verified {folder}: {problems} problem{'s' if problems != 1 else ''}")
    sys.exit(EXIT_PROBLEMS if problems else EXIT_OK)


@main.command()
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
@config_option
@maps_errors
def launch(inputs: tuple[Path, ...], ticket: str | None, customer: str | None,
           location: str | None, tags: tuple[str, ...], share_id: str | None,
           to_stdout: bool, curl: bool, out: Path | None, config_file: Path | None) -> None:
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
    from . import launch as launch_pages

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
        outcome = launch_pages.write_pages(inputs, settings_from(config_file, out=out))
        for problem in outcome.rejected:
            click.echo(problem, err=True)
        for caution in outcome.warnings:
            click.echo(f"warning: {caution}", err=True)
        click.echo(f"wrote {len(outcome.pages):,} launch pages and "
                   f"{outcome.folder / launch_pages.INDEX}, rejected {len(outcome.rejected):,}")
        sys.exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)
    if customer is None or location is None:
        raise click.UsageError("--ticket needs --customer and --location")
    if to_stdout and curl:
        raise click.UsageError("--stdout and --curl exclude each other")
    settings = settings_from(config_file, out=out)
    action = launch_pages.form_action(settings)  # a missing partner id stops us first
    order = launch_pages.single_order(settings, ticket, customer, location, tags, share_id)
    page = launch_pages.launch_for(order, settings)
    warning = share_id_warning(page.share_id)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if curl:
        click.echo(launch_pages.curl_command(page, action))
    elif to_stdout:
        click.echo(launch_pages.page_html(page, action), nl=False)
    else:
        click.echo(f"wrote {launch_pages.write_page(page, settings)}")
