"""The executors of this machine (see :mod:`.seam`): in this process, or in a pool of
worker processes, each with its own reusable Renderer (:class:`.tasks.Rendering`).

A pool task carries a batch of invoices, about :data:`POOL_TASK_SECONDS` of a worker's
time (:class:`.tasks.Sizer`): measured, that took the run's own CPU from 2.2 to 1.5 ms an
invoice. Results come back as batches finish; the caller writes files and records them,
so the output stays deterministic whatever order the workers finish in.

A nightly run must end, whatever one invoice does:

- an invoice that renders longer than ``render_timeout`` seconds is stopped in its
  worker (:mod:`.deadline`) and reported as failed; the worker builds a fresh Renderer
  and goes on;
- a worker that dies (killed, out of memory, a crash in a C library) breaks its pool. The
  invoices the pool had in flight are rendered again in a new pool, one invoice a task,
  and those that break it again each alone in a pool of its own: the innocent ones
  succeed, the one that kills its worker again is reported as failed, and the rest of the
  run goes on in a new pool (the loop is :func:`.tasks.hand_out`);
- a run that is killed takes its workers with it (:func:`_exit_with_run`);
- a run that is asked to stop (``stop``) starts no more invoices, lets those in flight
  finish for :data:`.seam.GRACE` seconds, then ends the workers. Workers ignore
  SIGINT, which a terminal's Ctrl-C sends to every process of the run: the run decides
  when they stop. Not SIGTERM: the pool itself ends broken workers with it.

Workers are recycled after :data:`TASKS_PER_WORKER` invoices each, by starting a fresh
pool for every ``workers * TASKS_PER_WORKER`` invoices. Not with ``max_tasks_per_child``:
on Python 3.11 a pool whose workers reach that limit near the end of the queue can be
left with no worker and wait forever (CPython gh-115634; see docs/performance.md).
Measured, a worker's memory stays flat anyway; the recycling is only a safety net.

The forkserver imports :mod:`pipeline.render.pdf` (WeasyPrint) once, so a new worker starts
in milliseconds instead of importing it again.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from typing import ClassVar

from ..core.config import Settings
from ..core.models import Invoice
from ..core.stop import Stop
from .pdf import Renderer
from .seam import Pending, Result
from .tasks import Done, Rendering, hand_out

TASKS_PER_WORKER = 1000  # invoices, in however many tasks
POOL_TASK_SECONDS = 0.25  # of a worker's time per task; see docs/performance.md


class InProcess:
    """Renders in this process, one invoice after another."""

    def __init__(self, settings: Settings) -> None:
        self.rendering = Rendering(settings)

    def render(self, invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
        for invoice in invoices:
            if stop.is_set():
                return
            yield self.rendering(invoice)


class _InWorker:
    """A pool worker's own Rendering: the pool's initializer builds it, each task uses it.

    Held by the class, not an instance: the pool pickles :meth:`start` and :meth:`render`
    by name, so in a worker both reach the same one.
    """

    rendering: ClassVar[Rendering]

    @classmethod
    def start(cls, settings: Settings, lifeline: Connection) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_exit_with_run, args=(lifeline,), daemon=True).start()
        cls.rendering = Rendering(settings)

    @classmethod
    def render(cls, batch: Sequence[Invoice]) -> Done:
        return cls.rendering.batch(batch)


def _exit_with_run(lifeline: Connection) -> None:
    """End this worker when the run ends, however it ends.

    Only the run holds the other end of ``lifeline``: reading hits end-of-file once the
    run is gone, even killed with SIGKILL. A worker cannot wait for its queue instead:
    it holds a copy of the queue's writing end itself, and the forkserver stays up as
    long as any worker does; both would wait forever, holding WeasyPrint's memory.
    """
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv()
    os._exit(1)


class ProcessPool:
    """Renders in ``settings.workers`` processes started from a forkserver."""

    def __init__(self, settings: Settings) -> None:
        Renderer(settings)  # a broken template or logo fails here, before any worker starts
        self.settings = settings

    def render(self, invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([Renderer.__module__])
        lifeline, held = context.Pipe(duplex=False)
        try:
            yield from hand_out(functools.partial(_pool, settings=self.settings,
                                                  context=context, lifeline=lifeline),
                                invoices, stop, seconds=POOL_TASK_SECONDS)
        finally:
            lifeline.close()
            held.close()


@contextlib.contextmanager
def _pool(queue: Pending, *, settings: Settings, context: ForkServerContext,
          lifeline: Connection) -> Iterator[_Pool]:
    """Fresh workers for the next invoices of ``queue``, as many as it has, up to
    ``settings.workers``."""
    with ProcessPoolExecutor(
        max_workers=queue.ahead(settings.workers), mp_context=context,
        initializer=_InWorker.start, initargs=(settings, lifeline),
    ) as pool:
        yield _Pool(pool, settings.workers)


class _Pool:
    """A pool's workers as the loop sees them, for up to ``workers * TASKS_PER_WORKER``
    invoices (then the loop starts a fresh pool), or until one of them dies: that breaks
    the pool, and every task out fails with it."""

    def __init__(self, pool: ProcessPoolExecutor, workers: int) -> None:
        self.pool = pool
        self.window = workers * 2  # tasks out: one rendering, one waiting, per worker
        self.budget = workers * TASKS_PER_WORKER
        self.broken = False

    def room(self) -> int:
        return self.window if self.budget > 0 and not self.broken else 0

    def submit(self, batch: Sequence[Invoice]) -> Future[Done]:
        self.budget -= len(batch)
        try:
            return self.pool.submit(_InWorker.render, batch)
        except BrokenProcessPool as error:
            # A worker died while the run stored a result: this batch's invoices become
            # suspects, rendered again like the others the pool had in hand.
            self.broken = True
            failed: Future[Done] = Future()
            failed.set_exception(error)
            return failed

    def finished(self, out: Collection[Future[Done]],
                 timeout: float) -> Collection[Future[Done]]:
        return wait(out, timeout=timeout, return_when=FIRST_COMPLETED).done

    def result(self, task: Future[Done]) -> Done | None:
        try:
            return task.result()
        except BrokenProcessPool:
            self.broken = True
            return None

    def cancel_waiting(self, out: Collection[Future[Done]]) -> list[Future[Done]]:
        return [task for task in out if task.cancel()]

    def end(self, out: Collection[Future[Done]]) -> None:
        """Kill the pool's workers: the invoices they hold past the grace time are dropped.

        ``concurrent.futures`` has no public way before Python 3.14 (``terminate_workers``).
        """
        for process in list(getattr(self.pool, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                process.kill()
