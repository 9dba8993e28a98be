"""Render: invoices in, PDF bytes out, on this machine or a Dask cluster.

The stage writes no file: the batch stores what it hands back. Its public API is what
the orchestrator calls:

- :func:`renderers` what makes a run's executor (local pool, one process, or Dask), entered
  before the run reads its inputs: with Dask, the scheduler is reached and its workers
  checked there; what it yields makes one executor (an :data:`ExecutorFor`);
- :class:`Executor` the seam every engine implements, with its results
  :class:`RenderedPdf` and :class:`RenderFailure`;
- :func:`salt` the render identity: code, libraries, templates, logo and settings, which
  the plan compares with the ledger to find what must render again.

Importing this package loads neither WeasyPrint nor Dask; an executor loads its engine
when it is chosen.
"""

from .backend import renderers
from .identity import salt
from .seam import Executor, ExecutorFor, RenderedPdf, RenderFailure, Result

__all__ = ["Executor", "ExecutorFor", "RenderFailure", "RenderedPdf", "Result", "renderers",
           "salt"]
