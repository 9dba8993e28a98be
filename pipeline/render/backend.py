"""Which executor renders a run: the one place that knows every implementation of the seam.

The seam (:mod:`.seam`) defines what an executor is and imports none; this module chooses
one from the settings, and imports it only then, so WeasyPrint (and Dask) load only when a
run has something to render.
"""

from __future__ import annotations

from ..core.config import Settings
from ..core.errors import ConfigError
from .seam import Executor


def executor_for(settings: Settings, count: int) -> Executor:
    """The executor for rendering ``count`` invoices with these settings."""
    from .pool import InProcess, ProcessPool  # WeasyPrint loads only when rendering

    if settings.cluster:
        try:
            from .cluster import Cluster
        except ImportError as error:
            if error.name is None or error.name.split(".")[0] not in ("distributed", "dask"):
                raise
            raise ConfigError("--cluster needs Dask: pip install 'xoi-invoices[cluster]'",
                              source=settings.cluster) from None
        return Cluster(settings)
    if settings.workers <= 1 or count <= 1:
        return InProcess(settings)
    return ProcessPool(settings)
