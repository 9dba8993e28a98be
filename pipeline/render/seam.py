"""The render seam: invoices in, typed results out as they finish.

An :class:`Executor` turns invoices into PDF bytes and nothing else: it writes no file
and records nothing, so the batch stays the only writer of the output folder whichever
executor renders. Results come in the order invoices finish; each is a
:class:`RenderedPdf` or a :class:`RenderFailure` with the reason a clerk reads.

Three implementations: in :mod:`.pool`, ``InProcess`` (one worker, or one invoice) and
``ProcessPool``; in :mod:`.cluster`, ``Cluster`` (a Dask scheduler, ``settings.cluster``).
:func:`.backend.renderers` picks one from the settings; another engine plugs in there
and nowhere else. This module imports none of them: they depend on it.

Invoices come as an iterable, pulled as the executor hands them out (a run of a million
reads them from a spool on disk, see :mod:`pipeline.plan.spool`); the executor is told
how many. An executor keeps a bounded number taken and not yet finished (:class:`Pending`).

An executor watches ``stop`` (see :mod:`pipeline.cli.signals`): once it is set, no task
starts; those in flight (a task is a batch of 0.25 s of work on the pool, 2 s on a
cluster) finish within :data:`GRACE` seconds or are dropped, and are then simply not in
the results (the next run renders them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..core.models import Invoice
from ..core.stop import Stop

GRACE = 3.0  # seconds a task in flight may still take once a stop is asked for


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    invoice: Invoice
    pdf: bytes
    pages: int
    xml_sha256: str = ""  # of the e-invoice XML it embeds; "" when it is no e-invoice


@dataclass(frozen=True, slots=True)
class RenderFailure:
    invoice: Invoice
    reason: str


Result = RenderedPdf | RenderFailure


class Executor(Protocol):
    def render(self, invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
        """One result per invoice that was rendered or failed, as they finish; ``invoices``
        is read once, as far as the executor gets (not past a stop)."""
        ...


ExecutorFor = Callable[[int], Executor]  # the run's executor, told how many invoices it gets


class Pending:
    """The invoices not handed to a renderer yet: those given back first (cancelled at a
    stop), then the rest of the caller's iterable, taken only when asked for."""

    def __init__(self, invoices: Iterable[Invoice]) -> None:
        self._back: deque[Invoice] = deque()
        self._rest = iter(invoices)

    def __bool__(self) -> bool:
        return self.ahead(1) > 0

    def ahead(self, wanted: int) -> int:
        """How many invoices are left, counting no further than ``wanted``."""
        while len(self._back) < wanted:
            invoice = next(self._rest, None)
            if invoice is None:
                break
            self._back.append(invoice)
        return min(len(self._back), wanted)

    def take(self, wanted: int) -> list[Invoice]:
        """The next ``wanted`` invoices, or as many as are left."""
        self.ahead(wanted)
        return [self._back.popleft() for _ in range(min(wanted, len(self._back)))]

    def give_back(self, invoices: Sequence[Invoice]) -> None:
        """Invoices taken but not rendered: they come next again, in the same order."""
        self._back.extendleft(reversed(invoices))
