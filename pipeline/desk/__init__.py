"""The billing desk: a web page for clerks over one output folder (``xoi-invoices serve``).

It finds invoices, shows the one the customer got (PDF, versions, deliveries, audit
trail), re-renders one after a correction, sends one again, shows the last night's run,
checks an export and prints a selection: a desk over the ledger and the library calls the
command line makes (:mod:`pipeline.batch`, :mod:`pipeline.send`, :mod:`pipeline.store`),
never an invoice editor. It sits at the command line's level: the CLI's ``serve`` calls
:func:`serve`, and nothing below imports the desk.

- :func:`serve` listens and answers until SIGINT/SIGTERM;
- :func:`check_host` refuses a host beyond this machine without an authenticating proxy.

Needs the ``desk`` extra (Starlette, uvicorn, python-multipart, itsdangerous).
"""

from .server import check_host, serve

__all__ = ["check_host", "serve"]
