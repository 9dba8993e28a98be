"""Render tasks, as both executors run them: a batch of invoices per task, on a worker of
this machine's pool (:mod:`.pool`) or of a Dask cluster (:mod:`.cluster`).

:class:`Rendering` is the task on a worker: the Renderer, the ``render_timeout`` and what
becomes a :class:`RenderFailure`. :func:`hand_out` is the loop on the run's side, written
once for both executors; each says through :class:`Workers` how it submits, waits,
cancels, and shows a worker that died:

- a task carries a batch of invoices, sized (:class:`Sizer`) so that it is about the
  executor's ``seconds`` of a worker's time: what a task costs the run and the scheduler is
  paid once a batch, not once an invoice. Its results are yielded as the batch comes back;
- a bounded window of tasks is out at once, so the run's memory stays flat;
- once ``stop`` is set no task starts: those no worker has started are cancelled and
  given back, those running get :data:`GRACE` seconds, then are dropped;
- the invoices of a task whose worker died are suspects: the culprit, or innocents that
  shared its batch or its worker. Once its round is over they are rendered again as
  tasks of one invoice, side by side; those whose worker died again are rendered each
  alone: the innocent ones succeed, the culprit fails alone with :data:`CRASHED`.
"""

from __future__ import annotations

import hashlib
import math
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
MOST_PER_TASK = 64  # invoices: a batch this big is already 6-13 s of work, and as much to redo
_SMOOTHING = 0.2  # how fast older batches fade from the cost of an invoice


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
                pdf, pages, xml = self.renderer.pdf(invoice)
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
        return RenderedPdf(invoice, pdf, pages,
                           hashlib.sha256(xml).hexdigest() if xml is not None else "")

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

    def submit(self, batch: Sequence[Invoice]) -> Task: ...

    def finished(self, out: Collection[Task], timeout: float) -> Collection[Task]:
        """Tasks that have finished, waiting up to ``timeout`` seconds for one."""
        ...

    def result(self, task: Task) -> Done | None:
        """A finished task's results; None when its worker died with it."""
        ...

    def cancel_waiting(self, out: Collection[Task]) -> list[Task]:
        """Cancel the tasks of ``out`` no worker has started; those cancelled."""
        ...

    def end(self, out: Collection[Task]) -> None:
        """Drop the tasks still out when the grace period is over."""
        ...


Rounds = Callable[[Pending], AbstractContextManager[Workers[Task]]]


class Sizer:
    """How many invoices the next task carries: ``seconds`` of a worker's time at the cost
    of an invoice seen so far, at most :data:`MOST_PER_TASK`, and at most twice the last
    batch that came back. One until a batch has come back, and one when ``seconds`` is 0.
    Near the end of the queue batches shrink so that every task out gets a share of what
    is left: the workers finish together instead of one rendering the last big batch.

    The cost of an invoice is the seconds over the invoices of the recent batches (older
    ones fade), so a batch of 20 weighs 20 times a batch of one; a batch that rendered no
    invoice at all (each failed fast) says nothing about what a PDF costs and is left out:
    a run of broken records would otherwise make the next batches minutes long, past a
    stop's grace."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = self.counted = 0.0  # faded sums: worker seconds, invoices
        self.last = 0  # invoices in the batch that came back last

    @property
    def each(self) -> float | None:
        """Seconds an invoice takes a worker, as far as is known."""
        return self.spent / self.counted if self.counted else None

    def saw(self, done: Done) -> None:
        if not any(isinstance(result, RenderedPdf) for result in done.results):
            return
        fade = 1 - _SMOOTHING
        self.spent = self.spent * fade + done.seconds
        self.counted = self.counted * fade + len(done.results)
        self.last = len(done.results)

    def size(self, room: int, queue: Pending) -> int:
        each = self.each
        if each is None or self.seconds <= 0:
            return 1
        wanted = min(MOST_PER_TASK, 2 * self.last, max(1, round(self.seconds / max(each, 1e-6))))
        left = queue.ahead(room * wanted)
        return max(1, min(wanted, math.ceil(left / room)))


def hand_out(rounds: Rounds[Task], invoices: Iterable[Invoice], stop: Stop, *,
             seconds: float) -> Iterator[Result]:
    """Render ``invoices`` in rounds, each on the workers ``rounds`` opens for the invoices
    left, in tasks of about ``seconds`` of work each; results come as tasks finish. A
    round ends when every invoice is out, or when its workers take no more (the pool
    recycles its workers, or one of them died)."""
    queue, sizer = Pending(invoices), Sizer(seconds)
    while not stop.is_set() and queue:
        with rounds(queue) as workers:
            suspects = yield from _round(workers, queue, stop, sizer)
        if suspects:
            yield from _isolate(rounds, suspects, stop)


def _isolate(rounds: Rounds[Task], suspects: list[Invoice],
             stop: Stop) -> Generator[Result, None, None]:
    """Render again the invoices of tasks whose worker died: side by side as tasks of one
    (a few pools, not one per suspect: a pool costs a Renderer per worker to start), then,
    for those whose worker died again, each alone."""
    queue, one = Pending(suspects), Sizer(0)
    again: list[Invoice] = []
    while not stop.is_set() and queue:
        with rounds(queue) as workers:
            again += yield from _round(workers, queue, stop, one)
    for invoice in again:
        if stop.is_set():
            break
        alone = Pending([invoice])
        with rounds(alone) as workers:
            if (yield from _round(workers, alone, stop, one)):
                yield RenderFailure(invoice, CRASHED)


def _round(workers: Workers[Task], queue: Pending, stop: Stop,
           sizer: Sizer) -> Generator[Result, None, list[Invoice]]:
    """Render invoices of ``queue`` until it is empty or ``workers`` take no more.

    Returns the invoices whose worker died with them before a stop; what was not handed
    out stays in ``queue``, given back there when it was cancelled at a stop.
    """
    out: dict[Task, list[Invoice]] = {}
    suspects: list[Invoice] = []
    grace: float | None = None

    def fill() -> None:
        while not stop.is_set() and len(out) < (room := workers.room()) and queue:
            batch = queue.take(sizer.size(room, queue))
            out[workers.submit(batch)] = batch

    fill()
    while out:
        done = workers.finished(out, POLL)
        if grace is None and stop.is_set():
            grace = time.monotonic() + GRACE
            cancelled = workers.cancel_waiting(out)
            queue.give_back([invoice for task in out if task in cancelled
                             for invoice in out[task]])
            for task in cancelled:
                del out[task]
        # In the order they were handed out; a task cancelled at the stop is no longer out.
        for task in [task for task in out if task in done]:
            batch = out.pop(task)
            finished = workers.result(task)
            if finished is None:
                if grace is None:  # at a stop it is dropped: the next run renders it
                    suspects += batch
                continue
            sizer.saw(finished)
            yield from finished.results
            fill()
        if grace is not None and time.monotonic() > grace and out:
            workers.end(out)
            break
        fill()
    return suspects
