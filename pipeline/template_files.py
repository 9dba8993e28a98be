"""Where the built-in templates live (package data ``pipeline.templates``) and their names.

Kept free of heavy imports: ``validate`` needs this without loading WeasyPrint.
"""

from importlib import resources
from pathlib import Path

BUILT_IN = Path(str(resources.files("pipeline.templates")))
INVOICE_TEMPLATE = "invoice.html"
STYLESHEET = "invoice.css"
TEMPLATE_FILES = (INVOICE_TEMPLATE, STYLESHEET)
