"""The orchestrator: the stages in the order the data flows, as a plain Python API.

:func:`check_all` is what ``validate`` reports; :func:`run` does the night's work (and
``regenerate``, with ``force`` and tickets that must exist).
"""

from .orchestrator import check_all, run

__all__ = ["check_all", "run"]
