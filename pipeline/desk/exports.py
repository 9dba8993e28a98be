"""The exports a clerk re-renders from: those the desk is configured with (``--input``,
TOML ``inputs``: files or globs), the newest holding a ticket first; and those a clerk
uploads, kept in the desk's private temporary folder under a name made safe.
"""

from __future__ import annotations

import glob
import hashlib
import re
import secrets
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ..core.config import Settings
from ..core.errors import ConfigError, InputError
from ..core.models import RawRecord
from ..read import SUFFIXES, load_mapping, read_file, read_mapped
from ..validate import canonical_ticket

# Tickets remembered across the exports (a month of nightly files, each read once per
# version): ~60 bytes each, as 64-bit digests in sets; past this the oldest file goes.
TICKETS_KEPT = 2_000_000


@dataclass(frozen=True, slots=True)
class Export:
    path: Path
    shown: str  # its name as the clerk knows it
    modified: str  # UTC, to the minute


class Exports:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tickets: OrderedDict[tuple[str, int, int], frozenset[int]] = OrderedDict()
        self._guard = threading.Lock()

    def files(self) -> list[Path]:
        """The configured exports that exist now, newest first."""
        found: dict[Path, float] = {}
        for pattern in self.settings.inputs:
            # glob.glob, not Path.glob: a pattern may be absolute ("/srv/exports/*.csv").
            for name in glob.glob(pattern):  # noqa: PTH207
                path = Path(name)
                if path.suffix.lower() in SUFFIXES and path.is_file():
                    found[path] = path.stat().st_mtime
        return sorted(found, key=lambda path: found[path], reverse=True)

    def holding(self, ticket: str) -> Export | None:
        """The newest configured export that holds ``ticket``, or ``None``."""
        key = _digest(ticket)
        for path in self.files():
            if key in self._tickets_of(path):
                return export(path, str(path))
        return None

    def _tickets_of(self, path: Path) -> frozenset[int]:
        stat = path.stat()
        version = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._guard:
            if version in self._tickets:
                self._tickets.move_to_end(version)
                return self._tickets[version]
        tickets = frozenset(_tickets(path, self.settings))
        with self._guard:
            self._tickets[version] = tickets
            while sum(map(len, self._tickets.values())) > TICKETS_KEPT and \
                    len(self._tickets) > 1:
                self._tickets.popitem(last=False)
        return tickets


def export(path: Path, shown: str) -> Export:
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return Export(path, shown, modified.strftime("%Y-%m-%d %H:%M UTC"))


def _digest(ticket: str) -> int:
    """A ticket as a validated export spells it, as 64 bits: a million of them in a set
    take a tenth of the memory of the text. Two tickets sharing one would only make the
    desk propose an export that does not hold the ticket, which the re-render then says."""
    try:
        key = canonical_ticket(ticket)
    except ConfigError:  # no valid ticket: nothing a re-render could find
        key = ""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def _tickets(path: Path, settings: Settings) -> set[int]:
    """Every ticket the export names; one that cannot be read names none."""
    try:
        records = read_mapped(path, load_mapping(settings.mapping)) if settings.mapping \
            else read_file(path)
        return {_digest(str(record.rows[0][1].get("service_ticket") or ""))
                for record in records if isinstance(record, RawRecord)}
    except (InputError, OSError):
        return set()


def save_upload(stream: BinaryIO, filename: str | None, folder: Path) -> Export:
    """Keep an uploaded export in ``folder`` (the desk's own temporary folder) under its
    name made safe, in a folder of its own; :class:`InputError` when it is not a kind of
    file ``run`` reads."""
    name = Path((filename or "").replace("\\", "/")).name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        *most, last = SUFFIXES
        raise InputError(f"is not an export: upload a {', '.join(most)} or {last} file",
                         source=name[:80] or "the upload")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:60].strip("._") or "export"
    place = folder / secrets.token_hex(8)
    place.mkdir(mode=0o700)
    path = place / f"{safe}{suffix}"
    with path.open("xb") as target:
        shutil.copyfileobj(stream, target)
    return export(path, path.name)


def discard(saved: Export) -> None:
    shutil.rmtree(saved.path.parent, ignore_errors=True)
