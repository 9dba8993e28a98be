"""The tickets a clerk names (``run --only``, ``regenerate``): which of them the input
holds, and why the others cannot be invoiced.

Only the named tickets are followed by ticket, whatever the input's size; when none is
named, every ticket is the run's.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..store import Nearest, listed
from ..validate import canonical_ticket
from .stream import Chunk, Linking


class NamedTickets:
    """The tickets a command names, spelled as a validated export spells them: told each
    chunk as the input goes by (:meth:`saw`), then asked which cannot be invoiced
    (:meth:`unservable`)."""

    def __init__(self, tickets: Iterable[str]) -> None:
        self.wanted = frozenset(canonical_ticket(ticket) for ticket in tickets)
        self._found: set[str] = set()
        self._unconfirmed: set[str] = set()
        self._nearest = Nearest(self.wanted)  # for a ticket in none of the inputs (a typo)

    def includes(self, ticket: str | None) -> bool:
        """Whether the run answers for ``ticket``: any ticket when none is named."""
        return not self.wanted or ticket in self.wanted

    def saw(self, chunk: Chunk) -> None:
        if self.wanted:
            tickets = [item.ticket for item in chunk.invoices]
            unconfirmed = [order.service_ticket for order in chunk.unconfirmed]
            self._found |= self.wanted.intersection(tickets)
            self._unconfirmed |= self.wanted.intersection(unconfirmed)
            self._nearest.saw([*tickets, *unconfirmed],
                              self.wanted - self._found - self._unconfirmed)

    def unservable(self, linking: Linking) -> dict[str, str]:
        """The named tickets that are no confirmed, valid work order, and why."""
        # A valid confirmed order whose link was refused is found: it is rejected.
        found = (self._found - linking.dropped) | {problem.service_ticket
                                                   for problem in linking.unlinked}
        rejected = {problem.service_ticket for problem in linking.checked}
        reasons = {}
        for ticket in self.wanted - found:
            if ticket in self._unconfirmed:
                reasons[ticket] = ("is not confirmed: the technician has not completed the "
                                   "workflow, so it gets no invoice")
            elif ticket in rejected:
                reasons[ticket] = "was rejected; run `xoi-invoices validate` to see why"
            else:
                reasons[ticket] = \
                    f"is in none of the inputs{listed(self._nearest.of(ticket))}"
        return reasons
