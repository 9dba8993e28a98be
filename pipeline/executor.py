"""The render seam: invoices in, typed results out as they finish.

An :class:`Executor` turns invoices into PDF bytes and nothing else: it writes no file
and records nothing, so the batch stays the only writer of the output folder whichever
executor renders. Results come in the order invoices finish; each is a
:class:`RenderedPdf` or a :class:`RenderFailure` with the reason a clerk reads.

Three implementations: in :mod:`workers`, ``InProcess`` (one worker, or one invoice) and
``ProcessPool``; in :mod:`cluster`, ``Cluster`` (a Dask scheduler, ``settings.cluster``).
:func:`executor_for` picks one from the settings; another engine plugs in there and
nowhere else.

An executor watches ``stop`` (see :mod:`stopping`): once it is set, no invoice starts;
those in flight finish within :data:`GRACE` seconds or are dropped, and are then simply
not in the results (the next run renders them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from .config import Settings
from .errors import ConfigError
from .models import Invoice

GRACE = 3.0  # seconds an invoice in flight may still take once a stop is asked for


@dataclass(frozen=True, slots=True)
class RenderedPdf:
    invoice: Invoice
    pdf: bytes
    pages: int


@dataclass(frozen=True, slots=True)
class RenderFailure:
    invoice: Invoice
    reason: str


Result = RenderedPdf | RenderFailure


class Stop(Protocol):
    """What an executor needs of a stop request (a :class:`threading.Event` will do)."""

    def is_set(self) -> bool: ...


class Executor(Protocol):
    def render(self, invoices: Sequence[Invoice], stop: Stop) -> Iterator[Result]:
        """One result per invoice that was rendered or failed, as they finish."""
        ...


def executor_for(settings: Settings, count: int) -> Executor:
    """The executor for rendering ``count`` invoices with these settings."""
    from .workers import InProcess, ProcessPool  # WeasyPrint loads only when rendering

    if settings.cluster:
        try:
            from .cluster import Cluster
        except ImportError as error:
            if error.name is None or error.name.split(".")[0] not in ("distributed", "dask"):
                raise
            raise ConfigError("--cluster needs Dask: pip install 'xoi-invoices[cluster]'",
                              source=settings.cluster) from None
        return Cluster(settings)
    if settings.workers <= 1 or count <= 1:
        return InProcess(settings)
    return ProcessPool(settings)
