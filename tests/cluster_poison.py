"""Preloaded into the test suite's Dask workers (``dask worker --preload``): a ticket that
starts with POISON kills the worker that renders it, as a crash in a C library would."""

from __future__ import annotations

import os
from typing import Any

from pipeline.render import pdf as render


def _poisoned(self: render.Renderer, invoice: Any) -> tuple[bytes, int]:
    if invoice.ticket.startswith("POISON"):
        os._exit(1)
    result: tuple[bytes, int] = render.Renderer.unpoisoned_pdf(self, invoice)  # type: ignore[attr-defined]
    return result


# Dask may run a preload file twice in one worker (same namespace): keep the original once.
if not hasattr(render.Renderer, "unpoisoned_pdf"):
    render.Renderer.unpoisoned_pdf = render.Renderer.pdf  # type: ignore[attr-defined]
    render.Renderer.pdf = _poisoned  # type: ignore[method-assign]
