"""What shapes a PDF besides the work order: the built-in templates (package data
``pipeline.templates``) and the render code, by name.

Kept free of heavy imports: ``validate`` and a re-run with nothing to render need this
without loading WeasyPrint (half a second).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ConfigError
from .files import make_folder

BUILT_IN = Path(str(resources.files("pipeline.templates")))
INVOICE_TEMPLATE = "invoice.html"
STYLESHEET = "invoice.css"
TEMPLATE_FILES = (INVOICE_TEMPLATE, STYLESHEET)
# Apart from TEMPLATE_FILES: they shape the emails, not the PDFs, so editing them must not
# re-render every invoice (render.identity.salt leaves them out).
EMAIL_TEXT = "email.txt"
EMAIL_HTML = "email.html"
EMAIL_FILES = (EMAIL_TEXT, EMAIL_HTML)


def export(folder: Path) -> list[Path]:
    """Copy the built-in templates into ``folder`` as a starting point; never overwrite."""
    make_folder(folder)
    names = (*TEMPLATE_FILES, *EMAIL_FILES)
    targets = [folder / name for name in names]
    existing = [target for target in targets if target.exists()]
    if existing:
        raise ConfigError(f"{existing[0]} already exists; move it away or export elsewhere")
    for name, target in zip(names, targets, strict=True):
        target.write_bytes((BUILT_IN / name).read_bytes())
    return targets


def contained(folder: Path) -> list[Path]:
    """The regular files of an override folder a template may use, in a stable order.

    A link whose target is outside the folder is left out: the template loader and
    WeasyPrint's fetcher refuse it, so it must neither be fingerprinted nor travel to a
    cluster worker, where it would arrive as a plain file the loader serves.
    """
    root = folder.resolve()
    return sorted(path for path in folder.rglob("*")
                  if path.is_file() and path.resolve().is_relative_to(root))
