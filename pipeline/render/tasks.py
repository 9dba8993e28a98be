"""Render tasks, as both executors run them: one invoice per task, on a worker of this
machine's pool (:mod:`.pool`) or of a Dask cluster (:mod:`.cluster`).

:class:`Rendering` is the task on a worker: the Renderer, the ``render_timeout`` and what
becomes a :class:`RenderFailure`. :func:`hand_out` is the loop on the run's side, written
once for both executors; each says through :class:`Workers` how it submits, waits,
cancels, and shows a worker that died:

- a bounded window of tasks is out at once, so the run's memory stays flat;
- once ``stop`` is set no task starts: those no worker has started are cancelled and
  given back, those running get :data:`GRACE` seconds, then are dropped;
- the tasks of a worker that died are suspects: the culprit, or an innocent that shared
  its worker. Each is rendered again alone once its round is over: the innocent ones
  succeed, the culprit fails alone with :data:`CRASHED`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..core.config import Settings
from ..core.errors import ConfigError, XoiError
from ..core.models import Invoice
from ..core.stop import Stop
from .deadline import TimedOut, deadline
from .pdf import Renderer
from .seam import GRACE, Pending, RenderedPdf, RenderFailure, Result

CRASHED = "its render process died while rendering it (killed, out of memory or crashed)"
POLL = 0.2  # seconds between looks at ``stop`` while waiting for results


@dataclass(frozen=True, slots=True)
class Done:
    """What one task returns: a result per invoice of its batch, in the batch's order, and
    the seconds the worker spent on them (what sizes the next batches)."""

    results: tuple[Result, ...]
    seconds: float


class Rendering:
    """A Renderer that holds the run's deadline for each invoice."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.renderer = Renderer(settings)  # a broken template fails here, once

    def __call__(self, invoice: Invoice) -> Result:
        timeout = self.settings.render_timeout
        try:
            with deadline(timeout):
                pdf, pages = self.renderer.pdf(invoice)
        except TimedOut:
            # The interrupted render may have left caches half-built.
            self.renderer = Renderer(self.settings)
            return RenderFailure(invoice, f"rendering took longer than {timeout} s "
                                 "(render_timeout)")
        except ConfigError:
            raise  # a template the sandbox refused: every invoice would fail, stop (exit 2)
        except XoiError as error:
            return RenderFailure(invoice, error.message)
        except Exception as error:
            return RenderFailure(invoice, f"cannot render: {type(error).__name__}: {error}")
        return RenderedPdf(invoice, pdf, pages)

    def batch(self, invoices: Sequence[Invoice]) -> Done:
        """A task's batch, each invoice under its own deadline."""
        started = time.perf_counter()
        results = tuple(self(invoice) for invoice in invoices)
        return Done(results, time.perf_counter() - started)


Task = TypeVar("Task")  # how an executor holds a task it handed out: its future


class Workers(Protocol[Task]):
    """An executor's workers for one round of the loop."""

    def room(self) -> int:
        """How many tasks may be out at once now; 0 once these workers take no more."""
        ...

    def submit(self, invoice: Invoice) -> Task: ...

    def finished(self, out: Collection[Task], timeout: float) -> Collection[Task]:
        """Tasks that have finished, waiting up to ``timeout`` seconds for one."""
        ...

    def result(self, task: Task) -> Result | None:
        """A finished task's result; None when its worker died with it."""
        ...

    def cancel_waiting(self, out: Collection[Task]) -> list[Task]:
        """Cancel the tasks of ``out`` no worker has started; those cancelled."""
        ...

    def end(self, out: Collection[Task]) -> None:
        """Drop the tasks still out when the grace period is over."""
        ...


Rounds = Callable[[Pending], AbstractContextManager[Workers[Task]]]


def hand_out(rounds: Rounds[Task], invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
    """Render ``invoices`` in rounds, each on the workers ``rounds`` opens for the invoices
    left; results come as tasks finish. A round ends when every invoice is out, or when
    its workers take no more (the pool recycles its workers, or one of them died)."""
    queue = Pending(invoices)
    while not stop.is_set() and queue:
        with rounds(queue) as workers:
            suspects = yield from _round(workers, queue, stop)
        for invoice in suspects:
            if stop.is_set():
                break
            alone = Pending([invoice])
            with rounds(alone) as workers:
                if (yield from _round(workers, alone, stop)):
                    yield RenderFailure(invoice, CRASHED)


def _round(workers: Workers[Task], queue: Pending,
           stop: Stop) -> Generator[Result, None, list[Invoice]]:
    """Render invoices of ``queue`` until it is empty or ``workers`` take no more.

    Returns the invoices whose worker died with them before a stop; what was not handed
    out stays in ``queue``, given back there when it was cancelled at a stop.
    """
    out: dict[Task, Invoice] = {}
    suspects: list[Invoice] = []
    grace: float | None = None

    def fill() -> None:
        while not stop.is_set() and len(out) < workers.room() and queue:
            invoice = queue.take()
            out[workers.submit(invoice)] = invoice

    fill()
    while out:
        done = workers.finished(out, POLL)
        if grace is None and stop.is_set():
            grace = time.monotonic() + GRACE
            for task in workers.cancel_waiting(out):
                queue.give_back(out.pop(task))
        # In the order they were handed out; a task cancelled at the stop is no longer out.
        for task in [task for task in out if task in done]:
            invoice = out.pop(task)
            result = workers.result(task)
            if result is None:
                if grace is None:  # at a stop it is dropped: the next run renders it
                    suspects.append(invoice)
                continue
            yield result
            fill()
        if grace is not None and time.monotonic() > grace and out:
            workers.end(out)
            break
        fill()
    return suspects
