"""What the desk holds while it serves: the settings, the folder, the job queue, the
exports, and a connection to the folder's ledger per request.

A request opens its own connection and closes it: SQLite connections belong to one
thread, Starlette answers plain handlers in a thread pool, and the ledger is WAL, so a
reader never waits for the nightly run's writes (nor for the folder's lock).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import store
from ..core.config import Settings
from ..core.text import one_line
from .exports import Exports
from .index import Index
from .jobs import Jobs
from .trail import Trail

UPLOAD_LIMIT = 64 * 2**20  # an export of ~200,000 work orders


def clerk_name(value: str) -> str:
    """A name a clerk typed or a proxy sent, as the audit trail keeps it: one line, short."""
    return one_line("".join(ch for ch in value if ch.isprintable()))[:80]


@dataclass(frozen=True, slots=True)
class Clerk:
    """Who is asking: the proxy's user, or in token mode the name given (``desk`` when
    none was)."""

    given: str
    proxied: bool = False

    @property
    def name(self) -> str:
        return self.given or "desk"


@dataclass
class Desk:
    settings: Settings
    token: str
    exports: Exports
    jobs: Jobs
    uploads: Path  # a private temporary folder for the exports clerks upload
    # The ledger file whose desk tables are made: a ledger restored from a backup, or a
    # folder started anew, is another file and gets its own.
    _ready: tuple[int, int] | None = None
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def folder(self) -> Path:
        return self.settings.out

    def prepare(self) -> None:
        """The desk's tables made (and its index filled, over a ledger written before the
        desk) before the first page: at start, where a damaged ledger is one error line."""
        with self.ledger():
            pass

    @contextlib.contextmanager
    def ledger(self) -> Iterator[store.Ledger | None]:
        """The folder's ledger for this request, its desk tables made and filled the first
        time; ``None`` while the folder has none (no run yet: nothing is created)."""
        ledger = store.open_ledger(self.folder)
        if ledger is None:
            yield None
            return
        try:
            stat = (self.folder / store.LEDGER).stat()
            if self._ready != (file := (stat.st_dev, stat.st_ino)):
                with self._guard:
                    if self._ready != file:
                        Index(ledger.db).ensure()
                        Trail(ledger.db).create()
                        self._ready = file
            yield ledger
        finally:
            ledger.close()
