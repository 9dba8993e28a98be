"""``mapping draft``: a starting mapping for an export, for a clerk to edit.

The file's columns (CSV) or paths (JSON) that obviously name one of our fields are filled
in; every other field of ours is a comment, and so is every column nothing takes yet.
Nothing is guessed that a clerk could not see at a glance: a name alike after letter
case, spaces and punctuation, a handful of common synonyms, an address in parts.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from .errors import InputError
from .input_text import UTF8, field_name, read_bytes
from .json_paths import leaves
from .mapping import FIELDS
from .read import SUFFIXES

_SYNONYMS = {
    "service_ticket": ("serviceticket", "job", "jobnumber", "jobno", "workorder",
                       "workordernumber", "ticket", "ticketnumber"),
    "customer": ("customer", "customername", "client", "clientname"),
    "location": ("location", "address", "jobaddress", "serviceaddress", "locationaddress"),
    "confirmed": ("confirmed", "xoicompleted", "xoiconfirmed", "workflowcompleted",
                  "completed", "xoiworkflowcompleted"),
    "share_id": ("shareid", "xoishare", "xoishareid"),
    "invoice_number": ("invoicenumber", "invoice", "invoiceno"),
    "invoice_date": ("invoicedate", "invoicedon"),
    "due_date": ("duedate", "due"),
    "technician": ("technician", "tech", "technicianname", "assignedtechnician"),
    "po_number": ("ponumber", "po", "purchaseorder"),
    "bill_to_email": ("billtoemail", "email", "customeremail", "billingemail"),
    "item_description": ("itemdescription", "item", "description", "itemname", "skuname",
                         "lineitem", "lineitemdescription", "service", "servicename"),
    "item_quantity": ("itemquantity", "quantity", "qty"),
    "item_unit_price": ("itemunitprice", "unitprice", "price", "rate"),
}
# Parts of an address, in the order they are joined.
_ADDRESS = (("street", "address1", "streetline1", "addressline1"),
            ("unit", "streetline2", "address2", "addressline2", "apt", "suite"),
            ("city", "town"), ("state", "province", "region"),
            ("zip", "zipcode", "postalcode", "postcode"), ("country",))
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


def _matched(names: list[str], fields: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    taken: set[str] = set()
    for ours in fields:
        for name in names:
            if name not in taken and any(n in _SYNONYMS.get(ours, (_plain(ours),))
                                         or n == _plain(ours) for n in _names(name)[:3]):
                found[ours], taken = name, taken | {name}
                break
    if "location" not in found:
        parts = [next((n for n in names if n not in taken and _names(n)[1] in synonyms), None)
                 for synonyms in _ADDRESS]
        if sum(part is not None for part in parts) >= 2:
            found["location"] = [part for part in parts if part is not None]
    return found


def draft(path: Path) -> str:
    """The text of a starting mapping for the export at ``path``."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
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
    if kind == "csv":
        first = text.splitlines()[0] if text.strip() else ""
        delimiter = ";" if first.count(";") > first.count(",") else ","
        rows = list(csv.reader(text.splitlines()[:50], delimiter=delimiter))
        names = [cell.strip() for cell in rows[0]] if rows else []
        samples = [row for row in rows[1:]]
        if delimiter != ",":
            format_lines.append(f'delimiter = "{delimiter}"')
        found = _matched(names, FIELDS)
        values = [cell for row in samples for cell in row]
    else:
        record, items_path, item = _json_shape(text, kind, path)
        records = record.pop("\0records", None)
        if records:
            json_lines.append(f"records = {json.dumps(records)}")
        names = [name for name, _ in leaves(record)]
        item_names = [name for name, _ in leaves(item)] if item else []
        found = _matched([n for n in names if n != items_path],
                         tuple(f for f in FIELDS if not f.startswith("item_")))
        found.update(_matched(item_names, tuple(f for f in FIELDS if f.startswith("item_"))))
        if items_path and items_path != "line_items":
            json_lines.append(f"line_items = {json.dumps(items_path)}  # paths of item_* "
                              "fields are inside one item")
        names = [n for n in names if n != items_path] + item_names
        values = [str(value) for _, value in leaves(record)]
    format_lines += _formats(values)
    return _text(path, found, names, format_lines, json_lines)


def _bytes(path: Path) -> bytes:
    try:
        return read_bytes(path)  # not a FIFO or device: it would never end
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror}", source=path) from None


def _json_shape(text: str, kind: str, path: Path) -> tuple[dict[str, Any], str | None,
                                                            dict[str, Any] | None]:
    """The first work order, the path of its line items and its first item."""
    try:
        document = json.loads(text.splitlines()[0] if kind == "jsonl" else text)
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
    record = dict(document[0])
    lists = [(name, value) for name, value in leaves(record)
             if isinstance(value, list) and value and isinstance(value[0], dict)]
    items_path, item = (lists[0][0], lists[0][1][0]) if lists else (None, None)
    if records and field_name(records) != "work_orders":
        record["\0records"] = records
    return record, items_path, item


def _formats(values: list[str]) -> list[str]:
    lines = []
    if any(re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value.strip()) for value in values):
        lines.append('date = "%m/%d/%Y"          # dates like 11/28/2026 seen; or %d/%m/%Y?')
    elif any(re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", value.strip()) for value in values):
        lines.append('date = "%d.%m.%Y"          # dates like 28.11.2026 seen')
    if any(re.fullmatch(r"-?\d{1,3}(\.\d{3})*,\d{1,2}", value.strip()) for value in values):
        lines.append('decimal = ","              # amounts like 1.234,50 seen')
    return lines


def _text(path: Path, found: dict[str, Any], names: list[str], format_lines: list[str],
          json_lines: list[str]) -> str:
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
                *(f"#   {json.dumps(name, ensure_ascii=False)}" for name in left)]
    out += ["", "[values]", '# currency = "USD"          # a constant for a field the '
            "export lacks", '# yes = ["Completed"]       # more words for yes / no in '
            "confirmed", "", "[format]", *format_lines]
    if json_lines:
        out += ["", "[json]", *json_lines]
    return "\n".join(out) + "\n"
