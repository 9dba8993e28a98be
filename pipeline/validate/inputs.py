"""All the inputs of a command, read and validated into the contract's buckets.

The first two stages of the data's path (:mod:`pipeline.read`, :mod:`pipeline.validate`)
over many files: confirmed and unconfirmed work orders, and one problem per rejected
record. A ticket in two records, or two tickets that print alike
(:func:`tickets.print_key`), cannot be billed whole: every one of their records is
rejected, the first too, after it was given.
:class:`Checking` gives them one at a time and keeps only a few dozen bytes per ticket, so
``validate`` goes through a million records in bounded memory; :func:`check` collects them.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.compact import Texts, digest
from ..core.config import Settings
from ..core.formats import OURS, Formats
from ..core.models import Problem, RawRecord, WorkOrder
from ..core.stop import Stop
from ..core.tickets import canonical, print_key
from ..read import load_mapping, read_file, read_mapped
from .work_order import validate

_LINE_BITS = 40  # a first record's place is one int: its source's number, then its line
# ... and below them what became of it: rejected, or given as valid, confirmed or not.
_REJECTED, _UNCONFIRMED, _CONFIRMED = range(3)


@dataclass
class Checked:
    """The work orders of all inputs, sorted into the contract's buckets."""

    confirmed: list[WorkOrder] = field(default_factory=list)
    unconfirmed: list[WorkOrder] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    read: int = 0
    formats: Formats = OURS  # how problems name the export's fields


class Checking:
    """Every record of ``inputs`` in file order, as a valid work order or the problem that
    rejects it; ``read`` counts them. An unreadable file raises :class:`InputError`.

    ``for_launch`` checks only what launch pages carry (see :func:`validate`). A ``stop``
    request ends the reading early. ``settings.mapping`` is loaded here, before any input
    is read; without one, the files are read as ours.
    """

    def __init__(self, inputs: Iterable[Path], settings: Settings, *,
                 for_launch: bool = False, stop: Stop | None = None) -> None:
        self.inputs = list(inputs)
        self.settings = settings
        self.for_launch = for_launch
        self.stop = stop
        self.mapping = None if settings.mapping is None else load_mapping(settings.mapping)
        self.formats = OURS if self.mapping is None else self.mapping.formats
        self.read = 0
        # The first record of each ticket, by its print key's digest: its ticket (text, for
        # the message when another record prints alike) and its place, an int (see above).
        self._first: dict[int, int] = {}
        self._tickets = Texts()
        self._places = array("Q")
        self._numbers: dict[str, int] = {}  # source → its number
        self._sources: list[str] = []
        # The problems of first records given as valid before a later record of their
        # ticket came, each with whether it was confirmed.
        self.withdrawn: list[tuple[Problem, bool]] = []

    def __iter__(self) -> Iterator[WorkOrder | Problem]:
        files: set[Path] = set()
        for path in self.inputs:
            # The same file named twice (a glob and a path) is one file, not duplicate tickets.
            if Path(path).resolve() in files:
                continue
            files.add(Path(path).resolve())
            records = read_file(Path(path)) if self.mapping is None else \
                read_mapped(Path(path), self.mapping)
            for item in records:
                if self.stop is not None and self.stop.is_set():
                    return
                self.read += 1
                if isinstance(item, Problem):
                    yield self._once(item, item.service_ticket)
                    continue
                result = validate(item, self.settings.currency, for_launch=self.for_launch,
                                  formats=self.formats,
                                  einvoice=self.settings.company
                                  if self.settings.einvoice else None)
                yield self._once(result, result.service_ticket if isinstance(
                    result, WorkOrder) else result.service_ticket or _raw_ticket(item))

    def _once(self, result: WorkOrder | Problem, ticket: str | None) -> WorkOrder | Problem:
        """``result``, or the problem that rejects it when an earlier record has a ticket
        that prints as its ``ticket`` does (also a rejected one: it may be the part the
        invoice would lack); that earlier record, if given as valid, is withdrawn."""
        if not ticket:
            return result
        key = digest(print_key(ticket))
        first = self._first.get(key)
        place = self._place(result.source, result.line) << 2 | (
            _REJECTED if isinstance(result, Problem) else
            _CONFIRMED if result.confirmed else _UNCONFIRMED)
        if first is None:
            self._first[key] = self._tickets.add(ticket)
            self._places.append(place)
            return result
        earlier, fate = self._tickets[first], self._places[first] & 3
        source, line = self._split(self._places[first] >> 2)
        if fate != _REJECTED:
            self._places[first] &= ~3  # withdrawn once, whatever comes after
            self.withdrawn.append((Problem(source, line, earlier, self._twice(
                earlier, ticket, f"{result.source}:{result.line}")), fate == _CONFIRMED))
        if isinstance(result, Problem):
            return result
        return Problem(result.source, result.line, ticket,
                       self._twice(ticket, earlier, f"{source}:{line}"))

    def _twice(self, ticket: str, other: str, where: str) -> str:
        label = self.formats.label("service_ticket")
        if ticket == other:
            return f"{label}: also on {where}; a ticket may appear in one record only"
        return (f"{label}: {ticket!r} prints like {other!r} on {where}; a ticket may "
                "appear in one record only")

    def _place(self, source: str, line: int) -> int:
        number = self._numbers.get(source)
        if number is None:
            number = self._numbers[source] = len(self._sources)
            self._sources.append(source)
        return number << _LINE_BITS | line

    def _split(self, place: int) -> tuple[str, int]:
        return self._sources[place >> _LINE_BITS], place & ((1 << _LINE_BITS) - 1)


def _raw_ticket(record: RawRecord) -> str | None:
    """The ticket of a record rejected for its ticket's own text (an invisible character,
    a length): what it says may still be the ticket of another record."""
    value = record.rows[0][1].get("service_ticket")
    return canonical(value) if isinstance(value, str) else None


def check(inputs: Iterable[Path], settings: Settings, *, for_launch: bool = False,
          stop: Stop | None = None) -> Checked:
    """Read and validate every input into lists; see :class:`Checking`. A ``stop``
    request ends the reading early: what was read so far is returned."""
    checking = Checking(inputs, settings, for_launch=for_launch, stop=stop)
    checked = Checked()
    for result in checking:
        if isinstance(result, Problem):
            checked.problems.append(result)
        else:
            (checked.confirmed if result.confirmed else checked.unconfirmed).append(result)
    withdrawn = {problem.service_ticket for problem, _ in checking.withdrawn}
    if withdrawn:
        checked.confirmed = [o for o in checked.confirmed if o.service_ticket not in withdrawn]
        checked.unconfirmed = [o for o in checked.unconfirmed
                               if o.service_ticket not in withdrawn]
        checked.problems = in_file_order(
            [*checked.problems, *(problem for problem, _ in checking.withdrawn)],
            checking.inputs)
    checked.read = checking.read
    checked.formats = checking.formats
    return checked


def in_file_order(problems: list[Problem], inputs: list[Path]) -> list[Problem]:
    """Rejections in file order, whichever stage found them."""
    position = {str(path): index for index, path in enumerate(inputs)}
    return sorted(problems, key=lambda problem: (position.get(problem.source, 0), problem.line))
