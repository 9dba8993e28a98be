"""The company logo (``[company] logo``), checked when the configuration is read: every
invoice carries it, so a file that cannot be one stops the command before it starts."""

from __future__ import annotations

import mimetypes
import warnings
from pathlib import Path

from . import toml_file
from .errors import ConfigError

# Inlined into every PDF: a few hundred kilobytes make a sharp logo; beyond these, a
# photograph or a mistake, and every invoice would carry it.
MOST_BYTES = 5_000_000
MOST_PIXELS = 25_000_000


def check(path: Path) -> None:
    """A :class:`ConfigError` naming ``path`` and what is wrong with it, unless it is a
    file that can be a logo."""

    def fail(message: str) -> ConfigError:
        return ConfigError(f"[company] logo: {message}", source=path)

    problem = toml_file.file_problem(path)
    if problem:
        raise fail(problem)
    size = path.stat().st_size
    if size > MOST_BYTES:
        raise fail(f"{size / 1e6:,.1f} MB is too large for a logo (at most "
                   f"{MOST_BYTES / 1e6:,.0f} MB)")
    if mimetypes.guess_type(path.name)[0] in ("image/png", "image/jpeg"):
        pixels = _too_many_pixels(path)
        if pixels:
            raise fail(f"{pixels} is too large for a logo (at most "
                       f"{MOST_PIXELS / 1e6:,.0f} megapixels)")


def _too_many_pixels(path: Path) -> str | None:
    """The image's size when it has too many pixels, read from its header; else None,
    also when Pillow cannot read it (:func:`pipeline.render.pdf.data_uri` says why)."""
    # Imported here: only a configuration with a logo needs Pillow this early.
    from PIL import Image

    with warnings.catch_warnings():
        # Pillow would warn of a large image on stderr; the size is judged here instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Image.DecompressionBombError:  # more than twice Pillow's own limit
            return f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:,.0f} megapixels"
        except Exception:  # Pillow raises many kinds for a broken file
            return None
    return f"{width:,} x {height:,} pixels" if width * height > MOST_PIXELS else None
