"""``python -m pipeline`` is the ``xoi-invoices`` command."""

from .cli import main

main(prog_name="xoi-invoices")
