"""The executors of this machine (see :mod:`executor`): in this process, or in a pool of
worker processes, each with its own reusable Renderer.

Results come back as they finish; the caller writes files and records them, so the
output stays deterministic whatever order the workers finish in.

A nightly run must end, whatever one invoice does:

- an invoice that renders longer than ``render_timeout`` seconds is stopped in its
  worker (:mod:`deadline`) and reported as failed; the worker builds a fresh Renderer
  and goes on;
- a worker that dies (killed, out of memory, a crash in a C library) breaks its pool. The
  invoices it had in flight are rendered again, each alone in a pool of its own: the
  innocent ones succeed, the one that kills its worker again is reported as failed, and
  the rest of the run goes on in a new pool;
- a run that is killed takes its workers with it (:func:`_exit_with_run`);
- a run that is asked to stop (``stop``) starts no more invoices, lets those in flight
  finish for :data:`executor.GRACE` seconds, then ends the workers. Workers ignore
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
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext

from ..core.config import Settings
from ..core.errors import ConfigError, XoiError
from ..core.models import Invoice
from ..core.stop import Stop
from .deadline import TimedOut, deadline
from .pdf import Renderer
from .seam import GRACE, Pending, RenderedPdf, RenderFailure, Result

TASKS_PER_WORKER = 1000
CRASHED = "its render process died while rendering it (killed, out of memory or crashed)"
_POLL = 0.2  # seconds between looks at ``stop`` while waiting for results


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


class InProcess:
    """Renders in this process, one invoice after another."""

    def __init__(self, settings: Settings) -> None:
        self.rendering = Rendering(settings)

    def render(self, invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
        for invoice in invoices:
            if stop.is_set():
                return
            yield self.rendering(invoice)


_rendering: Rendering | None = None  # a pool worker's own


def _start_worker(settings: Settings, lifeline: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_run, args=(lifeline,), daemon=True).start()
    global _rendering
    _rendering = Rendering(settings)


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


def _render(invoice: Invoice) -> Result:
    assert _rendering is not None
    return _rendering(invoice)


class ProcessPool:
    """Renders in ``settings.workers`` processes started from a forkserver."""

    def __init__(self, settings: Settings) -> None:
        Renderer(settings)  # a broken template or logo fails here, before any worker starts
        self.settings = settings

    def render(self, invoices: Iterable[Invoice], stop: Stop) -> Iterator[Result]:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([Renderer.__module__])
        lifeline, held = context.Pipe(duplex=False)
        queue = Pending(invoices)
        workers = self.settings.workers
        try:
            while queue and not stop.is_set():
                suspects = yield from _pool(queue, self.settings, workers, context, lifeline,
                                            stop)
                for invoice in suspects:
                    if stop.is_set():
                        break
                    if (yield from _pool(Pending([invoice]), self.settings, 1, context,
                                         lifeline, stop)):
                        yield RenderFailure(invoice, CRASHED)
        finally:
            lifeline.close()
            held.close()


def _pool(queue: Pending, settings: Settings, workers: int, context: ForkServerContext,
          lifeline: Connection, stop: Stop) -> Generator[Result, None, list[Invoice]]:
    """Render up to ``workers * TASKS_PER_WORKER`` invoices of ``queue`` in fresh workers.

    Returns the invoices that were in flight when a worker died (none if none did, or
    when the run was stopped); what was not yet handed to a worker stays in ``queue``.
    """
    budget = workers * TASKS_PER_WORKER
    in_flight: dict[Future[Result], Invoice] = {}
    deadline: float | None = None
    with ProcessPoolExecutor(
        max_workers=queue.ahead(workers), mp_context=context,
        initializer=_start_worker, initargs=(settings, lifeline),
    ) as pool:

        def submit() -> None:
            nonlocal budget
            if queue and budget:
                budget -= 1
                invoice = queue.take()
                in_flight[pool.submit(_render, invoice)] = invoice

        # A bounded window of pending tasks keeps the parent's memory flat too.
        for _ in range(workers * 4):
            submit()
        while in_flight:
            done, _ = wait(in_flight, timeout=_POLL, return_when=FIRST_COMPLETED)
            if stop.is_set() and deadline is None:
                deadline, budget = time.monotonic() + GRACE, 0
                for future in [future for future in in_flight if future.cancel()]:
                    queue.give_back(in_flight.pop(future))
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    return [] if deadline else list(in_flight.values())
                del in_flight[future]
                yield result
                submit()
            if deadline is not None and time.monotonic() > deadline and in_flight:
                _end_workers(pool)
                return []
    return []


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers: the invoices they hold past the grace time are dropped.

    ``concurrent.futures`` has no public way before Python 3.14 (``terminate_workers``).
    """
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(OSError):
            process.kill()
