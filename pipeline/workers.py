"""Render invoices in a pool of worker processes, each with its own reusable Renderer.

Results come back as they finish; the caller writes files and records them, so the
output stays deterministic whatever order the workers finish in.

Workers are recycled after :data:`TASKS_PER_WORKER` invoices each, by starting a fresh
pool for every ``workers * TASKS_PER_WORKER`` invoices. Not with ``max_tasks_per_child``:
on Python 3.11 a pool whose workers reach that limit near the end of the queue can be
left with no worker and wait forever (CPython gh-115634; reproduced here, see
docs/performance.md). Measured, a worker's memory stays flat anyway; the recycling is
only a safety net.

The forkserver imports :mod:`pipeline.render` (WeasyPrint) once, so a new worker starts
in milliseconds instead of importing it again.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.context import ForkServerContext

from .config import Settings
from .errors import XoiError
from .models import Invoice
from .render import Renderer

TASKS_PER_WORKER = 1000
# Result: (invoice, pdf bytes, page count) or (invoice, None, reason of failure)
Result = tuple[Invoice, bytes | None, int | str]

_renderer: Renderer | None = None


def _start(settings: Settings) -> None:
    global _renderer
    _renderer = Renderer(settings)


def _render(invoice: Invoice) -> Result:
    assert _renderer is not None
    try:
        pdf, pages = _renderer.pdf(invoice)
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
    generation = workers * TASKS_PER_WORKER
    for start in range(0, len(invoices), generation):
        yield from _pool(invoices[start:start + generation], settings, workers, context)


def _pool(invoices: list[Invoice], settings: Settings, workers: int,
          context: ForkServerContext) -> Iterator[Result]:
    """One pool of fresh workers for at most ``workers * TASKS_PER_WORKER`` invoices."""
    with ProcessPoolExecutor(
        max_workers=min(workers, len(invoices)), mp_context=context,
        initializer=_start, initargs=(settings,),
    ) as pool:
        # A bounded window of pending tasks keeps the parent's memory flat too.
        queue = iter(invoices)
        pending: set[Future[Result]] = set()
        window = workers * 4
        for invoice in queue:
            pending.add(pool.submit(_render, invoice))
            if len(pending) >= window:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                for invoice in queue:
                    pending.add(pool.submit(_render, invoice))
                    break
