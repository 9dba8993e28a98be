"""Tickets a clerk types on the command line, and what to say when one is not there: a file
given where a ticket goes, the closest tickets that are (a typo must not look served).

The closest are the nearest by :func:`tickets.print_key` (letter case and look-alike
forms do not count) among a bounded few: a ledger's tickets that sort next to what was
typed (:meth:`Ledger.near`), or those an input's chunks brought (:class:`Nearest`),
so a million-row ledger or export answers as fast as a small one.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher
from pathlib import Path

from ..core.errors import ConfigError
from ..core.suggest import closest_few
from ..core.tickets import print_key
from .ledger import Ledger

SHOWN = 3  # closest tickets named in a message
_PER_KEY = 5  # ledger tickets on each side of each spelling looked at
_TIES = 4  # equally close tickets put in order, per ticket shown
_KEPT = SHOWN * _TIES  # kept per ticket while an input's chunks go by
_CUTOFF = 0.6  # difflib's: how alike a ticket must be to be named at all


def not_files(tickets: Iterable[str], hint: str) -> None:
    """:class:`ConfigError` when a ticket names a file or folder that exists, a path
    (``/``) or one with an extension: arguments out of order (``regenerate orders.csv
    --input ...``)."""
    for ticket in tickets:
        path = Path(ticket)
        if (path.suffix or "/" in ticket) and path.exists():
            what = "folder" if path.is_dir() else "file"
            raise ConfigError(f"{ticket} is a {what}, not a ticket: {hint}")


def closest(ticket: str, choices: Iterable[str], n: int = SHOWN,
            cutoff: float = _CUTOFF) -> list[str]:
    """The ``n`` tickets of ``choices`` most like ``ticket`` (at least ``cutoff`` alike),
    the closest first and equally close ones in order (difflib gives those last first:
    WO-10429 before WO-10420)."""
    found = closest_few(ticket, choices, n=n * _TIES, key=print_key, cutoff=cutoff)
    return sorted(found, key=lambda choice: (-_likeness(ticket, choice), choice))[:n]


def _likeness(ticket: str, choice: str) -> float:
    return SequenceMatcher(None, print_key(ticket), print_key(choice)).ratio()


def closest_invoiced(ledger: Ledger | None, ticket: str) -> list[str]:
    """The ledger's tickets most like ``ticket``, from those that sort next to it as
    typed, in upper and lower case, and next to each shorter start of it (a digit left
    out)."""
    if ledger is None:
        return []
    keys = {spelling[:length] for spelling in {ticket, ticket.upper(), ticket.lower()}
            for length in range(1, len(spelling) + 1)}
    return closest(ticket, ledger.near(keys, _PER_KEY) - {ticket})


def listed(found: list[str]) -> str:
    """``"; closest: 'WO-10421', 'WO-10420'"`` to end a message with, or ``""``."""
    return f"; closest: {', '.join(map(repr, found))}" if found else ""


class Nearest:
    """The closest tickets to each of ``wanted`` among everything :meth:`saw` was given,
    a bounded few each as the chunks of an input go by (:func:`closest` of them to show).

    Once a ticket has its few, a chunk's tickets must be at least as alike as the least
    of them: difflib's quick bounds then drop nearly all without comparing them.
    """

    def __init__(self, wanted: Iterable[str]) -> None:
        self.found: dict[str, list[str]] = {ticket: [] for ticket in wanted}
        self.floor = dict.fromkeys(self.found, _CUTOFF)

    def saw(self, tickets: list[str], missing: Iterable[str]) -> None:
        """``tickets`` of one chunk, for the ``missing`` tickets (not found yet)."""
        for ticket in missing:
            kept = closest(ticket, [*self.found[ticket], *tickets], _KEPT, self.floor[ticket])
            self.found[ticket] = kept
            if len(kept) == _KEPT:
                self.floor[ticket] = _likeness(ticket, kept[-1])

    def of(self, ticket: str) -> list[str]:
        return closest(ticket, self.found[ticket])
