"""Which executor renders a run: the one place that knows every implementation of the seam.

The seam (:mod:`.seam`) defines what an executor is and imports none; this module chooses
one from the settings, and imports it only then, so WeasyPrint (and Dask) load only when a
run has something to render, or renders on a cluster.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from ..core.config import Settings
from ..core.errors import ConfigError
from .seam import Executor, ExecutorFor


@contextlib.contextmanager
def renderers(settings: Settings) -> Iterator[ExecutorFor]:
    """What makes the run's executor, entered before the run reads any input.

    On this machine, :func:`_local` with these settings: nothing loads until it is
    called. With ``settings.cluster``, executors over one client of that scheduler,
    connected and its workers checked here, so a scheduler that cannot be reached (or a
    worker that would render other bytes) is one :class:`ConfigError` before the night's
    work; the client closes when the block ends.
    """
    if not settings.cluster:
        yield functools.partial(_local, settings)
        return
    with _connected(settings)(settings) as executors:
        yield executors


def _local(settings: Settings, count: int) -> Executor:
    """The executor on this machine for rendering ``count`` invoices."""
    from .pool import InProcess, ProcessPool  # WeasyPrint loads only when rendering

    if settings.workers <= 1 or count <= 1:
        return InProcess(settings)
    return ProcessPool(settings)


def _connected(settings: Settings) -> Callable[[Settings], AbstractContextManager[ExecutorFor]]:
    """:func:`.cluster.connected`, or why Dask cannot be used here."""
    try:
        from .cluster import connected
    except ImportError as error:
        if error.name is None or error.name.split(".")[0] not in ("distributed", "dask"):
            raise
        raise ConfigError("--cluster needs Dask: pip install 'xoi-invoices[cluster]'",
                          source=settings.cluster) from None
    return connected
