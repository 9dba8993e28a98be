"""Which invoices a run must render: the new, the changed, and those whose PDF went missing.

An invoice's fingerprint is a hash of everything that shapes its PDF: the invoice's own
facts (:meth:`Invoice.as_data`) and the run's salt, which covers the templates, the
configuration, the render code and the versions of the libraries that write the bytes.
An invoice whose fingerprint the ledger recorded, with its PDF still intact, is unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..core.models import Invoice, Rendered


@dataclass(frozen=True, slots=True)
class Planned:
    """An invoice to render, with the ledger row it replaces.

    Its fingerprint is taken when it is stored (:func:`fingerprint`): a new invoice has
    none to be compared with, and a run of a million new ones plans ~15 s sooner.
    """

    invoice: Invoice
    previous: Rendered | None


@dataclass
class Plan:
    todo: list[Planned] = field(default_factory=list)
    # With the ledger row that stays theirs (delivery keeps its billing facts by it).
    unchanged: list[tuple[Invoice, Rendered]] = field(default_factory=list)


def plan(invoices: Iterable[Invoice], published: Mapping[str, Rendered], run_salt: str,
         intact: Callable[[Rendered], bool], *, force: bool = False) -> Plan:
    """Split ``invoices`` into what to render and what is unchanged (``force``: nothing is).

    ``published`` holds at least the ledger rows of these tickets; ``run_salt`` is
    :func:`salt`, computed once per run (a run plans a few hundred invoices at a time);
    ``intact`` tells whether a recorded PDF is still the one the ledger names.
    """
    result = Plan()
    for invoice in invoices:
        known = published.get(invoice.ticket)
        if not force and known is not None and not known.withdrawn \
                and known.fingerprint == fingerprint(invoice, run_salt) and intact(known):
            result.unchanged.append((invoice, known))
        else:
            result.todo.append(Planned(invoice, known))
    return result


def fingerprint(invoice: Invoice, run_salt: str) -> str:
    """The hash of everything that shapes the invoice's PDF (see the module's text)."""
    payload = json.dumps(invoice.as_data(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256((run_salt + payload).encode()).hexdigest()
