"""xoi-invoices: confirmed FSM work orders in, invoice PDFs with the XOi share link out.

One subpackage per stage, in the order the data flows (docs/architecture.md draws the
layers and what each may import)::

    read/       export files → raw records with file and line (CSV, JSON, mapping files)
    validate/   raw record → WorkOrder, or a Problem naming file, line and field
    link/       WorkOrders + what was published → Invoices (share ID, URL, invoice number)
    plan/       Invoices → what to render (new or changed) and what is unchanged
    render/     the seam: Invoices in, PDF bytes or failures out, locally or on Dask
    store/      the output folder: PDFs, ledger, history, manifest, report, merge, verify
    send/       emails the issued invoices, exactly once
    launch/     the launch pages that start each XOi activity

over ``core/`` (the vocabulary: records, errors, money, settings, field and text rules)
and under ``batch/`` (the orchestrator: :func:`run` calls the stages in that order) and
``cli/`` (the command line, a thin layer over this API).

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
