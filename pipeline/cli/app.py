"""The ``xoi-invoices`` command line: options in, library calls, errors mapped to exit codes.

Exit status: 0 all valid, 1 records rejected or failed, 2 usage or configuration error,
75 another run holds the output folder's lock, 130/143 a run stopped by SIGINT/SIGTERM
(see :mod:`pipeline.cli.signals`). The commands only parse options and call the library; their
shared options live in :mod:`options`, ``launch`` in :mod:`cli_launch`, ``send`` in
:mod:`cli_send`,
``share-url`` in :mod:`cli_share`.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .. import batch
from ..core import config, template_files
from ..core.errors import EXIT_OK, EXIT_PROBLEMS
from ..store import OutputFolder, merge, not_files, reading
from ..store import verify as verify_folder
from .console import Console
from .launch import launch
from .mapping import mapping as mapping_group
from .options import (
    batch_options,
    config_option,
    einvoice_option,
    errors_shown,
    finish,
    inputs_argument,
    mapping_option,
    maps_errors,
    out_option,
    settings_from,
)
from .send import send
from .serve import serve
from .share import share_url
from .signals import on_signals


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xoi-invoices")
def main() -> None:
    """Turn confirmed work orders into customer invoices that link to XOi Vision.

    \b
    Example:
        export XOI_PARTNER_ID=acme XOI_SHARE_SECRET=...
        xoi-invoices run exports/work_orders.csv --out output/
    """


@contextlib.contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Pause Python's cycle collector while ``validate`` runs: a process-wide choice, so
    the program makes it, not the library.

    Checking builds many small objects and no reference cycles; the collector would scan
    them again and again. Only for ``validate``: rendering makes cycles (WeasyPrint's
    boxes), and a run rendering in its own process would keep every one of them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        xoi-invoices run examples/einvoice-de/work_orders.csv --einvoice factur-x
    """
    not_files(only, "--only takes a ticket; the input files come first")
    _batch(inputs, settings_from(config_file, **options), force=force, only=only)


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
    not_files(tickets, "tickets come first, input files after --input (xoi-invoices "
              "regenerate WO-10421 --input orders.csv)")
    _batch(inputs, settings_from(config_file, **options), force=True, only=tickets,
           command="regenerate")


def _batch(inputs: tuple[Path, ...], settings: config.Settings, *, force: bool,
           only: tuple[str, ...], command: str = "run") -> None:
    console = Console(quiet=settings.quiet, log_format=settings.log_format)
    with errors_shown(as_json=console.json):
        with on_signals() as stop:
            outcome = batch.run(inputs, settings, force=force, only=only, progress=console,
                                stop=stop, command=command)
        finish(outcome, console, stop)


@main.command()
@inputs_argument
@mapping_option
@einvoice_option
@config_option
@maps_errors
def validate(inputs: tuple[Path, ...], mapping: Path | None, einvoice: str | None,
             config_file: Path | None) -> None:
    """Read and check INPUT files only; print each problem with file and line.

    Nothing is rendered or written. Exit status 0 when every record is valid, 1 when
    some are rejected.

    \b
    Example:
        xoi-invoices validate exports/work_orders.csv
        xoi-invoices validate exports/invoices.csv --mapping our-fsm.toml
        xoi-invoices validate exports/work_orders.csv --einvoice factur-x
    """
    settings = settings_from(config_file, mapping=mapping, einvoice=einvoice)
    console = Console()
    with _without_cycle_collector():
        outcome = batch.check_all(inputs, settings, progress=console)
    console.finish(outcome, outcome.checked())
    sys.exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)


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
    # Under the shared lock: not a half-written night's invoices.
    with reading(out or config.DEFAULTS.out) as out_folder:
        pages = merge(out_folder, target)
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
@click.argument("target", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@maps_errors
def templates_export(target: Path) -> None:
    """Copy the built-in templates to DIR as a starting point for --templates DIR.

    \b
    Example:
        xoi-invoices templates export my-templates/
    """
    for path in template_files.export(target):
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
    path = out or config.DEFAULTS.out
    problems = 0
    with OutputFolder(path).lock(shared=True):  # a run rewrites the manifest last
        for problem in verify_folder(path):
            problems += 1
            click.echo(problem, err=True)
    click.echo(f"verified {path}: {problems} problem{'s' if problems != 1 else ''}")
    sys.exit(EXIT_PROBLEMS if problems else EXIT_OK)


main.add_command(launch)
main.add_command(send)
main.add_command(serve)
main.add_command(share_url)
main.add_command(mapping_group)
