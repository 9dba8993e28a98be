"""xoi-invoices: confirmed FSM work orders in, invoice PDFs with the XOi share link out.

The stages, one module each, in the order the data flows::

    read.py      files → raw records with line numbers
    validate.py  raw record → WorkOrder (or a Problem naming file, line, field)
    inputs.py    both over every input file: confirmed, unconfirmed, problems
    share.py     WorkOrder → share ID and share URL (immutable, unique)
    render.py    Invoice → PDF bytes (Jinja2 + WeasyPrint), workers.py runs it in parallel;
                 layout.py sizes the QR code, the printed URL and the table columns
    write.py     atomic files with safe names;  history.py keeps re-issued PDFs
    record.py    manifest.csv and report.json;  ledger.py remembers what was issued

``batch.run`` ties them together; ``cli.py`` is a thin layer over it.
"""

from .batch import check_all, run
from .config import DEFAULTS, Company, Settings, resolve
from .errors import (
    ConfigError,
    InputError,
    LockedError,
    RecordError,
    RenderError,
    ShareLinkError,
    TicketError,
    XoiError,
)
from .inputs import check
from .models import Invoice, LineItem, Outcome, Problem, Rendered, WorkOrder

__all__ = [
    "DEFAULTS", "Company", "ConfigError", "InputError", "Invoice", "LineItem", "LockedError",
    "Outcome", "Problem", "RecordError", "RenderError", "Rendered", "Settings",
    "ShareLinkError", "TicketError", "WorkOrder", "XoiError", "check", "check_all", "resolve",
    "run",
]
