"""A CSV ticket's rows repeat its fields: they must agree, or the ticket is rejected."""

from __future__ import annotations

from ..core.models import RawRecord
from .line_items import Fail


def rows_agree(record: RawRecord, fields: tuple[str, ...], fail: Fail) -> None:
    """Each disagreement goes to ``fail`` on the line of the row that disagrees, and names
    that line too: the record's problems are told on one line, its first problem's.

    A blank repeat counts as agreement, and values are compared as the record reads them:
    ``YES`` agrees with ``yes``, tags ``a| b`` with ``a|b``.
    """
    first = record.rows[0][1]
    for line, row in record.rows[1:]:
        for field in fields:
            value = str(row.get(field) or "").strip()
            if value and _canonical(field, value) != _canonical(
                    field, str(first.get(field) or "").strip()):
                fail(field, f"{_shown(value)} on line {line} disagrees with "
                     f"{_shown(first.get(field))} on line {record.line} of the same ticket",
                     line)


def _shown(value: object, limit: int = 60) -> str:
    """A value as a message quotes it, cut short: a message is one line a clerk reads."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


def _canonical(field: str, value: str) -> object:
    if field in ("confirmed", "currency"):
        return value.lower()
    if field == "tags":
        return [tag.strip() for tag in value.split("|") if tag.strip()]
    return value
