"""The first stages over a command's inputs as one stream: read, check, link, a few
hundred work orders at a time (:data:`CHUNK`).

``validate`` and ``run`` both go through a million records this way in bounded memory:
:class:`Linking` gives each chunk's invoices and unconfirmed orders, with the ledger rows
of just those tickets, and keeps only problems. What it holds per ticket of the input is
what later orders are checked against: a digest in :class:`inputs.Checking` (one record
per ticket) and in :class:`~pipeline.link.Claims` (share IDs and invoice numbers). What the
folder issued before stays in the ledger: each chunk asks it for the rows of its tickets,
share IDs and invoice numbers, on the ledger's indexes, so a folder's history of many
nights costs no memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from ..core.config import Settings
from ..core.models import Invoice, Problem, Rendered, Warning_, WorkOrder
from ..core.stop import Stop
from ..link import Claims
from ..read import lines
from ..store import OutputFolder
from ..validate import Checking, in_file_order

T = TypeVar("T")
CHUNK = 256


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk's valid orders: confirmed ones with their invoice, unconfirmed ones, and
    the folder's rows of these tickets (see :meth:`OutputFolder.published_of`)."""

    invoices: list[Invoice]
    unconfirmed: list[WorkOrder]
    published: Mapping[str, Rendered]


class Linking:
    """Every record of ``inputs``, checked and linked against ``folder``'s ledger (none:
    nothing published), chunk by chunk; :attr:`checked` and :attr:`unlinked` keep the
    problems, the check's and the links'. A ``stop`` request ends the reading early."""

    def __init__(self, inputs: list[Path], settings: Settings, today: date, *,
                 folder: OutputFolder | None = None, stop: Stop | None = None) -> None:
        self.inputs = inputs
        self.folder = folder
        self.checking = Checking(inputs, settings, stop=stop)
        self.claims = Claims(settings, today, issued=folder,
                                   formats=self.checking.formats)
        self.checked: list[Problem] = []
        self.unlinked: list[Problem] = []
        self.confirmed = 0
        # Tickets given in a chunk, then rejected whole when another record of theirs came
        # (see :class:`inputs.Checking`): known only at the end, so the caller drops their
        # invoices and unconfirmed orders from what it planned.
        self.dropped: set[str] = set()

    @property
    def read(self) -> int:
        return self.checking.read

    @property
    def warnings(self) -> list[Warning_]:
        return self.claims.warnings

    def problems(self) -> list[Problem]:
        """Every rejection in file order, the check's ahead of the links' on one line."""
        return in_file_order([*self.checked, *self.unlinked], self.inputs)

    def __iter__(self) -> Iterator[Chunk]:
        # Linking each order right after its check costs ~17 % more time than a chunk of
        # checks, then its links: the two stages evict each other from the caches.
        for items in _chunks(self.checking, CHUNK):
            orders, unconfirmed = [], []
            for item in items:
                if isinstance(item, Problem):
                    self.checked.append(item)
                elif item.confirmed:
                    orders.append(item)
                else:
                    unconfirmed.append(item)
            published = {} if self.folder is None else self.folder.published_of(
                [order.service_ticket for order in (*orders, *unconfirmed)])
            self.claims.look_up(orders, published)
            invoices = []
            for order in orders:
                if isinstance(invoice := self.claims.invoice(order), Problem):
                    self.unlinked.append(invoice)
                else:
                    invoices.append(invoice)
            self.confirmed += len(invoices)
            yield Chunk(invoices, unconfirmed, published)
        self._withdraw()

    def _withdraw(self) -> None:
        if not self.checking.withdrawn:
            return
        unlinked = {(problem.source, problem.line) for problem in self.unlinked}
        for problem, confirmed in self.checking.withdrawn:
            self.dropped.add(problem.service_ticket or "")
            if (problem.source, problem.line) in unlinked:
                continue  # rejected already, for its link: neither counted nor told twice
            self.checked.append(problem)
            self.confirmed -= confirmed
        self.checked = in_file_order(self.checked, self.inputs)


def readable(inputs: Iterable[Path]) -> None:
    """:class:`InputError` for an input that cannot be opened, before a run takes its
    folder: nothing is written for a missing file. One broken further in is found as the
    run reads it, under the lock: before anything is written, though a folder the run
    made stays (empty but for its ledger)."""
    for path in inputs:
        # Opened only: Latin-1 decodes any bytes, whatever a mapping says the file is in;
        # the generator, dropped at once, closes the file.
        next(lines(Path(path), "latin-1"), None)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
