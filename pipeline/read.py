"""Read work-order exports (CSV, JSON, JSON Lines) into raw records with their line numbers.

Reading checks only what makes a file unreadable as a whole (:class:`InputError`: not
UTF-8, broken JSON, a missing required column). Everything about a single record is the
validator's business, so one bad row never costs the good ones.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import InputError
from .models import Problem, RawRecord

REQUIRED_COLUMNS = ("service_ticket", "customer", "location", "confirmed")
# csv's default cell limit (128 KiB) would make one oversized cell fail the whole file;
# validation rejects that record alone (no field may exceed 4,000 characters).
csv.field_size_limit(1 << 30)
SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# Integers too: Decimal has no digit limit, while int() refuses more than 4,300 digits
# with a ValueError that no "broken JSON" handler expects.
_decoder = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal,
                            object_pairs_hook=lambda pairs: _object(pairs))
# Field names that one object gave twice (``Confirmed`` and ``confirmed``), since the
# last decode started: Python's json would silently keep the last.
_twice: list[str] = []
_WHITESPACE = " \t\r\n"


def field_name(key: object) -> str:
    """Field names are case-insensitive and surrounding spaces do not count."""
    return str(key).strip().lower()


def read_text(path: Path) -> str:
    """The file's text: UTF-8, with or without a BOM."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", source=path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            f"not UTF-8 (byte 0x{data[error.start]:02x}); export the file as UTF-8",
            source=path,
            line=line,
        ) from None


def read_file(path: Path) -> Iterator[RawRecord | Problem]:
    """Yield the records of one file in file order (CSV tickets at their first row)."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            "unsupported file type; use .csv, .json, .jsonl or .ndjson", source=path
        )
    text = read_text(path)
    if kind == "csv":
        return _read_csv(text, str(path))
    if kind == "json":
        return _read_json(text, str(path))
    return _read_jsonl(text, str(path))


def _read_csv(text: str, source: str) -> Iterator[RawRecord | Problem]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise InputError("empty file: no header row", source=source, line=1)
        names = [field_name(cell) for cell in header]
        duplicated = sorted({name for name in names if name and names.count(name) > 1})
        if duplicated:
            raise InputError(f"column {duplicated[0]!r} appears twice", source=source, line=1)
        missing = [column for column in REQUIRED_COLUMNS if column not in names]
        if missing:
            raise InputError(
                f"missing required column {', '.join(missing)}", source=source, line=1
            )
        tickets: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        # Tickets with a row that cannot be read: issuing the rest would leave a line
        # item off the invoice and bill too little, so the whole ticket is rejected.
        broken: dict[str, Problem] = {}
        order: list[RawRecord | Problem | str] = []
        line = 1
        ticket_column = names.index("service_ticket")
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(names):
                ticket = cells[ticket_column].strip()
                problem = Problem(source, start, ticket or None,
                                  f"row has {len(cells)} cells, the header has {len(names)}"
                                  + ("; none of the ticket's rows is invoiced" if ticket
                                     else ""))
                if not ticket:
                    order.append(problem)
                    continue
                broken.setdefault(ticket, problem)
                row: dict[str, Any] = {}
            else:
                # Trailing cells an exporter left off are blank, not missing.
                row = dict(zip(names, cells + [""] * (len(names) - len(cells)), strict=True))
                ticket = row["service_ticket"].strip()
            if not ticket:
                order.append(RawRecord(source, start, ((start, row),), from_csv=True))
            elif ticket in tickets:
                tickets[ticket].append((start, row))
            else:
                tickets[ticket] = [(start, row)]
                order.append(ticket)
    except csv.Error as error:
        raise InputError(f"malformed CSV: {error}", source=source, line=reader.line_num) from None
    return _in_order(order, tickets, broken, source)


def _in_order(
    order: list[RawRecord | Problem | str],
    tickets: dict[str, list[tuple[int, dict[str, Any]]]],
    broken: dict[str, Problem],
    source: str,
) -> Iterator[RawRecord | Problem]:
    for item in order:
        if isinstance(item, str):
            rows = tickets[item]
            yield broken.get(item) or RawRecord(source, rows[0][0], tuple(rows), from_csv=True)
        else:
            yield item


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with the field names as the reader knows them; notes repeats."""
    fields: dict[str, Any] = {}
    for key, value in pairs:
        name = field_name(key)
        if name in fields:
            _twice.append(name)
        fields[name] = value
    return fields


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def _decode(text: str, index: int, source: str) -> tuple[Any, int]:
    try:
        return _decoder.raw_decode(text, index)
    except json.JSONDecodeError as error:
        raise InputError(f"broken JSON: {error.msg}", source=source, line=error.lineno) from None
    except RecursionError:
        line = text.count("\n", 0, index) + 1
        raise InputError("broken JSON: nested too deeply", source=source, line=line) from None


