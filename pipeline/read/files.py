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
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.fields import field_name
from ..core.models import Problem, RawRecord
from ..core.text import utf8
from ..core.tickets import canonical
from .csv_rows import read_csv
from .text import OURS, Shape, lines

SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_WHITESPACE = " \t\r\n"
# Deeper than any export nests a work order; the later stages walk values by recursion.
MAX_DEPTH = 64
_HALF = "holds half a character (an unpaired \\ud800-\\udfff escape)"
_TWICE = "given twice in one object (names ignore letter case and spaces); which one is meant?"
_STRING = re.compile(r'("(?:[^"\\]|\\.)*")(\s*:)?')


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
        except (json.JSONDecodeError, RecursionError) as error:
            raise _broken(error, source=self.source, text=text, index=index) from None


def _broken(error: json.JSONDecodeError | RecursionError, *, source: str, text: str,
            index: int) -> InputError:
    """Broken JSON, said one way wherever it is decoded: the decoder's reason at its line;
    a value nested deeper than Python's recursion goes, at the line of ``index``."""
    if isinstance(error, json.JSONDecodeError):
        return InputError(f"broken JSON: {error.msg}", source=source, line=error.lineno)
    return InputError("broken JSON: nested too deeply", source=source,
                      line=text.count("\n", 0, index) + 1)


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
    emptied = text[:start] + "\n" * text.count("\n", start, index) + text[index:]
    decoder.twice.clear()
    try:
        decoder.json.decode(emptied)
    except (json.JSONDecodeError, RecursionError) as error:
        # Nested too deeply can only be a value after the list, which ends at ``index``.
        raise _broken(error, source=source, text=text, index=index) from None
    if decoder.twice:  # {"work_orders": [...], "Work_Orders": [...]}: which list is meant?
        name = decoder.twice[0]
        raise InputError(f"{_printable(name)}: {_TWICE}", source=source,
                         line=_second_key(emptied, name))


# A longer whole number stays a number, which validate refuses: 1e999999999 written out
# would be a billion digits.
_DIGITS = 64


def _json_record(value: Any, source: str, line: int, twice: list[str]) -> RawRecord | Problem:
    if not isinstance(value, dict):
        return Problem(source, line, None,
                       f"a work order must be an object {{...}}, not {_json_kind(value)}")
    ticket = value.get("service_ticket")
    if (isinstance(ticket, Decimal) and ticket >= 0 and ticket.adjusted() < _DIGITS
            and ticket == ticket.to_integral_value()):
        # 100, 1e2 and 100.0 are one JSON number: one ticket, written in digits.
        ticket = value["service_ticket"] = f"{abs(ticket):f}".partition(".")[0]
    ticket = canonical(ticket) or None if isinstance(ticket, str) else None
    unfit = _unfit(value)
    if unfit:
        field, reason = unfit
        # Told here, so that it goes no further: text that is not Unicode could not even
        # be written to the report or a terminal, and the later stages walk values by
        # recursion.
        return Problem(source, line, ticket if ticket is None or utf8(ticket) else None,
                       f"{_printable(field)}: {reason}")
    if twice:
        return Problem(source, line, ticket, "; ".join(
            f"{name}: {_TWICE}" for name in dict.fromkeys(twice)))
    if ticket is not None:
        value["service_ticket"] = ticket  # its one spelling from here on
    return RawRecord(source, line, ((line, value),))


def _printable(name: str) -> str:
    """A field name as a message can carry it: a lone surrogate as its escape."""
    return name.encode("utf-8", "backslashreplace").decode()


def _unfit(record: dict[str, Any]) -> tuple[str, str] | None:
    """The first field of ``record`` that is nested too deeply or holds a lone surrogate
    (only a ``\\u`` escape makes one), and why; walked without recursion."""
    for field, value in record.items():
        if not _whole(field):
            return field, _HALF
        if type(value) is str:  # most fields: no walk
            if not _whole(value):
                return field, _HALF
            continue
        stack = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            if isinstance(item, str):
                if not _whole(item):
                    return field, _HALF
            elif isinstance(item, dict | list):
                if depth > MAX_DEPTH:
                    return field, f"nested more than {MAX_DEPTH} levels deep"
                if isinstance(item, dict):
                    stack.extend((key, depth) for key in item)
                    item = item.values()
                stack.extend((inner, depth + 1) for inner in item)
    return None


def _whole(text: str) -> bool:
    return text.isascii() or utf8(text)


def _second_key(text: str, name: str) -> int:
    """The line of the second key of ``text`` that is ``name`` as the reader names fields."""
    seen = False
    # Whole strings, left to right: a quote outside a string always opens one.
    for match in _STRING.finditer(text):
        if match[2] and field_name(json.loads(match[1])) == name:
            if seen:
                return text.count("\n", 0, match.start()) + 1
            seen = True
    return 1


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
        except (json.JSONDecodeError, RecursionError) as error:
            # One line's problem, not the file's: the next line is read.
            reason = _broken(error, source=source, text=raw, index=0).message
            yield Problem(source, number, None, reason)
            continue
        yield _json_record(value, source, number, decoder.twice)
