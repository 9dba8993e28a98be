"""Built-in invoice templates, shipped as package data (``pipeline.templates``).

``xoi-invoices templates export DIR`` copies them; ``--templates DIR`` overrides them
one file at a time. This module stays free of heavy imports: ``validate`` needs to know
where templates live without loading WeasyPrint.
"""

from importlib import resources
from pathlib import Path

BUILT_IN = Path(str(resources.files(__name__)))
INVOICE_TEMPLATE = "invoice.html"
STYLESHEET = "invoice.css"
TEMPLATE_FILES = (INVOICE_TEMPLATE, STYLESHEET)
