"""Plan: invoices → which must render (new, changed, PDF missing) and which are unchanged.

- :func:`plan` compares each invoice's :func:`fingerprint` (its facts and the run's render
  salt) with what the ledger recorded, a chunk at a time (:class:`Plan`, :class:`Planned`);
- :class:`Spool` keeps what must render on disk until an executor takes it, so a million
  planned invoices never sit in memory.
"""

from .changes import Plan, Planned, fingerprint, plan
from .spool import Spool

__all__ = ["Plan", "Planned", "Spool", "fingerprint", "plan"]
