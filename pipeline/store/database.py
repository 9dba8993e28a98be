"""The ledger's file as SQLite: every statement on it goes through :class:`Database`, the one
place where SQLite's errors (a full disk, a file that is not a database, a lock held too
long) become ours, whichever stage's tables the statement reads or writes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import OutputError

Row = tuple[Any, ...]
# Keys per statement: well below SQLite's limit of bound parameters (32,766; 999 before
# SQLite 3.32).
_PER_QUERY = 500


class Database:
    """One connection to the ledger's file; each statement commits at once unless it runs
    inside :meth:`transaction`."""

    def __init__(self, path: Path, *, peek: bool = False, read_only: bool = False) -> None:
        """Open ``path``, made if missing; ``peek`` opens a file that exists only to read
        it, changing nothing (not even its journal mode); ``read_only`` too, and SQLite
        refuses every write (a process that only looks, beside a run that writes: in WAL
        mode neither waits for the other)."""
        self.path = path
        with self._ours():
            if read_only:
                self._db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                                           timeout=30)
                return
            if peek:
                self._db = sqlite3.connect(path)
                return
            # Created here, not by SQLite (always 0644): a billing group's umask 002 must
            # let the whole group run the batch. The -wal and -shm files copy this mode.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self._db.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the row ID it inserted, if any."""
        with self._ours():
            return int(self._db.execute(sql, params).lastrowid or 0)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._ours():
            self._db.executemany(sql, rows)

    def script(self, sql: str) -> None:
        with self._ours():
            self._db.executescript(sql)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self._ours():
            row: Row | None = self._db.execute(sql, params).fetchone()
            return row

    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        """The rows of a query as the caller reads them, never all held at once."""
        with self._ours():
            yield from self._db.execute(sql, params)

    def where_in(self, query: str, keys: Sequence[str]) -> Iterator[Row]:
        """The rows of ``query``, which ends in ``IN``, for ``keys``: one statement per
        :data:`_PER_QUERY` of them."""
        for start in range(0, len(keys), _PER_QUERY):
            part = keys[start:start + _PER_QUERY]
            yield from self.rows(f"{query} ({', '.join('?' * len(part))})", part)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """The statements run inside, committed together or not at all. Taken for writing
        from the start (``BEGIN IMMEDIATE``): another writer that came first is waited for,
        instead of failing this transaction when it reads, then writes."""
        with self._ours(), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield

    @contextlib.contextmanager
    def _ours(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            raise OutputError(f"the ledger cannot be used: {error}. Keep this file (it holds "
                              "the published share IDs): free disk space or restore it from "
                              "a backup", source=self.path) from None
