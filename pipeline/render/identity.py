"""Render identity: what shapes an invoice's PDF besides its own facts, in one place.

:func:`salt` covers the render code, the libraries that write the bytes, the templates,
the logo and the configuration: a run compares it (through
:func:`pipeline.plan.fingerprint`) with what the ledger recorded to find what changed.

The render fingerprint is what must be the same wherever an invoice is rendered.

A cluster run writes the bytes a local run writes only when every worker renders with
the same code, library versions and fonts. The fingerprint names each of them as one
item (``weasyprint`` → ``68.1``, ``font Noto Sans`` → the file fontconfig picks and its
digest), so a worker that differs is refused with the item that differs.

Fonts are looked up with ``fc-match``, the same fontconfig WeasyPrint (through Pango)
asks, honouring the worker's own ``FONTCONFIG_FILE`` and installed fonts.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from ..core import einvoice, models, money, units
from ..core.config import Settings
from ..core.template_files import BUILT_IN, EMAIL_FILES, STYLESHEET, TEMPLATE_FILES, contained
from . import labels, layout

# The modules whose code draws every PDF. The PDF module is named, not imported: it loads
# WeasyPrint (half a second), which ``validate`` and a re-run with nothing to render skip.
RENDER_CODE = (f"{__package__}.pdf", f"{__package__}.container", f"{__package__}.factur_x",
               layout.__name__, labels.__name__, money.__name__, models.__name__,
               einvoice.__name__, units.__name__)

LIBRARIES = ("xoi-invoices", "weasyprint", "pydyf", "qrcode", "babel", "factur-x", "lxml")


def library_versions() -> dict[str, str]:
    """This package and the libraries that write the PDF's bytes → their versions."""
    found = {}
    for package in LIBRARIES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def versions() -> str:
    """The versions of this package and of the libraries that write the PDF's bytes."""
    return ", ".join(f"{package} {number}" for package, number in library_versions().items())


def code_files() -> list[tuple[str, Path]]:
    """The render code and the built-in templates, each by the name it is known by: what
    shapes every PDF, whatever the configuration."""
    modules = [(name, Path(_origin(name))) for name in RENDER_CODE]
    return [*modules, *((name, BUILT_IN / name) for name in TEMPLATE_FILES)]


def _origin(name: str) -> str:
    spec = find_spec(name)
    if spec is None or spec.origin is None:  # a module renamed without this list
        raise LookupError(f"render code module {name} not found")
    return spec.origin


def salt(settings: Settings) -> str:
    """Everything besides the work order that shapes a PDF: templates, configuration, code."""
    digest = hashlib.sha256(versions().encode())
    files = code_files()
    if settings.templates is not None:
        files += [(path.name, path) for path in contained(settings.templates)
                  if path.name not in EMAIL_FILES]
    company = settings.company
    if company.logo is not None and company.logo.is_file():
        files.append((company.logo.name, company.logo))
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes())
    digest.update(repr((replace(company, logo=None), settings.locale,
                        settings.pdf_variant, settings.einvoice)).encode())
    return digest.hexdigest()



_FONT_FAMILY = re.compile(r"font-family\s*:\s*([^;}]+)")


def families(settings: Settings) -> list[str]:
    """The font families the run's stylesheet names (an override's, else the built-in)."""
    stylesheet = BUILT_IN / STYLESHEET
    if settings.templates is not None and (settings.templates / STYLESHEET).is_file():
        stylesheet = settings.templates / STYLESHEET
    names = (name.strip().strip("'\"") for match in
             _FONT_FAMILY.finditer(stylesheet.read_text(encoding="utf-8", errors="replace"))
             for name in match[1].split(","))
    return list(dict.fromkeys(name for name in names if name))


def fingerprint(font_families: Sequence[str]) -> dict[str, str]:
    """This machine's items: library versions, the render code's digest, and per family
    the font file fontconfig resolves it to."""
    items = dict(library_versions())
    code = hashlib.sha256()
    for name, path in code_files():
        code.update(name.encode() + b"\0" + path.read_bytes())
    items["render code"] = code.hexdigest()[:16]
    for family in font_families:
        items[f"font {family}"] = _font(family)
    return items


def differences(here: Mapping[str, str], there: Mapping[str, str]) -> list[str]:
    """Each item that differs, as ``item: X there, Y here``."""
    return [f"{item}: {there.get(item, 'missing')} there, {here.get(item, 'missing')} here"
            for item in dict.fromkeys([*here, *there]) if here.get(item) != there.get(item)]


def _font(family: str) -> str:
    command = shutil.which("fc-match")
    if command is None:
        return "fc-match not installed (fontconfig)"
    try:
        found = subprocess.run([command, "-f", "%{file}", family], capture_output=True,
                               text=True, timeout=30, check=True).stdout.strip()
        digest = hashlib.sha256(Path(found).read_bytes()).hexdigest()[:12]
    except (OSError, subprocess.SubprocessError) as error:
        return f"unresolved ({error})"
    return f"{found} (sha256 {digest})"
