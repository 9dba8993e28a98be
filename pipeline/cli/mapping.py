"""``xoi-invoices mapping``: mapping files for exports not written in our format."""

from __future__ import annotations

from pathlib import Path

import click

from ..read import draft as draft_text
from .options import maps_errors


@click.group()
def mapping() -> None:
    """Mapping files: read an export whose columns, formats or shape differ from ours.

    \b
    Example:
        xoi-invoices mapping draft exports/invoices.csv > our-fsm.toml
        xoi-invoices validate exports/invoices.csv --mapping our-fsm.toml
    """


@mapping.command()
@click.argument("export", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@maps_errors
def draft(export: Path) -> None:
    """Print a starting mapping for the export FILE (CSV, JSON, JSON Lines).

    Columns or JSON paths that obviously name one of our fields are filled in; the rest
    are comments to complete. Save it, edit it, then pass it as --mapping FILE.toml.

    \b
    Example:
        xoi-invoices mapping draft exports/invoices.csv > our-fsm.toml
    """
    click.echo(draft_text(export), nl=False)
