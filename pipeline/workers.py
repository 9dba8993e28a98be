"""Render invoices in a pool of worker processes, each with its own reusable Renderer.

Results come back as they finish; the caller writes files and records them, so the
output stays deterministic whatever order the workers finish in. Workers are replaced
after :data:`TASKS_PER_WORKER` invoices, which keeps memory flat on long runs.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from .config import Settings
from .errors import XoiError
from .models import Invoice
from .render import Renderer

TASKS_PER_WORKER = 250
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
    with ProcessPoolExecutor(
        max_workers=min(workers, len(invoices)), mp_context=context,
        initializer=_start, initargs=(settings,),
        max_tasks_per_child=TASKS_PER_WORKER,
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
