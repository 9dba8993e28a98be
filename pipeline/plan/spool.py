"""The invoices a run is about to render, kept on disk between planning and rendering.

A run plans every invoice before the first one renders (the ``start`` event gives the
count); a million planned invoices as objects would take some 3 GB. They are pickled
into an anonymous temporary file instead, a chunk at a time, and read back as an executor
takes them (~550 bytes an invoice on disk). The file is in ``$TMPDIR`` (else ``/tmp``)
and has no name: the system removes it as it is made, so not even a killed run leaves it
behind, and the space is freed when the spool is closed.
"""

from __future__ import annotations

import contextlib
import pickle
import tempfile
from collections.abc import Collection, Iterable, Iterator
from types import TracebackType
from typing import IO

from ..core.errors import OutputError
from .changes import Planned


class Spool:
    """Planned invoices, appended, then read back once in the order they came."""

    def __init__(self) -> None:
        with _scratch():
            self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        self._count = 0
        self._chunks = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._file.close()

    def __len__(self) -> int:
        return self._count

    def add(self, items: Iterable[Planned]) -> None:
        """Append a chunk of planned invoices; pickled together, so that what every
        pickle names once (the classes) costs once per chunk, not per invoice (measured:
        a third of the time it takes to plan a million)."""
        chunk = list(items)
        if chunk:
            with _scratch():
                pickle.dump(chunk, self._file, pickle.HIGHEST_PROTOCOL)
            self._count += len(chunk)
            self._chunks += 1

    def discard(self, tickets: Collection[str]) -> None:
        """Take the invoices of ``tickets`` out: rejected after they were planned. The file
        is written anew, a chunk at a time."""
        kept = Spool()
        try:
            for chunk in self._chunked():
                kept.add(item for item in chunk if item.invoice.ticket not in tickets)
        except BaseException:
            kept._file.close()
            raise
        self._file.close()
        self._file, self._count, self._chunks = kept._file, kept._count, kept._chunks

    def __iter__(self) -> Iterator[Planned]:
        for chunk in self._chunked():
            yield from chunk

    def _chunked(self) -> Iterator[list[Planned]]:
        with _scratch():
            self._file.flush()
        self._file.seek(0)
        for _ in range(self._chunks):
            # Safe to load back: no other process can open a file that has no name.
            yield pickle.load(self._file)  # noqa: S301


@contextlib.contextmanager
def _scratch() -> Iterator[None]:
    """An error of the temporary file (most likely a full disk) as one clear line."""
    try:
        yield
    except OSError as error:
        raise OutputError(f"cannot write the temporary list of invoices to render "
                          f"($TMPDIR or /tmp): {error.strerror or error}") from None
