"""Validate: raw records → priced :class:`~pipeline.core.models.WorkOrder` or a
:class:`~pipeline.core.models.Problem` naming file, line and field.

- :func:`check` reads and validates every input of a command; :class:`Checking` does it a
  chunk at a time for a run; :func:`in_file_order` sorts problems as the files hold them;
- :func:`validate` checks one record;
- :func:`canonical_ticket` and :func:`command_line_order` check what a clerk typed on the
  command line by the same rules as an export's fields.
"""

from .inputs import Checking, check, in_file_order
from .work_order import canonical_ticket, command_line_order, validate

__all__ = ["Checking", "canonical_ticket", "check", "command_line_order", "in_file_order",
           "validate"]
