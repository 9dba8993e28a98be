"""``xoi-invoices serve``: the options, then :func:`pipeline.desk.serve`."""

from __future__ import annotations

from pathlib import Path

import click

from .options import (
    config_option,
    errors_shown,
    mapping_option,
    maps_errors,
    out_option,
    settings_from,
)


@click.command()
@out_option
@click.option("--input", "inputs", multiple=True, metavar="FILE_OR_GLOB",
              help="an export the desk re-renders from (repeatable; quote a glob): the "
              "newest one holding a ticket is used")
@mapping_option
@click.option("--host", help="address to listen on [default: 127.0.0.1]; another than this "
              "machine's needs --auth-header and --trusted-proxy")
@click.option("--port", type=click.IntRange(0, 65535), help="port [default: 8750; 0: any free]")
@click.option("--auth-header", metavar="NAME",
              help="behind a reverse proxy: the header naming the signed-in user, e.g. "
              "X-Forwarded-User")
@click.option("--trusted-proxy", metavar="ADDR",
              help="the proxy's IP address: the only one the desk answers, and the only one "
              "whose --auth-header it believes")
@config_option
@maps_errors
def serve(out: Path | None, inputs: tuple[str, ...], mapping: Path | None, host: str | None,
          port: int | None, auth_header: str | None, trusted_proxy: str | None,
          config_file: Path | None) -> None:
    """The billing desk: a web page for clerks over OUT's invoices.

    Find an invoice, see the PDF the customer got and every delivery, re-render one
    after a correction, send one again (to accounts payable too), read last night's
    run, check an export before the night. Prints a login link; stops on Ctrl-C (the job
    in progress finishes first). Set XOI_DESK_TOKEN to keep the link across restarts.

    \b
    Example:
        xoi-invoices serve --out output/ --input 'exports/*.csv'
        xoi-invoices serve --host 0.0.0.0 --auth-header X-Forwarded-User \\
            --trusted-proxy 10.0.0.2
    """
    try:
        from ..desk import serve as serve_desk
    except ImportError as error:
        if error.name is None or error.name.split(".")[0] not in (
                "starlette", "uvicorn", "multipart", "python_multipart", "itsdangerous"):
            raise
        raise click.ClickException("the desk needs its extra: pip install "
                                   "'xoi-invoices[desk]'") from None
    settings = settings_from(config_file, out=out, inputs=inputs or None, mapping=mapping,
                             host=host, port=port, auth_header=auth_header,
                             trusted_proxy=trusted_proxy)
    with errors_shown(as_json=False):
        serve_desk(settings, lambda line: click.echo(line))
