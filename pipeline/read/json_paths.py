"""Paths into a JSON work order, as a mapping writes them: ``customer.name``,
``customFields[name=XOi Completed].value``.

A path only ever indexes into the record it is given: keys of objects, and one element
of a list picked by a key's value. Names are matched as the reader keeps them (letter
case and surrounding spaces ignored), the picked value likewise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.fields import field_name

_STEP = re.compile(r"([^.\[\]=]+)(?:\[([^.\[\]=]+)=([^\[\]]*)\])?")
# The keys by which a list of objects is most often picked (custom fields, attributes).
_PICK_KEYS = ("name", "key", "label", "field")
MISSING: Any = object()  # what a path leads to in a record that does not have it


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    pick: tuple[str, str] | None = None  # (key, value): the list element to take


def parse(text: str) -> tuple[Step, ...]:
    """The steps of ``text``; ``ValueError`` says what is wrong with it."""
    steps = []
    rest = text.strip()
    while rest:
        match = _STEP.match(rest)
        if match is None:
            raise ValueError(f"{text!r} is not a path like customer.name or "
                             "customFields[name=X].value")
        key, pick_key, pick_value = match.groups()
        pick = None if pick_key is None else (field_name(pick_key),
                                              pick_value.strip().lower())
        steps.append(Step(field_name(key), pick))
        rest = rest[match.end():]
        if rest and not rest.startswith("."):
            raise ValueError(f"{text!r} is not a path like customer.name or "
                             "customFields[name=X].value")
        rest = rest[1:]
        if not rest and text.strip().endswith("."):
            raise ValueError(f"{text!r} ends with a dot")
    if not steps:
        raise ValueError("is blank")
    return tuple(steps)


def resolve(value: Any, steps: tuple[Step, ...]) -> Any:
    """What ``steps`` lead to in ``value``, or :data:`MISSING`."""
    for step in steps:
        if type(value) is not dict:
            return MISSING
        value = value.get(step.key, MISSING)
        if value is MISSING:
            return MISSING
        if step.pick is not None:
            value = _picked(value, *step.pick)
    return value


def _picked(items: Any, key: str, wanted: str) -> Any:
    if not isinstance(items, list):
        return MISSING
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(key), str) \
                and item[key].strip().lower() == wanted:
            return item
    return MISSING


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every path to a value that is not an object, with the value, in document order.

    A list of objects that all carry a naming key is listed as ``list[name=X].value``
    (how a mapping picks from it); any other list as a whole, a line item list included.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{prefix}.{key}" if prefix else str(key))
        return
    pick = _pick_key(value)
    if pick is None:
        yield prefix, value
        return
    for item in value:
        name = item[pick].strip()
        yield from leaves({k: v for k, v in item.items() if k != pick},
                          f"{prefix}[{pick}={name}]")


def _pick_key(value: Any) -> str | None:
    if not isinstance(value, list) or not value \
            or not all(isinstance(item, dict) for item in value):
        return None
    return next((key for key in _PICK_KEYS
                 if all(isinstance(item.get(key), str) for item in value)), None)
