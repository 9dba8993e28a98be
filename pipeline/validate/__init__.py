"""Validate: raw records → priced :class:`~pipeline.core.models.WorkOrder` or a
:class:`~pipeline.core.models.Problem` naming file, line and field.

:func:`check` reads and validates every input of a command; :func:`validate` checks one
record; :func:`canonical_ticket` checks a ticket typed on the command line.
"""

from .inputs import check
from .work_order import canonical_ticket, validate

__all__ = ["canonical_ticket", "check", "validate"]
