"""All the inputs of a command, read and validated into the contract's buckets.

The first two stages of the data's path (:mod:`read`, :mod:`validate`) over many files:
confirmed and unconfirmed work orders, and one problem per rejected record, with a ticket
that appears twice across the files rejected where it appears again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .executor import Stop
from .models import Problem, WorkOrder
from .read import read_file
from .validate import validate


@dataclass
class Checked:
    """The work orders of all inputs, sorted into the contract's buckets."""

    confirmed: list[WorkOrder] = field(default_factory=list)
    unconfirmed: list[WorkOrder] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    read: int = 0


def check(inputs: Iterable[Path], settings: Settings, *, for_launch: bool = False,
          stop: Stop | None = None) -> Checked:
    """Read and validate every input; an unreadable file raises :class:`InputError`.

    ``for_launch`` checks only what launch pages carry (see :func:`validate`). A ``stop``
    request ends the reading early: what was read so far is returned.
    """
    checked = Checked()
    seen: dict[str, WorkOrder] = {}
    files: set[Path] = set()
    for path in inputs:
        # The same file named twice (a glob and a path) is one file, not duplicate tickets.
        if Path(path).resolve() in files:
            continue
        files.add(Path(path).resolve())
        for item in read_file(Path(path)):
            if stop is not None and stop.is_set():
                return checked
            checked.read += 1
            result = item if isinstance(item, Problem) else validate(
                item, settings.currency, for_launch=for_launch)
            if isinstance(result, Problem):
                checked.problems.append(result)
                continue
            first = seen.get(result.service_ticket)
            if first is not None:
                checked.problems.append(Problem(
                    result.source, result.line, result.service_ticket,
                    f"service_ticket: also on {first.source}:{first.line}; "
                    "a ticket may appear in one record only"))
                continue
            seen[result.service_ticket] = result
            (checked.confirmed if result.confirmed else checked.unconfirmed).append(result)
    return checked
