"""Read an export through its mapping: records with our field names, as :mod:`validate`
expects them.

Columns are renamed, JSON paths resolved, parts of a field joined, constants put in, all
at read time; formats (dates, decimal comma, cents) are the validator's to apply, through
the mapping's :class:`~formats.Formats`. A mapping that names a CSV column the file does
not have, or a JSON path that no work order of the file has (not even as null), is an
error of the whole file (exit 2) naming the closest of the file's own names.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.fields import REQUIRED_COLUMNS, field_name
from ..core.models import Problem, RawRecord
from ..core.suggest import closest
from .draft import unmapped
from .files import SUFFIXES, read_file
from .json_paths import MISSING, Step, leaves, parse, resolve
from .mapping_file import Mapping

_ITEM_FIELDS = {"item_description": "description", "item_quantity": "quantity",
                "item_unit_price": "unit_price"}
_SHOWN = 30  # of the file's columns or paths, in an error


def read_mapped(path: Path, mapping: Mapping) -> Iterator[RawRecord | Problem]:
    """The records of ``path`` in our field names (see :func:`.files.read_file`)."""
    if SUFFIXES.get(path.suffix.lower()) == "csv":
        return _csv(path, mapping)
    return _json(path, mapping)


def _joined(values: Iterable[Any]) -> Any:
    """Parts of one field, blanks skipped; a part that is not text is left to the
    validator to reject."""
    parts = []
    for value in values:
        if value is MISSING or value is None:
            continue
        if isinstance(value, dict | list | bool):
            return value
        text = str(value).strip()
        if text:
            parts.append(text)
    return ", ".join(parts)


def _unknown(kind: str, source: Path, wanted: list[tuple[str, str]], have: list[str],
             lacking: str = "this file does not have") -> str:
    """The error for names the mapping gives and the file lacks, the closest of its own."""
    named = []
    for theirs, ours in wanted:
        found = closest(theirs, have, key=field_name, cutoff=0.5)
        named.append(f"{theirs!r} ({ours}" + (f"; closest: {found!r})" if found else ")"))
    shown = ", ".join(have[:_SHOWN]) + (", ..." if len(have) > _SHOWN else "")
    return (f"the mapping {source.name} names {kind} {' and '.join(named)}, which "
            f"{lacking}; its {kind}s: {shown or 'none'}")


def _csv(path: Path, mapping: Mapping) -> Iterator[RawRecord | Problem]:
    fields = {ours: tuple(map(field_name, columns)) for ours, columns in mapping.fields.items()}
    singles = [(ours, columns[0]) for ours, columns in fields.items() if len(columns) == 1]
    joins = [(ours, columns) for ours, columns in fields.items() if len(columns) > 1]
    constants = mapping.values

    def header(cells: list[str]) -> str | None:
        names = {field_name(cell) for cell in cells}
        wanted = [(theirs, ours) for ours, columns in mapping.fields.items()
                  for theirs in columns if field_name(theirs) not in names]
        have = [c.strip() for c in cells]
        told = [_unknown("column", mapping.path, wanted, have)] if wanted else []
        # A required field the mapping leaves to our name, which the file lacks too.
        told += [unmapped(ours, have) for ours in REQUIRED_COLUMNS
                 if ours not in fields and ours not in constants and ours not in names]
        return "; ".join(told) or None

    ticket = fields.get("service_ticket", ("service_ticket",))[0]
    shape = replace(mapping.shape, ticket=ticket, header=header)
    for item in read_file(path, shape):
        if isinstance(item, RawRecord):
            for _, row in item.rows:
                # Read before any is written: a column may be ours under another name.
                ours = {name: row[column] for name, column in singles}
                ours.update((name, _joined(row[c] for c in columns)) for name, columns in joins)
                row.update(ours)
                row.update(constants)
        yield item


def _steps(mapping: Mapping, table: str, key: str, text: str) -> tuple[Step, ...]:
    try:
        return parse(text)
    except ValueError as error:
        raise mapping.error(table, key, str(error)) from None


def _json(path: Path, mapping: Mapping) -> Iterator[RawRecord | Problem]:
    fields = {ours: [_steps(mapping, "fields", ours, text) for text in columns]
              for ours, columns in mapping.fields.items() if ours not in _ITEM_FIELDS}
    items = {short: _steps(mapping, "fields", ours, mapping.fields[ours][0])
             for ours, short in _ITEM_FIELDS.items() if ours in mapping.fields}
    item_path = _steps(mapping, "json", "line_items", mapping.line_items or "line_items")
    # What no record has had yet: the file's error, if still so at its end.
    unseen = {(ours, index) for ours, steps in fields.items() for index in range(len(steps))}
    unseen_items = set(items)
    first: dict[str, Any] | None = None
    first_item: dict[str, Any] | None = None
    for item in read_file(path, mapping.shape):
        if isinstance(item, RawRecord):
            record = item.rows[0][1]
            first = record if first is None else first
            found = _apply(record, fields, unseen)
            listed = resolve(record, item_path)
            if listed is not MISSING and (items or mapping.line_items):
                found["line_items"] = _items(listed, items, unseen_items) if items else listed
                if first_item is None and isinstance(listed, list) and listed \
                        and isinstance(listed[0], dict):
                    first_item = listed[0]
            record.update(found)
            record.update(mapping.values)
        yield item
    if first is not None and (unseen or unseen_items):
        raise _missing_paths(path, mapping, first, first_item, unseen, unseen_items)


def _apply(record: dict[str, Any], fields: dict[str, list[tuple[Step, ...]]],
           unseen: set[tuple[str, int]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ours, paths in fields.items():
        values = [resolve(record, steps) for steps in paths]
        if unseen:
            unseen.difference_update((ours, index) for index, value in enumerate(values)
                                     if value is not MISSING)
        if all(value is MISSING for value in values):
            record.pop(ours, None)  # our name in the export, holding something else
        else:
            found[ours] = values[0] if len(values) == 1 else _joined(values)
    return found


def _items(listed: Any, items: dict[str, tuple[Step, ...]], unseen: set[str]) -> Any:
    if not isinstance(listed, list) or not all(isinstance(one, dict) for one in listed):
        return listed  # the validator says what it should be
    result = []
    for one in listed:
        converted = dict(one)
        for short, steps in items.items():
            value = resolve(one, steps)
            converted.pop(short, None)
            if value is not MISSING:
                unseen.discard(short)
                converted[short] = value
        result.append(converted)
    return result


def _missing_paths(path: Path, mapping: Mapping, first: dict[str, Any],
                   first_item: dict[str, Any] | None, unseen: set[tuple[str, int]],
                   unseen_items: set[str]) -> ConfigError:
    wanted = [(mapping.fields[ours][index], ours) for ours, index in sorted(unseen)]
    have = list(dict.fromkeys(name for name, _ in leaves(first)))
    message = _unknown("path", mapping.path, wanted, have) if wanted else ""
    if unseen_items:
        names = {short: ours for ours, short in _ITEM_FIELDS.items()}
        inner = list(dict.fromkeys(name for name, _ in leaves(first_item or {})))
        wanted_items = [(mapping.fields[names[short]][0], names[short])
                        for short in sorted(unseen_items)]
        message = "; ".join(itertools.chain(
            [message] if message else [],
            [_unknown("path", mapping.path, wanted_items, inner,
                      "no line item of this file has")]))
    return ConfigError(message, source=path)
