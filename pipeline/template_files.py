"""What shapes a PDF besides the work order: the built-in templates (package data
``pipeline.templates``) and the render code, by name.

Kept free of heavy imports: ``validate`` and a re-run with nothing to render need this
without loading WeasyPrint (half a second).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError
from .write import make_folder

if TYPE_CHECKING:
    import jinja2

BUILT_IN = Path(str(resources.files("pipeline.templates")))
INVOICE_TEMPLATE = "invoice.html"
STYLESHEET = "invoice.css"
TEMPLATE_FILES = (INVOICE_TEMPLATE, STYLESHEET)
# Apart from TEMPLATE_FILES: they shape the emails, not the PDFs, so editing them must not
# re-render every invoice (plan.salt leaves them out).
EMAIL_TEXT = "email.txt"
EMAIL_HTML = "email.html"
EMAIL_FILES = (EMAIL_TEXT, EMAIL_HTML)
# The render stage's modules: what their code draws is part of every PDF, so an edit
# without a version bump (a development checkout) still re-renders (plan.fingerprint).
RENDER_CODE = ("render.py", "layout.py", "labels.py", "money.py", "models.py")


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


def environment(folders: list[Path]) -> jinja2.Environment:
    """The Jinja setup of every template, looked up in ``folders`` in order.

    HTML is escaped, so no work-order value becomes markup; CSS and plain text are not
    (there ``&`` would print as ``&amp;``): stylesheet values are escaped for CSS
    instead (``render.css_string``). A name a template uses but nobody passes is an
    error, not a blank on a customer's invoice.
    """
    import jinja2  # imported here: `validate` needs this module, not Jinja

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        autoescape=jinja2.select_autoescape(disabled_extensions=("css", "txt"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
