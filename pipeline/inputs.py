"""All the inputs of a command, read and validated into the contract's buckets.

The first two stages of the data's path (:mod:`read`, :mod:`validate`) over many files:
confirmed and unconfirmed work orders, and one problem per rejected record, with a ticket
that appears twice across the files rejected where it appears again. :class:`Checking`
gives them one at a time and keeps only a few dozen bytes per ticket, so ``validate``
goes through a million records in bounded memory; :func:`check` collects them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .compact import digest
from .config import Settings
from .executor import Stop
from .formats import OURS, Formats
from .mapped import read_mapped
from .mapping import load
from .models import Problem, WorkOrder
from .read import read_file
from .validate import validate

_LINE_BITS = 40  # a first record's place is one int: its source's number, then its line


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
        self.mapping = None if settings.mapping is None else load(settings.mapping)
        self.formats = OURS if self.mapping is None else self.mapping.formats
        self.read = 0
        self._first: dict[int, int] = {}  # ticket's digest → where its first record is
        self._numbers: dict[str, int] = {}  # source → its number
        self._sources: list[str] = []

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
                yield item if isinstance(item, Problem) else self._checked(
                    validate(item, self.settings.currency, for_launch=self.for_launch,
                             formats=self.formats))

    def _checked(self, result: WorkOrder | Problem) -> WorkOrder | Problem:
        if isinstance(result, Problem):
            return result
        ticket = digest(result.service_ticket)
        first = self._first.get(ticket)
        if first is None:
            number = self._numbers.get(result.source)
            if number is None:
                number = self._numbers[result.source] = len(self._sources)
                self._sources.append(result.source)
            self._first[ticket] = number << _LINE_BITS | result.line
            return result
        where = f"{self._sources[first >> _LINE_BITS]}:{first & ((1 << _LINE_BITS) - 1)}"
        return Problem(result.source, result.line, result.service_ticket,
                       f"{self.formats.label('service_ticket')}: also on {where}; a ticket "
                       "may appear in one record only")


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
    checked.read = checking.read
    checked.formats = checking.formats
    return checked


def in_file_order(problems: list[Problem], inputs: list[Path]) -> list[Problem]:
    """Rejections in file order, whichever stage found them."""
    position = {str(path): index for index, path in enumerate(inputs)}
    return sorted(problems, key=lambda problem: (position.get(problem.source, 0), problem.line))
