"""The render fingerprint: what must be the same wherever an invoice is rendered.

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
from pathlib import Path

from .config import Settings
from .plan import code_files, library_versions
from .template_files import BUILT_IN, STYLESHEET

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
    for path in code_files():
        code.update(path.name.encode() + b"\0" + path.read_bytes())
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