def _expect(text: str, index: int, char: str, source: str) -> int:
    index = _skip(text, index)
    if index >= len(text) or text[index] != char:
        line = text.count("\n", 0, index) + 1
        found = repr(text[index]) if index < len(text) else "end of file"
        raise InputError(f"broken JSON: expected {char!r}, found {found}", source=source,
                         line=line)
    return index + 1


def _array_start(text: str, source: str) -> int:
    """Index just past the ``[`` of the work-order list, in either document shape."""
    index = _skip(text, 0)
    if text.startswith("[", index):
        return index + 1
    if index == len(text):  # clearer than the decoder's "Expecting value"
        raise InputError("empty file: expected a list of work orders", source=source,
                         line=text.count("\n") + 1)
    shape_error = InputError(
        'expected a list of work orders or an object {"work_orders": [...]}',
        source=source, line=text.count("\n", 0, index) + 1,
    )
    if not text.startswith("{", index):
        _decode(text, index, source)  # reports broken JSON before the shape
        raise shape_error
    index += 1
    while True:
        index = _skip(text, index)
        if text.startswith("}", index):
            raise shape_error
        key, index = _decode(text, index, source)
        index = _skip(text, _expect(text, index, ":", source))
        if isinstance(key, str) and field_name(key) == "work_orders":
            if not text.startswith("[", index):
                raise shape_error
            return index + 1
        _, index = _decode(text, index, source)
        index = _skip(text, index)
        if text.startswith(",", index):
            index += 1


def _read_json(text: str, source: str) -> Iterator[RawRecord | Problem]:
    records: list[RawRecord | Problem] = []
    index = _array_start(text, source)
    line, counted = 1, 0
    while True:
        index = _skip(text, index)
        if text.startswith("]", index):
            break
        line += text.count("\n", counted, index)
        counted = index
        _twice.clear()
        value, index = _decode(text, index, source)
        records.append(_json_record(value, source, line))
        index = _skip(text, index)
        if text.startswith(",", index):
            index += 1
        elif not text.startswith("]", index):
            _expect(text, index, "]", source)
    # The rest of the document must still be valid JSON (the closing brace of the object).
    try:
        _decoder.decode(text)
    except json.JSONDecodeError as error:
        raise InputError(f"broken JSON: {error.msg}", source=source, line=error.lineno) from None
    except RecursionError:
        # Only what follows the list is left unchecked: a deeply nested value after it.
        line = text.count("\n", 0, index) + 1
        raise InputError("broken JSON: nested too deeply", source=source, line=line) from None
    return iter(records)


def _json_record(value: Any, source: str, line: int) -> RawRecord | Problem:
    if not isinstance(value, dict):
        return Problem(source, line, None,
                       f"a work order must be an object {{...}}, not {_json_kind(value)}")
    broken = _lone_surrogate(value)
    if broken:
        # Not text: it could not even be written to the report or a terminal.
        ticket = value.get("service_ticket")
        return Problem(source, line, ticket if broken != "service_ticket" and
                       isinstance(ticket, str) else None,
                       f"{broken}: holds half a character (an unpaired \\ud800-\\udfff "
                       "escape)")
    if _twice:
        ticket = value.get("service_ticket")
        return Problem(source, line, ticket.strip() or None if isinstance(ticket, str) else None,
                       "; ".join(f"{name}: given twice in one object (names ignore letter "
                                 "case and spaces); which one is meant?"
                                 for name in dict.fromkeys(_twice)))
    return RawRecord(source, line, ((line, value),))


def utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: not so with a lone surrogate, which a JSON
    ``\\ud800`` escape or an undecodable command-line byte leaves in a Python string."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lone_surrogate(record: dict[str, Any]) -> str | None:
    """The first field holding an unpaired surrogate, which only a ``\\u`` escape makes."""
    def broken(value: Any) -> bool:
        if isinstance(value, str):
            return not value.isascii() and not utf8(value)
        if isinstance(value, dict):
            return any(broken(key) or broken(item) for key, item in value.items())
        return isinstance(value, list) and any(broken(item) for item in value)

    return next((key for key, value in record.items() if broken(key) or broken(value)), None)


def _json_kind(value: Any) -> str:
    """What a JSON value is, in the words of JSON (the reader holds numbers as Decimal)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    kinds = ((list, "a list"), (str, "a string"), (int | Decimal, "a number"))
    return next(kind for types, kind in kinds if isinstance(value, types))


def _read_jsonl(text: str, source: str) -> Iterator[RawRecord | Problem]:
    # Not str.splitlines(): it also breaks at U+2028, U+2029 and U+0085, which JSON allows
    # raw inside strings, so one valid record would become two broken ones.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        _twice.clear()
        try:
            value = _decoder.decode(raw)
        except json.JSONDecodeError as error:
            yield Problem(source, number, None, f"broken JSON: {error.msg}")
            continue
        except RecursionError:
            yield Problem(source, number, None, "broken JSON: nested too deeply")
            continue
        yield _json_record(value, source, number)
