"""``mapping draft``: a starting mapping for an export, for a clerk to edit.

The file's columns (CSV) or paths (JSON) that obviously name one of our fields are filled
in; every other field of ours is a comment, and so is every column nothing takes yet.
Nothing is guessed that a clerk could not see at a glance: a name alike after letter
case, spaces and punctuation, a handful of common synonyms, an address in parts; and the
values must agree (:mod:`.value_kinds`): a yes/no column answers ``confirmed``, a money
column is a price and never part of an address. A column the names leave over is taken
by its values only when they are unmistakable: the yes/no answers, the one money column,
the one date column.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.fields import field_name
from ..core.suggest import closest
from .files import SUFFIXES
from .json_paths import leaves
from .mapping_file import FIELDS
from .text import UTF8, read_bytes
from .value_kinds import (
    DATE,
    MONEY,
    TEXT,
    YES_NO,
    column_values,
    fits,
    formats,
    kind,
    other_answers,
    part_fits,
)

_SYNONYMS = {
    "service_ticket": ("serviceticket", "job", "jobnumber", "jobno", "workorder",
                       "workordernumber", "ticket", "ticketnumber"),
    "customer": ("customer", "customername", "client", "clientname"),
    "location": ("location", "address", "jobaddress", "serviceaddress", "locationaddress"),
    "confirmed": ("confirmed", "xoicompleted", "xoiconfirmed", "workflowcompleted",
                  "completed", "xoiworkflowcompleted", "done", "isdone", "workdone",
                  "complete", "finished"),
    "share_id": ("shareid", "xoishare", "xoishareid"),
    "invoice_number": ("invoicenumber", "invoice", "invoiceno"),
    "invoice_date": ("invoicedate", "invoicedon"),
    "due_date": ("duedate", "due"),
    "technician": ("technician", "tech", "technicianname", "assignedtechnician"),
    "po_number": ("ponumber", "po", "purchaseorder"),
    "bill_to_email": ("billtoemail", "email", "customeremail", "billingemail"),
    "item_description": ("itemdescription", "item", "description", "itemname", "skuname",
                         "lineitem", "lineitemdescription", "service", "servicename",
                         "part", "partname", "material", "product"),
    "item_quantity": ("itemquantity", "quantity", "qty"),
    "item_unit_price": ("itemunitprice", "unitprice", "price", "rate"),
}
# Parts of an address, in the order they are joined.
_ADDRESS = (("street", "address1", "streetline1", "addressline1"),
            ("unit", "streetline2", "address2", "addressline2", "apt", "suite"),
            ("city", "town"), ("state", "province", "region"),
            ("zip", "zipcode", "postalcode", "postcode"), ("country",))
_SAMPLE = 50  # rows or records whose values are looked at
_ZIP = 4  # of _ADDRESS: the one part that may be all digits
_WHAT = {"service_ticket": "required: the work order number", "customer": "required",
         "location": "required: the job's address (a list of parts is joined)",
         "confirmed": "required column: the technician's yes/no answer"}


def _plain(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _names(path: str) -> list[str]:
    """What a column or path may be recognised by: all of it, its last step, a pick."""
    picked = re.findall(r"\[[^=\]]+=([^\]]*)\]", path)
    steps = re.sub(r"\[[^\]]*\]", "", path).split(".")
    return [_plain(path), _plain(steps[-1]), *(_plain(p) for p in picked),
            _plain("".join(steps[-2:]))]


def _by_name(ours: str, names: list[str]) -> str | None:
    """The first of ``names`` that is ``ours`` or one of its synonyms."""
    synonyms = _SYNONYMS.get(ours, (_plain(ours),))
    return next((name for name in names
                 if any(n in synonyms or n == _plain(ours) for n in _names(name)[:3])), None)


def unmapped(ours: str, names: list[str]) -> str:
    """What to say of a required field no column of ``names`` is mapped to, with the
    column most likely to be it by name (``Done?`` for confirmed)."""
    found = _by_name(ours, names) or closest(ours, names, key=_plain, cutoff=0.5)
    return f"no column is mapped to {ours}; map one" + (f" (closest: {found!r})"
                                                       if found else "")


def _matched(names: list[str], fields: tuple[str, ...],
             kinds: dict[str, str | None]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    taken: set[str] = set()
    for ours in fields:
        name = _by_name(ours, [n for n in names if n not in taken and fits(ours, kinds[n])])
        if name is not None:
            found[ours], taken = name, taken | {name}
    if "location" in fields and "location" not in found:
        parts = [next((n for n in names if n not in taken and _names(n)[1] in synonyms
                       and part_fits(index == _ZIP, kinds[n])), None)
                 for index, synonyms in enumerate(_ADDRESS)]
        if sum(part is not None for part in parts) >= 2:
            found["location"] = [part for part in parts if part is not None]
            taken |= set(found["location"])
    # What the names left over, taken by values that say it at a glance.
    left = [n for n in names if n not in taken]
    for ours, wanted, only_one in (("confirmed", YES_NO, False),
                                   ("item_unit_price", MONEY, True),
                                   ("invoice_date", DATE, True)):
        of_kind = [n for n in left if kinds[n] == wanted]
        if ours in fields and ours not in found and of_kind \
                and (not only_one or len(of_kind) == 1) \
                and not (ours == "invoice_date" and "due_date" in found):
            found[ours] = of_kind[0]
            left.remove(of_kind[0])
    return found


def _readable(name: str) -> bool:
    """Whether a name can be written into the mapping: JSON keys may hold lone surrogates
    (``"x\\udc00"``), which no TOML file can spell."""
    try:
        name.encode(UTF8)
    except UnicodeEncodeError:
        return False
    return True


def draft(path: Path) -> str:
    """The text of a starting mapping for the export at ``path``."""
    kind_of = SUFFIXES.get(path.suffix.lower())
    if kind_of is None:
        raise InputError("unsupported file type; use .csv, .json, .jsonl or .ndjson",
                         source=path)
    raw = _bytes(path)
    encoding = UTF8
    try:
        text = raw.decode(UTF8)
    except UnicodeDecodeError:
        encoding, text = "cp1252", raw.decode("cp1252", errors="replace")
    format_lines, json_lines = [], []
    if encoding != UTF8:
        format_lines.append('encoding = "cp1252"       # not UTF-8: check with whoever '
                            "exports it")
    if kind_of == "csv":
        first = text.splitlines()[0] if text.strip() else ""
        delimiter = ";" if first.count(";") > first.count(",") else ","
        rows = _csv_rows(text, delimiter, path)
        names = [cell.strip() for cell in rows[0]] if rows else []
        if delimiter != ",":
            format_lines.append(f'delimiter = "{delimiter}"')
        seen = column_values(rows[1:], names)
        kinds = {name: kind(name, values) for name, values in seen.items()}
        found = _matched(names, FIELDS, kinds)
    else:
        records, items_path, items = _json_shape(text, kind_of, path)
        paths = records[0].pop("\0records", None)
        if paths:
            json_lines.append(_json_line("records", paths))
        pairs = [dict(leaves(record)) for record in records]
        names = [name for name in dict.fromkeys(n for pair in pairs for n in pair)
                 if name != items_path and _readable(name)]
        item_pairs = [dict(leaves(item)) for item in items]
        item_names = [name for name in dict.fromkeys(n for pair in item_pairs for n in pair)
                      if _readable(name)]
        seen = column_values([[pair.get(n) for n in names] for pair in pairs], names)
        seen.update(column_values([[pair.get(n) for n in item_names] for pair in item_pairs],
                                  item_names))
        kinds = {name: kind(name, values) for name, values in seen.items()}
        found = _matched(names, tuple(f for f in FIELDS if not f.startswith("item_")), kinds)
        found.update(_matched(item_names, tuple(f for f in FIELDS if f.startswith("item_")),
                              kinds))
        if items_path and items_path != "line_items":
            json_lines.append(_json_line("line_items", items_path,
                                         "  # paths of item_* fields are inside one item"))
        unreadable = [n for pair in [*pairs, *item_pairs] for n in pair if not _readable(n)]
        names += item_names + list(dict.fromkeys(unreadable))
    format_lines += formats([value for values in seen.values() for value in values])
    answers = other_answers(seen.get(found.get("confirmed", ""), []))
    return _text(path, found, names, kinds, answers, format_lines, json_lines)


def _csv_rows(text: str, delimiter: str, path: Path) -> list[list[str]]:
    try:
        return list(csv.reader(text.splitlines()[:_SAMPLE + 1], delimiter=delimiter))
    except csv.Error as error:
        raise InputError(f"cannot read it as CSV: {error}", source=path) from None


def _bytes(path: Path) -> bytes:
    try:
        return read_bytes(path)  # not a FIFO or device: it would never end
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=path) from None


def _json_shape(text: str, kind_of: str, path: Path) -> tuple[list[dict[str, Any]], str | None,
                                                               list[dict[str, Any]]]:
    """The first work orders (a sample), the path of their line items and their items."""
    try:
        document = _jsonl(text) if kind_of == "jsonl" else json.loads(text)
    except (json.JSONDecodeError, IndexError):
        raise InputError("broken JSON: cannot draft a mapping from it", source=path) from None
    records = None
    while isinstance(document, dict):
        key = next((k for k, v in document.items() if isinstance(v, list | dict)), None)
        if key is None:
            break
        records = key if records is None else f"{records}.{key}"
        document = document[key]
    if not isinstance(document, list) or not document or not isinstance(document[0], dict):
        raise InputError("no list of work orders found to draft a mapping from", source=path)
    sample = [dict(record) for record in document[:_SAMPLE] if isinstance(record, dict)]
    lists = [name for name, value in leaves(sample[0])
             if isinstance(value, list) and value and isinstance(value[0], dict)]
    items_path = lists[0] if lists else None
    items = [item for record in sample for item in dict(leaves(record)).get(items_path) or []
             if isinstance(item, dict)][:_SAMPLE] if items_path else []
    if records and field_name(records) != "work_orders":
        sample[0]["\0records"] = records
    return sample, items_path, items


def _jsonl(text: str) -> list[Any]:
    """The first records of a JSON Lines file; a broken line after the first ends them."""
    lines = [line for line in text.splitlines()[:_SAMPLE] if line.strip()]
    records = [json.loads(lines[0])]
    for line in lines[1:]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def _quoted(name: str) -> str:
    """A name as a TOML string; one that is not text (a lone surrogate) as its escapes,
    which no mapping can use, for a comment."""
    return json.dumps(name, ensure_ascii=not _readable(name))


def _json_line(key: str, path: str, note: str = "") -> str:
    """A [json] line; commented out when the path is not text a mapping can name."""
    if _readable(path):
        return f"{key} = {_quoted(path)}{note}"
    return f"# {key} = {_quoted(path)}{_seen(path, {})}"


def _text(path: Path, found: dict[str, Any], names: list[str], kinds: dict[str, str | None],
          answers: list[str], format_lines: list[str], json_lines: list[str]) -> str:
    out = [f"# Mapping drafted from {path.name} by `xoi-invoices mapping draft`.",
           "# Check every line; fill in or delete the commented ones (README, \"Input\").",
           "", "[fields]"]
    for ours in FIELDS:
        note = f"  # {_WHAT[ours]}" if ours in _WHAT else ""
        if ours in found:
            out.append(f"{ours} = {json.dumps(found[ours], ensure_ascii=False)}{note}")
        else:
            out.append(f'# {ours} = ""{note}')
    used = {n for value in found.values() for n in (value if isinstance(value, list)
                                                      else [value])}
    left = [name for name in names if name not in used]
    if left:
        out += ["", "# The export's columns no field takes yet:",
                *(f"#   {_quoted(name)}{_seen(name, kinds)}" for name in left)]
    words = [f"# yes = {json.dumps(answers, ensure_ascii=False)}  # answers in "
             f"{_quoted(found['confirmed'])} besides yes/no:",
             "# no = []  # move each to yes or to no, then keep both lines"] if answers \
        else ['# yes = ["Completed"]       # more words for yes / no in confirmed']
    out += ["", "[values]", '# currency = "USD"          # a constant for a field the '
            "export lacks", *words, "", "[format]", *format_lines]
    if json_lines:
        out += ["", "[json]", *json_lines]
    return "\n".join(out) + "\n"


def _seen(name: str, kinds: dict[str, str | None]) -> str:
    if not _readable(name):
        return "  (not UTF-8 text: no mapping can name it)"
    seen = kinds.get(name)
    return f"  ({seen} values)" if seen not in (None, TEXT) else ""
