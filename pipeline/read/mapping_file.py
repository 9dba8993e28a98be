"""Mapping files: how to read an export whose columns, formats or shape differ from ours.

A mapping is TOML (``--mapping FILE.toml``; README, "Input")::

    [fields]   our field = the export's column (CSV) or path (JSON), or a list joined with ", "
    [values]   constants for fields the export lacks; yes / no: more words for ``confirmed``
    [format]   date (strptime), decimal ("." or ","), cents, delimiter, encoding
    [json]     records: path of the list of work orders; line_items: path of one's items

:func:`load_mapping` checks the whole file before any input is read: every mistake in it is a
:class:`ConfigError` naming its line. :mod:`.remap` applies it to the files.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..core import money, toml_file
from ..core.errors import ConfigError
from ..core.fields import ITEM_COLUMNS, NO, SHARED_FIELDS, YES, field_name
from ..core.formats import SAMPLE_DAY, Formats
from ..core.suggest import did_you_mean
from . import json_paths
from .text import UTF8, Shape

FIELDS = (*SHARED_FIELDS, *ITEM_COLUMNS)
# Fields a list of columns may fill, joined with ", " (an address in parts); never the
# ones that identify something, nor numbers and dates.
JOINABLE = ("customer", "location", "bill_to_name", "bill_to_address", "technician", "notes",
            "po_number", "item_description")
CONSTANT = tuple(name for name in SHARED_FIELDS if name != "service_ticket")
MONEY = ("item_unit_price",)
_FORMAT_KEYS = ("date", "decimal", "cents", "delimiter", "encoding")
_JSON_KEYS = ("records", "line_items")
# A line an export could hold: a codec that cannot give it back cannot read the export.
_PROBE = 'service_ticket,customer,location,confirmed,item_description;"A B"\t[1.5, -2]\r\n'


@dataclass(frozen=True)
class Mapping:
    """A checked mapping file. ``fields``: our field → the export's columns or paths as
    written (more than one: joined); ``values``: constants."""

    path: Path
    fields: dict[str, tuple[str, ...]]
    values: dict[str, Any]
    formats: Formats
    shape: Shape
    line_items: str | None = None  # [json] line_items, as written
    lines: dict[str, int] = field(default_factory=dict)  # "table.key" → its line

    def line(self, table: str, key: str) -> int | None:
        return self.lines.get(f"{table}.{key}")

    def error(self, table: str, key: str, message: str) -> ConfigError:
        return ConfigError(f"[{table}] {key}: {message}", source=self.path,
                           line=self.line(table, key))


def load_mapping(path: Path) -> Mapping:
    """The mapping in ``path``; :class:`ConfigError` names the line of any mistake."""
    document, text = toml_file.read(path, "mapping", parse_float=Decimal)
    return _Parser(path, text).mapping(document)


class _Parser:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = toml_file.key_lines(text)

    def fail(self, table: str, key: str, message: str) -> ConfigError:
        where = f"[{table}] {key}" if table else repr(key)
        # The key as written first: of "Customer" and "customer", the one at fault.
        line = self.lines.get(f"{table}.{key}") or self.lines.get(f"{table}.{field_name(key)}")
        return ConfigError(f"{where}: {message}", source=self.path, line=line)

    def table(self, document: dict[str, Any], name: str, known: tuple[str, ...] | None
              ) -> dict[str, Any]:
        value = document.get(name, {})
        if not isinstance(value, dict):
            raise self.fail("", name, "expected a table [" + name + "]")
        result: dict[str, Any] = {}
        for key, item in value.items():
            ours = field_name(key)
            if known is not None and ours not in known:
                raise self.fail(name, key, f"unknown key{did_you_mean(ours, known)}")
            if ours in result:
                raise self.fail(name, key, "given twice (keys ignore letter case and "
                                "spaces): a field mapped twice?")
            result[ours] = item
        return result

    def mapping(self, document: dict[str, Any]) -> Mapping:
        for key in document:
            if key not in ("fields", "values", "format", "json"):
                raise self.fail("", key, "unknown key; a mapping has the tables [fields], "
                                "[values], [format] and [json]")
        fields = {ours: self.columns(ours, value)
                  for ours, value in self.table(document, "fields", FIELDS).items()}
        values = self.table(document, "values", (*CONSTANT, "yes", "no"))
        words = {kind: self.words(kind, values.pop(kind, [])) for kind in ("yes", "no")}
        if words["yes"] & words["no"]:
            raise self.fail("values", "no", f"{sorted(words['yes'] & words['no'])[0]!r} is "
                            "in yes too")
        for ours, value in values.items():
            if ours in fields:
                raise self.fail("values", ours, "mapped twice: also in [fields]")
            values[ours] = self.constant(ours, value)
        formats = self.table(document, "format", _FORMAT_KEYS)
        json = {key: self.path_text("json", key, value)
                for key, value in self.table(document, "json", _JSON_KEYS).items()}
        names = {ours: " + ".join(columns) for ours, columns in fields.items()}
        if "line_items" in json:
            names["line_items"] = json["line_items"]
        return Mapping(
            self.path, fields, values,
            Formats(dates=self.date(formats.get("date")),
                    decimal=self.decimal(formats.get("decimal")),
                    cents=self.cents(formats.get("cents", [])), yes=words["yes"],
                    no=words["no"], names=names, items=json.get("line_items", "line_items")),
            Shape(encoding=self.encoding(formats.get("encoding", UTF8)),
                  delimiter=self.delimiter(formats.get("delimiter", ",")),
                  records=tuple(step.key for step in json_paths.parse(json["records"]))
                  if "records" in json else None),
            json.get("line_items"), self.lines)

    def columns(self, ours: str, value: Any) -> tuple[str, ...]:
        parts = value if isinstance(value, list) else [value]
        if not parts or not all(isinstance(part, str) and part.strip() for part in parts):
            raise self.fail("fields", ours, "expected the export's column (text), or a "
                            "list of them")
        if len(parts) > 1 and ours not in JOINABLE:
            raise self.fail("fields", ours, f"takes one column, not a list (lists join "
                            f"text: {', '.join(JOINABLE)})")
        if len(set(map(field_name, parts))) < len(parts):
            raise self.fail("fields", ours, "names a column twice")
        return tuple(part.strip() for part in parts)

    def words(self, kind: str, value: Any) -> frozenset[str]:
        words = value if isinstance(value, list) else [value]
        if not all(isinstance(word, str) and word.strip() for word in words):
            raise self.fail("values", kind, "expected a list of words")
        found = frozenset(field_name(word) for word in words)
        other = NO if kind == "yes" else YES
        if found & other:
            raise self.fail("values", kind, f"{sorted(found & other)[0]!r} already means "
                            f"{'no' if kind == 'yes' else 'yes'}")
        return found

    def constant(self, ours: str, value: Any) -> Any:
        if ours == "tags" and isinstance(value, list) and \
                all(isinstance(tag, str) for tag in value):
            return value
        if not isinstance(value, str | int | Decimal | bool) or \
                (isinstance(value, bool) and ours != "confirmed"):
            raise self.fail("values", ours, f"expected text, got {value!r}")
        if ours == "currency" and str(value).strip().upper() not in money.currencies():
            raise self.fail("values", ours, f"{value!r} is not an ISO 4217 currency code")
        return value

    def path_text(self, table: str, key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(table, key, "expected a path like data.invoices")
        try:
            steps = json_paths.parse(value)
        except ValueError as error:
            raise self.fail(table, key, str(error)) from None
        if any(step.pick for step in steps):
            raise self.fail(table, key, "a path to a list picks no element from a list")
        return value.strip()

    def date(self, value: Any) -> str | None:
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise TypeError
            # strptime checks a format only against a date: one written in it must come
            # back as itself (a format without the year would give 1900).
            ok = Formats(dates=value).day(SAMPLE_DAY.strftime(value)) == SAMPLE_DAY
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise self.fail("format", "date", f"{value!r} is not a strptime format with a "
                            "year, a month and a day, like %m/%d/%Y or %d.%m.%Y")
        return str(value)

    def decimal(self, value: Any) -> str | None:
        if value not in (None, ".", ","):
            raise self.fail("format", "decimal", f"{value!r} is not \".\" or \",\"")
        return value  # type: ignore[no-any-return]

    def cents(self, value: Any) -> frozenset[str]:
        names = value if isinstance(value, list) else [value]
        for name in names:
            if not isinstance(name, str) or field_name(name) not in MONEY:
                raise self.fail("format", "cents", f"{name!r} is not an amount of money "
                                f"({', '.join(MONEY)})")
        return frozenset(field_name(name) for name in names)

    def delimiter(self, value: Any) -> str:
        if not isinstance(value, str) or len(value) != 1 or value in "\"\r\n":
            raise self.fail("format", "delimiter", f"{value!r} is not one character like "
                            "\",\" \";\" or \"\\t\"")
        return value

    def encoding(self, value: Any) -> str:
        try:
            if not isinstance(value, str):
                raise LookupError
            name = codecs.lookup(value).name
            # rot13, base64 and zlib are codecs too, but not of text (LookupError); idna,
            # punycode and "undefined" are of text, but cannot read a file a piece at a
            # time (UnicodeError, a ValueError like that of a name holding a NUL), as the
            # readers do.
            data = _PROBE.encode(name)
            decoder = codecs.getincrementaldecoder(name)()
            if "".join(decoder.decode(data[at:at + 1]) for at in range(len(data))) + \
                    decoder.decode(b"", final=True) != _PROBE:
                raise LookupError
        except (LookupError, ValueError):
            raise self.fail("format", "encoding", f"{value!r} is not a known text encoding "
                            "like utf-8 or cp1252") from None
        return UTF8 if name in ("utf-8", UTF8) else name

