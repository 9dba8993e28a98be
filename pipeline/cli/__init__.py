"""The ``xoi-invoices`` command line: options in, library calls, errors mapped to exit
codes. One module per command family; :mod:`.options` holds what they share."""

from .app import main

__all__ = ["main"]
