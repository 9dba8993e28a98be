"""Render invoices in a pool of worker processes, each with its own reusable Renderer.

Results come back as they finish; the caller writes files and records them, so the
output stays deterministic whatever order the workers finish in.

A nightly run must end, whatever one invoice does:

- an invoice that renders longer than ``render_timeout`` seconds is stopped by an alarm
  in its worker and reported as failed; the worker builds a fresh Renderer and goes on;
- a worker that dies (killed, out of memory, a crash in a C library) breaks its pool. The
  invoices it had in flight are rendered again, each alone in a pool of its own: the
  innocent ones succeed, the one that kills its worker again is reported as failed, and
  the rest of the run goes on in a new pool;
- a run that is killed takes its workers with it (:func:`_exit_with_run`).

Workers are recycled after :data:`TASKS_PER_WORKER` invoices each, by starting a fresh
pool for every ``workers * TASKS_PER_WORKER`` invoices. Not with ``max_tasks_per_child``:
on Python 3.11 a pool whose workers reach that limit near the end of the queue can be
left with no worker and wait forever (CPython gh-115634; see docs/performance.md).
Measured, a worker's memory stays flat anyway; the recycling is only a safety net.

The forkserver imports :mod:`pipeline.render` (WeasyPrint) once, so a new worker starts
in milliseconds instead of importing it again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from types import FrameType

from .config import Settings
from .errors import XoiError
from .models import Invoice
from .render import Renderer

TASKS_PER_WORKER = 1000
# Result: (invoice, pdf bytes, page count) or (invoice, None, reason of failure)
Result = tuple[Invoice, bytes | None, int | str]
CRASHED = "its render process died while rendering it (killed, out of memory or crashed)"

_renderer: Renderer | None = None


class _TimedOut(BaseException):
    """Raised by the alarm. Not an Exception: WeasyPrint catches those around image
    loading and would carry on without the image."""


def _expire(signum: int, frame: FrameType | None) -> None:
    raise _TimedOut


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Raise :class:`_TimedOut` after ``seconds`` (0: never). Signals need the main thread."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    # Then again every 0.1 s: an exception raised inside a callback (from C code through
    # cffi, or a gc callback) is printed and dropped, and the render would go on.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        yield
    finally:
        while True:  # a repeat may land here too, before the timer is off
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                break
            except _TimedOut:
                continue
        signal.signal(signal.SIGALRM, previous)


def _start(settings: Settings) -> None:
    global _renderer
    _renderer = Renderer(settings)


def _start_worker(settings: Settings, lifeline: Connection) -> None:
    threading.Thread(target=_exit_with_run, args=(lifeline,), daemon=True).start()
    _start(settings)


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
    assert _renderer is not None
    settings = _renderer.settings
    try:
        with _deadline(settings.render_timeout):
            pdf, pages = _renderer.pdf(invoice)
    except _TimedOut:
        _start(settings)  # the interrupted render may have left caches half-built
        return invoice, None, (f"rendering took longer than {settings.render_timeout} s "
                               "(render_timeout)")
    except XoiError as error:
        return invoice, None, error.message
    except Exception as error:
        return invoice, None, f"cannot render: {type(error).__name__}: {error}"
    return invoice, pdf, pages


def render_all(invoices: list[Invoice], settings: Settings) -> Iterator[Result]:
    """Yield one result per invoice, in the order they finish."""
    workers = settings.workers
    if not invoices:
        return
    if workers <= 1 or len(invoices) == 1:
        _start(settings)
        for invoice in invoices:
            yield _render(invoice)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipeline.render"])
    lifeline, held = context.Pipe(duplex=False)
    queue = deque(invoices)
    try:
        while queue:
            suspects = yield from _pool(queue, settings, workers, context, lifeline)
            for invoice in suspects:
                if (yield from _pool(deque([invoice]), settings, 1, context, lifeline)):
                    yield invoice, None, CRASHED
    finally:
        lifeline.close()
        held.close()


def _pool(queue: deque[Invoice], settings: Settings, workers: int, context: ForkServerContext,
          lifeline: Connection) -> Generator[Result, None, list[Invoice]]:
    """Render up to ``workers * TASKS_PER_WORKER`` invoices of ``queue`` in fresh workers.

    Returns the invoices that were in flight when a worker died (none if none did); what
    was not yet handed to a worker stays in ``queue``.
    """
    budget = workers * TASKS_PER_WORKER
    in_flight: dict[Future[Result], Invoice] = {}
    with ProcessPoolExecutor(
        max_workers=min(workers, len(queue)), mp_context=context,
        initializer=_start_worker, initargs=(settings, lifeline),
    ) as pool:

        def submit() -> None:
            nonlocal budget
            if queue and budget:
                budget -= 1
                invoice = queue.popleft()
                in_flight[pool.submit(_render, invoice)] = invoice

        # A bounded window of pending tasks keeps the parent's memory flat too.
        for _ in range(workers * 4):
            submit()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    return list(in_flight.values())
                del in_flight[future]
                yield result
                submit()
    return []
