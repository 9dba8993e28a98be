"""How an export writes its values and names its fields, as the validator needs to know.

Our own format is :data:`OURS`: ISO dates, a decimal point, amounts in currency units, our
field names. A mapping (:mod:`.mapping_file`) gives another :class:`Formats`; the validator and
the line items parse every date and number through it, so each rule has one owner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

_ITEM_NAME = re.compile(r"line_items\[(\d+)\]\.(\w+)")
# The day a format is tried on: every field of it differs (day 28 is no month).
SAMPLE_DAY = date(2026, 11, 28)


@dataclass(frozen=True, slots=True)
class Formats:
    dates: str | None = None  # strptime format; None: ISO dates (YYYY-MM-DD)
    decimal: str | None = None  # "." or ","; None: our numbers (a point, no grouping)
    cents: frozenset[str] = frozenset()  # fields in integer minor units (12950 = 129.50)
    yes: frozenset[str] = frozenset()  # words for yes / no beside the built-in ones
    no: frozenset[str] = frozenset()
    # Our field → the export's column or path, when they differ: problems name both.
    names: dict[str, str] = field(default_factory=dict)
    items: str = "line_items"  # the export's path of a JSON work order's line items

    def label(self, name: str) -> str:
        """A field as a problem names it: ``Job Address (location)``, or ours alone when
        the export calls it as we do."""
        if not self.names:
            return name
        if name in self.names:
            return f"{self.names[name]} ({name})"
        listed = _ITEM_NAME.fullmatch(name)
        if listed:
            inner = self.names.get(f"item_{listed[2]}", listed[2])
            return f"{self.items}[{listed[1]}].{inner} ({name})"
        return name

    def day(self, text: str) -> date:
        """The date ``text`` in this export's format; ``ValueError`` when it is not one."""
        assert self.dates is not None
        return datetime.strptime(text, self.dates).date()

    def example(self) -> str:
        """What a date looks like in this export: a problem shows it."""
        assert self.dates is not None
        return SAMPLE_DAY.strftime(self.dates)


OURS = Formats()
