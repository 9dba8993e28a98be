"""Where the built-in templates live (package data ``pipeline.templates``) and their names.

Kept free of heavy imports: ``validate`` needs this without loading WeasyPrint.
"""

from importlib import resources
from pathlib import Path

from .errors import ConfigError
from .write import make_folder

BUILT_IN = Path(str(resources.files("pipeline.templates")))
INVOICE_TEMPLATE = "invoice.html"
STYLESHEET = "invoice.css"
TEMPLATE_FILES = (INVOICE_TEMPLATE, STYLESHEET)


def export(folder: Path) -> list[Path]:
    """Copy the built-in templates into ``folder`` as a starting point; never overwrite."""
    make_folder(folder)
    targets = [folder / name for name in TEMPLATE_FILES]
    existing = [target for target in targets if target.exists()]
    if existing:
        raise ConfigError(f"{existing[0]} already exists; move it away or export elsewhere")
    for name, target in zip(TEMPLATE_FILES, targets, strict=True):
        target.write_bytes((BUILT_IN / name).read_bytes())
    return targets
