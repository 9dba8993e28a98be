"""CSV exports into records: one per ticket, its rows gathered from wherever they are.

A ticket's rows need not be adjacent, so no record is complete before the file's last row
is read. Rows are gathered in memory up to :data:`IN_MEMORY_BYTES`; beyond that every row
goes to a temporary SQLite file that groups them on disk, so memory stays flat whatever
the file's size. Either way the records come out in the order of their first rows.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import itertools
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InputError, OutputError
from ..core.fields import REQUIRED_COLUMNS, field_name
from ..core.models import Problem, RawRecord
from ..core.tickets import canonical
from .text import OURS, Shape, lines, not_utf8

if TYPE_CHECKING:
    from _csv import Reader

# Above this estimate of what the rows read so far take in memory, they move to disk.
# 100,000 typical rows (a 24 MB export) stay in memory: grouping them through SQLite
# would add a tenth to ``validate``'s time.
IN_MEMORY_BYTES = 192 * 1024 * 1024
_CELL_BYTES = 64  # a short str and its slot in the row's list, beyond its characters
# csv's default cell limit (128 KiB) would make one oversized cell fail the whole file;
# validation rejects that record alone (no field may exceed 4,000 characters).
_FIELD_LIMIT = 1 << 30
# What the index holds in memory; SQLite writes the rest to its file.
INDEX_CACHE_KIB = 32 * 1024


# A row as read: (seq, group, line, problem, cells). seq: its position among the file's
# records; group: its ticket, or its own seq when it has none; problem: why it cannot be
# read (it takes its ticket with it), its cells empty then. A plain tuple, not a class:
# rows are made and pickled by the million.
_Row = tuple[int, str | int, int, str | None, list[str]]


def read_csv(path: Path, shape: Shape = OURS) -> Iterator[RawRecord | Problem]:
    """Yield the records of one CSV file in file order (tickets at their first row).

    The whole file is read before the first record: only then is any ticket complete,
    and an unreadable file raises :class:`InputError` before any record.
    """
    source = str(path)
    with contextlib.ExitStack() as stack:
        # Set only while this generator reads the file, which it does without yielding:
        # no caller's code ever runs under our limit.
        limit = csv.field_size_limit(_FIELD_LIMIT)
        try:
            names, groups = _read(path, stack, shape)
        finally:
            csv.field_size_limit(limit)
        for group in groups:
            yield _record(group, names, source)


def _read(path: Path, stack: contextlib.ExitStack,
          shape: Shape) -> tuple[list[str], Iterable[list[_Row]]]:
    source = str(path)
    reader = csv.reader(lines(path, shape.encoding), strict=True, delimiter=shape.delimiter)
    try:
        names = _header(next(reader, None), shape)
        rows = _rows(reader, names, field_name(shape.ticket))
        held: dict[str | int, list[_Row]] = {}
        size = 0
        for row in rows:
            held.setdefault(row[1], []).append(row)
            cells = row[4]
            size += _CELL_BYTES * len(cells) + sum(map(len, cells))
            if size > IN_MEMORY_BYTES:
                index = stack.enter_context(_Index(path))
                index.add(itertools.chain.from_iterable(held.values()))
                held.clear()
                index.add(rows)
                return names, index.groups()
        return names, _taken(held)
    except csv.Error as error:
        # "Not UTF-8" comes first wherever its byte is, as when the whole file was decoded
        # before parsing.
        raise not_utf8(path, shape.encoding) or InputError(
            f"malformed CSV: {error}", source=source, line=reader.line_num) from None
    except _HeaderError as error:
        raise not_utf8(path, shape.encoding) or InputError(str(error), source=source,
                                                           line=1) from None


def _taken(held: dict[str | int, list[_Row]]) -> Iterator[list[_Row]]:
    """The groups, each let go of as it is taken: its rows do not outlive its record."""
    groups = collections.deque(held.values())
    held.clear()
    while groups:
        yield groups.popleft()


class _HeaderError(Exception):
    """A header that makes the file unreadable; reported unless the file is not UTF-8."""


def _header(header: list[str] | None, shape: Shape) -> list[str]:
    if header is None or not any(cell.strip() for cell in header):
        raise _HeaderError("empty file: no header row")
    names = [field_name(cell) for cell in header]
    duplicated = sorted({name for name in names if name and names.count(name) > 1})
    if duplicated:
        raise _HeaderError(f"column {duplicated[0]!r} appears twice")
    if shape.header is not None:
        wrong = shape.header(header)
        if wrong:
            raise _HeaderError(wrong)
        return names
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        raise _HeaderError(f"missing required column {', '.join(missing)}")
    return names


def _rows(reader: Reader, names: list[str], ticket: str) -> Iterator[_Row]:
    width = len(names)
    ticket_column = names.index(ticket)
    line = 1
    for seq, cells in enumerate(reader):
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        ticket = ""
        if ticket_column < len(cells):
            # Its one spelling from here on: rows grouped, checked and invoiced by it.
            ticket = cells[ticket_column] = canonical(cells[ticket_column])
        if len(cells) > width:
            yield (seq, ticket or seq, start,
                   f"row has {len(cells)} cells, the header has {width}"
                   + ("; none of the ticket's rows is invoiced" if ticket else ""), [])
            continue
        # Trailing cells an exporter left off are blank, not missing.
        cells += [""] * (width - len(cells))
        yield seq, ticket or seq, start, None, cells


def _record(group: list[_Row], names: list[str], source: str) -> RawRecord | Problem:
    # Invoicing the other rows of a ticket with a row that cannot be read would leave a
    # line item off the invoice and bill too little, so the whole ticket is rejected.
    for _, key, line, problem, _ in group:
        if problem is not None:
            return Problem(source, line, key if isinstance(key, str) else None, problem)
    return RawRecord(source, group[0][2],
                     tuple((line, dict(zip(names, cells, strict=True)))
                           for _, _, line, _, cells in group), from_csv=True)


class _Index:
    """Rows in a temporary SQLite file, read back by ticket in the order of first rows.

    SQLite's private temporary database ("" as its name): a file in ``$SQLITE_TMPDIR``,
    ``$TMPDIR`` or ``/var/tmp`` that SQLite deletes as it creates it, so that not even a
    killed process leaves it behind; the space is freed when the index is closed.
    """

    def __init__(self, source: Path) -> None:
        self.source = source

    def __enter__(self) -> _Index:
        with _scratch(self.source):
            self.db = sqlite3.connect("", isolation_level=None)
        try:
            with _scratch(self.source):
                # Nothing to recover after a crash, so no journal and no fsync.
                self.db.executescript(f"""
                    PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
                    PRAGMA cache_size = -{INDEX_CACHE_KIB};
                    CREATE TABLE rows (seq INTEGER PRIMARY KEY, grp, row BLOB NOT NULL);
                """)
                self.db.execute("BEGIN")
        except BaseException:
            self.db.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.db.close()

    def add(self, rows: Iterable[_Row]) -> None:
        # grp has no column type, so a ticket (text) never equals a seq (integer). Rows
        # are pickled, in half the time JSON takes both ways; safe to load back, as no
        # other process can open a file deleted before it was written.
        with _scratch(self.source):
            self.db.executemany("INSERT INTO rows VALUES (?, ?, ?)",
                                ((row[0], row[1], pickle.dumps(row)) for row in rows))

    def groups(self) -> Iterator[list[_Row]]:
        with _scratch(self.source):
            self.db.execute("COMMIT")
            self.db.executescript("""
                CREATE INDEX by_group ON rows (grp, seq);
                CREATE TABLE firsts (seq INTEGER PRIMARY KEY, grp);
                INSERT INTO firsts SELECT min(seq), grp FROM rows GROUP BY grp;
            """)
            # Walks firsts in order and each group through the index: no sort of the rows.
            cursor = self.db.execute(
                "SELECT firsts.seq, rows.row "
                "FROM firsts JOIN rows ON rows.grp = firsts.grp "
                "ORDER BY firsts.seq, rows.seq")
            for _, group in itertools.groupby(cursor, itemgetter(0)):
                yield [pickle.loads(row) for _, row in group]  # noqa: S301


@contextlib.contextmanager
def _scratch(source: Path) -> Iterator[None]:
    """A temporary file that cannot be written (a full disk) is the command's error."""
    try:
        yield
    except sqlite3.Error as error:
        raise OutputError(f"cannot write the temporary index of this large file's rows "
                          f"($SQLITE_TMPDIR, $TMPDIR or /var/tmp): {error}",
                          source=source) from None
