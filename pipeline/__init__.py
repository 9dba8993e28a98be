"""xoi-invoices: confirmed FSM work orders in, invoice PDFs with the XOi share link out.

The stages, one module each, in the order the data flows::

    read.py      files → raw records with line numbers (csv_rows.py, input_text.py)
    validate.py  raw record → WorkOrder (or a Problem naming file, line, field);
                 line_items.py checks and prices the items
    inputs.py    both over every input file: confirmed, unconfirmed, problems
    links.py     WorkOrders + what was published → Invoices (share ID, share URL, dates);
                 share.py makes share IDs and URLs; compact.py keeps what both compare
                 across tickets in a few hundred bytes a ticket
    linking.py   inputs, validate and links as one stream, a few hundred orders at a time
                 (validate and run hold no WorkOrder list, whatever the input's size)
    plan.py      Invoices → what to render (new or changed) and what is unchanged;
                 spool.py keeps what to render on disk until the executor takes it
    executor.py  the render seam: Invoices in, PDFs or failures out as they finish;
                 workers.py runs render.py (Jinja2 + WeasyPrint) in this process or a pool;
                 layout.py sizes the QR code, the printed URL and the table columns
    folder.py    the output folder: store, withdraw, manifest and report (record.py),
                 ledger.py remembers what was issued, history.py keeps re-issued PDFs,
                 write.py makes files appear whole, lock.py lets one run write
    deliver.py   emails the issued invoices (send, run --send): message.py builds each
                 message, mailer.py speaks SMTP, deliveries.py records every attempt

``batch.run`` calls them in that order; ``cli.py`` is a thin layer over it.

The rules each stage shares, one module each: tickets.py (one spelling of a ticket and
what prints alike), terminal.py (any text made harmless for a terminal or a JSON file),
sandbox.py (templates in Jinja's sandbox, read only from inside their folder),
folder_entries.py (the folder's own files, never a link out of it), toml_file.py (the
configuration and mapping files), suggest.py (the close match a typo gets).

Importing the package loads none of them: ``xoi-invoices`` must be able to handle Ctrl-C
before the heavy ones (WeasyPrint, Babel) load, and each name below loads its module
when it is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .batch import check_all, run
    from .core.config import DEFAULTS, Company, Settings, resolve
    from .core.errors import (
        ConfigError,
        InputError,
        LockedError,
        RecordError,
        RenderError,
        ShareLinkError,
        TicketError,
        XoiError,
    )
    from .core.models import Delivered, Invoice, LineItem, Outcome, Problem, Rendered, WorkOrder
    from .validate import check

__all__ = [
    "DEFAULTS", "Company", "ConfigError", "Delivered", "InputError", "Invoice", "LineItem",
    "LockedError", "Outcome", "Problem", "RecordError", "RenderError", "Rendered", "Settings",
    "ShareLinkError", "TicketError", "WorkOrder", "XoiError", "check", "check_all", "resolve",
    "run",
]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import batch, validate
    from .core import config, errors, models

    # Where each name is defined comes before the modules that import it.
    value = next(getattr(module, name) for module in (errors, models, config, validate, batch)
                 if hasattr(module, name))
    globals()[name] = value  # once: the next use is a plain look-up
    return value
