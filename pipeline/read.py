"""Read work-order exports (CSV, JSON, JSON Lines) into raw records with their line numbers.

Reading checks only what makes a file unreadable as a whole (:class:`InputError`: not
UTF-8, broken JSON, a missing required column). Everything about a single record is the
validator's business, so one bad row never costs the good ones.

CSV and JSON Lines are read as streams, in bounded memory whatever the file's size (see
:mod:`csv_rows`); a JSON document is held as text, as its records are yielded one by one.
A CSV file's errors come before its first record; a JSON or JSON Lines file's only when
reading reaches them, after the records before them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from .csv_rows import read_csv
from .errors import InputError
from .input_text import OURS, Shape, field_name, lines
from .models import Problem, RawRecord

SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_WHITESPACE = " \t\r\n"


def read_file(path: Path, shape: Shape = OURS) -> Iterator[RawRecord | Problem]:
    """Yield the records of one file in file order (CSV tickets at their first row);
    ``shape``: how a mapping says the file is written, if not as ours."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            "unsupported file type; use .csv, .json, .jsonl or .ndjson", source=path
        )
    if kind == "csv":
        return read_csv(path, shape)
    if kind == "json":
        return _read_json(path, shape)
    return _read_jsonl(path, shape)


class _Decoder:
    """The JSON decoder of one file, with the field names as the reader knows them."""

    def __init__(self, source: str) -> None:
        self.source = source
        # Field names that one object gave twice (``Confirmed`` and ``confirmed``) since
        # the caller last cleared it: Python's json would silently keep the last.
        self.twice: list[str] = []
        # Integers too: Decimal has no digit limit, while int() refuses more than 4,300
        # digits with a ValueError that no "broken JSON" handler expects.
        self.json = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal,
                                     object_pairs_hook=self._object)

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key, value in pairs:
            name = field_name(key)
            if name in fields:
                self.twice.append(name)
            fields[name] = value
        return fields

    def value(self, text: str, index: int) -> tuple[Any, int]:
        """The JSON value at ``index`` and the index after it; broken JSON raises."""
        try:
            return self.json.raw_decode(text, index)
        except json.JSONDecodeError as error:
            raise InputError(f"broken JSON: {error.msg}", source=self.source,
                             line=error.lineno) from None
        except RecursionError:
            line = text.count("\n", 0, index) + 1
            raise InputError("broken JSON: nested too deeply", source=self.source,
                             line=line) from None


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def _expect(text: str, index: int, char: str, source: str) -> int:
    index = _skip(text, index)
    if index >= len(text) or text[index] != char:
        line = text.count("\n", 0, index) + 1
        found = repr(text[index]) if index < len(text) else "end of file"
        raise InputError(f"broken JSON: expected {char!r}, found {found}", source=source,
                         line=line)
    return index + 1


def _array_start(text: str, decoder: _Decoder, records: tuple[str, ...] | None) -> int:
    """Index just past the ``[`` of the work-order list: in either of our document shapes,
    or at the mapping's path ``records`` (keys of nested objects)."""
    source = decoder.source
    index = _skip(text, 0)
    if records is None and text.startswith("[", index):
        return index + 1
    if index == len(text):  # clearer than the decoder's "Expecting value"
        raise InputError("empty file: expected a list of work orders", source=source,
                         line=text.count("\n") + 1)
    expected = 'a list of work orders or an object {"work_orders": [...]}' \
        if records is None else \
        f"the list of work orders at {'.'.join(records)!r} ([json] records in the mapping)"
    path = records or ("work_orders",)
    for depth, step in enumerate(path):
        shape_error = InputError(f"expected {expected}", source=source,
                                 line=text.count("\n", 0, index) + 1)
        if not text.startswith("{", index):
            decoder.value(text, index)  # reports broken JSON before the shape
            raise shape_error
        index = _key(text, index + 1, decoder, step, shape_error)
        if depth == len(path) - 1:
            if not text.startswith("[", index):
                raise shape_error
            return index + 1
    raise AssertionError("a path has at least one step")


def _key(text: str, index: int, decoder: _Decoder, name: str, missing: InputError) -> int:
    """Index of the value of key ``name`` in the object whose members start at ``index``."""
    while True:
        index = _skip(text, index)
        if text.startswith("}", index):
            raise missing
        key, index = decoder.value(text, index)
        index = _skip(text, _expect(text, index, ":", decoder.source))
        if isinstance(key, str) and field_name(key) == name:
            return index
        _, index = decoder.value(text, index)
        index = _skip(text, index)
        if text.startswith(",", index):
            index += 1


def _read_json(path: Path, shape: Shape) -> Iterator[RawRecord | Problem]:
    source = str(path)
    text = "".join(lines(path, shape.encoding))
    decoder = _Decoder(source)
    start = _array_start(text, decoder, shape.records)
    index = _skip(text, start)
    line, counted = 1, 0
    while not text.startswith("]", index):
        line += text.count("\n", counted, index)
        counted = index
        decoder.twice.clear()
        value, index = decoder.value(text, index)
        yield _json_record(value, source, line, decoder.twice)
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
            if text.startswith("]", index):  # a trailing comma: the decoder's own error
                decoder.value(text, index)
        elif not text.startswith("]", index):
            _expect(text, index, "]", source)
    # The rest of the document must still be valid JSON (the closing brace of the object).
    # The list, checked above, is left out, its line ends kept for the error's line.
    try:
        decoder.json.decode(text[:start] + "\n" * text.count("\n", start, index)
                            + text[index:])
    except json.JSONDecodeError as error:
        raise InputError(f"broken JSON: {error.msg}", source=source, line=error.lineno) from None
    except RecursionError:
        # Only what follows the list is left unchecked: a deeply nested value after it.
        line = text.count("\n", 0, index) + 1
        raise InputError("broken JSON: nested too deeply", source=source, line=line) from None


def _json_record(value: Any, source: str, line: int, twice: list[str]) -> RawRecord | Problem:
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
    if twice:
        ticket = value.get("service_ticket")
        return Problem(source, line, ticket.strip() or None if isinstance(ticket, str) else None,
                       "; ".join(f"{name}: given twice in one object (names ignore letter "
                                 "case and spaces); which one is meant?"
                                 for name in dict.fromkeys(twice)))
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


def _read_jsonl(path: Path, shape: Shape) -> Iterator[RawRecord | Problem]:
    source = str(path)
    decoder = _Decoder(source)
    # Lines end where csv's do, not where str.splitlines() would: it also breaks at U+2028,
    # U+2029 and U+0085, which JSON allows raw inside strings.
    for number, raw in enumerate(lines(path, shape.encoding), start=1):
        if not raw.strip():
            continue
        decoder.twice.clear()
        try:
            value = decoder.json.decode(raw.rstrip("\r\n"))
        except json.JSONDecodeError as error:
            yield Problem(source, number, None, f"broken JSON: {error.msg}")
            continue
        except RecursionError:
            yield Problem(source, number, None, "broken JSON: nested too deeply")
            continue
        yield _json_record(value, source, number, decoder.twice)
