"""What a Dask worker needs to render a run's invoices, as one picklable value: the
settings, the bytes of the override templates and of the logo (a few KB), and this
machine's render fingerprint. It imports no Dask: :mod:`.cluster` sends it.

A worker needs no configuration file: :func:`materialise` writes the bundle's files once
into a temporary folder named by its digest.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.config import DEFAULTS, Settings, Smtp
from ..core.files import atomic_write
from ..core.template_files import contained
from .identity import families, fingerprint


@dataclass(frozen=True)
class Bundle:
    """What a worker needs to render the run's invoices."""

    settings: Settings
    templates: tuple[tuple[str, bytes], ...]  # relative path → bytes, of the override folder
    logo: bytes | None
    fingerprint: tuple[tuple[str, str], ...]
    families: tuple[str, ...]
    digest: str


def bundle(settings: Settings) -> Bundle:
    folder, logo = settings.templates, settings.company.logo
    templates = tuple((path.relative_to(folder).as_posix(), path.read_bytes())
                      for path in contained(folder)) if folder else ()
    logo_bytes = logo.read_bytes() if logo is not None else None
    used = tuple(families(settings))
    # Only what shapes a PDF travels: the secrets stay here (links are made here, mail is
    # sent from here), and what only the coordinator uses does not split the Renderers.
    settings = replace(settings, share_secret=None, smtp=Smtp(), send=False, merge=None,
                       out=DEFAULTS.out, quiet=False, log_format=DEFAULTS.log_format,
                       cluster=None, mapping=None)
    digest = hashlib.sha256(repr((settings, used)).encode())
    for name, data in templates:
        digest.update(name.encode() + b"\0" + data)
    digest.update(logo_bytes or b"")
    return Bundle(settings, templates, logo_bytes, tuple(fingerprint(used).items()), used,
                  digest.hexdigest())


def materialise(package: Bundle) -> Settings:
    """The settings with the bundle's files written here, where this worker can read them."""
    settings = package.settings
    if not package.templates and package.logo is None:
        return settings
    folder = Path(tempfile.gettempdir()) / f"xoi-invoices-{package.digest[:16]}"
    for name, data in package.templates:
        atomic_write(folder / "templates" / name, data)  # whole files for concurrent threads
    templates = folder / "templates" if package.templates else None
    company = settings.company
    if package.logo is not None and company.logo is not None:
        logo = folder / "logo" / company.logo.name  # the name tells the image type
        atomic_write(logo, package.logo)
        company = replace(company, logo=logo)
    return replace(settings, templates=templates, company=company)
