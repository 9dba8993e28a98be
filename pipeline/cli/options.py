"""What the commands share: option decorators, settings from them, errors as exit codes."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from ..core import config, einvoice
from ..core.errors import EXIT_OK, EXIT_PROBLEMS, OutputError, XoiError
from ..core.models import Delivered, Outcome
from ..core.terminal import shown
from .console import Console
from .signals import StopRequest

F = TypeVar("F", bound=Callable[..., Any])


class Failed(click.ClickException):
    """An :class:`XoiError` shown as ``Error: ...`` with the contract's exit status, or
    ``as_json`` as one JSON event, like everything else a ``--log-format json`` command logs.
    """

    def __init__(self, error: XoiError, *, as_json: bool) -> None:
        super().__init__(shown(str(error)))
        self.error = error
        self.exit_code = error.exit_code  # type: ignore[misc]  # per error, not per class
        self.as_json = as_json

    def show(self, file: Any = None) -> None:
        if not self.as_json:
            super().show(file)
            return
        error = self.error
        Console.error(str(error), error.exit_code, {
            "source": error.source, "line": error.line, "field": error.field,
            "service_ticket": error.ticket})


@contextlib.contextmanager
def errors_shown(*, as_json: bool) -> Iterator[None]:
    """Errors raised in the block as :class:`Failed`, JSON events if ``as_json``.

    :func:`maps_errors` knows only the command line; the configuration file can ask for
    JSON too, so a command wraps what follows its console in
    ``errors_shown(as_json=console.json)``: an error that ends it is logged alike.
    """
    try:
        yield
    except XoiError as error:
        raise Failed(error, as_json=as_json) from None
    except OSError as error:
        # Ours are mapped where they happen; this names whatever the system refused
        # (a lock file on a read-only share...) in one line instead of a traceback.
        raise Failed(OutputError(error.strerror or str(error), source=error.filename),
                     as_json=as_json) from None


def maps_errors(command: F) -> F:
    """A command's errors as :func:`errors_shown` says, JSON events from the start if
    its command line says ``--log-format json``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with errors_shown(as_json=kwargs.get("log_format") == "json"):
            return command(*args, **kwargs)

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


def mapping_option(command: F) -> F:
    return click.option(
        "--mapping", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.toml",
        help="read an export whose columns, formats or shape differ from ours (see "
        "`xoi-invoices mapping draft`)")(command)


def einvoice_option(command: F) -> F:
    return click.option(
        "--einvoice", type=click.Choice(einvoice.FORMATS),
        help="factur-x: each invoice also an EN 16931 e-invoice (ZUGFeRD), PDF/A-3b with "
        "factur-x.xml embedded; needs the seller's and buyer's tax data (README, "
        "\"E-invoices\")")(command)


def batch_options(command: F) -> F:
    """Options shared by ``run`` and ``regenerate``."""
    for option in reversed((
        out_option,
        mapping_option,
        click.option("--workers", type=click.IntRange(min=1),
                     help="render in N processes [default: number of CPUs]"),
        click.option("--cluster", metavar="ADDRESS", help="render on the Dask scheduler at "
                     "ADDRESS, e.g. tcp://10.0.0.5:8786 (needs the cluster extra)"),
        click.option("--render-timeout", type=click.IntRange(min=0), metavar="SECONDS",
                     help="an invoice that takes longer fails, the run goes on; 0: no "
                     "limit [default: 300]"),
        click.option("--lock-timeout", type=click.IntRange(0, 86400), metavar="SECONDS",
                     help="wait up to SECONDS for another command's lock before exit 75 "
                     "[default: 0]"),
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
        einvoice_option,
        click.option("--send", is_flag=True, default=None,
                     help="then email the invoices not yet sent (see `xoi-invoices send`)"),
        config_option,
    )):
        command = option(command)
    return command


def settings_from(config_file: Path | None, **options: Any) -> config.Settings:
    return config.resolve(options, config_file=config_file)


def finish(outcome: Outcome | Delivered, console: Console,
           stop: StopRequest | None = None) -> None:
    """The summary line, then the contract's exit status: 130/143 when a signal stopped
    the run (or the send), else 0 or 1."""
    console.finish(outcome)
    if stop is not None and outcome.interrupted:
        sys.exit(stop.exit_status)
    sys.exit(EXIT_OK if outcome.ok else EXIT_PROBLEMS)
