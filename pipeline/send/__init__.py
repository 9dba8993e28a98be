"""Send: email every issued invoice whose current version was not sent, exactly once.

- :func:`send_folder` is ``xoi-invoices send``; :class:`Outbox` sends over a folder a
  command already holds (``run --send``), having checked what sending needs first;
- :class:`BillingFacts` is send's part of a run's ledger: the facts an email needs,
  recorded with each invoice (the store's :class:`~pipeline.store.Annex`); every attempt
  is recorded before and after its SMTP transaction in send's own tables;
- :func:`attempts` (each an :class:`Attempt`) and :func:`next_mail`: what was tried for a
  ticket, and whether its next message is its first, a correction or already sent.

:class:`Outbox` and :func:`send_folder` load when first used: a run that sends nothing
never loads Jinja, the address checker or the SMTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .log import Attempt, BillingFacts, attempts, billing_facts, next_mail

if TYPE_CHECKING:
    from .outbox import Outbox, send_folder

__all__ = ["Attempt", "BillingFacts", "Outbox", "attempts", "billing_facts", "next_mail",
           "send_folder"]


def __getattr__(name: str) -> object:
    if name not in ("Outbox", "send_folder"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import outbox

    return getattr(outbox, name)
