"""The audit trail: who asked the desk to regenerate or send an invoice, why, and what came
of it, in the folder's ledger beside the invoice it concerns (the desk's own table)."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS desk_actions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    service_ticket TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    at             TEXT NOT NULL,
    who            TEXT NOT NULL,
    action         TEXT NOT NULL,
    reason         TEXT NOT NULL,
    outcome        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS desk_actions_by_ticket ON desk_actions (service_ticket, id);
"""


@dataclass(frozen=True, slots=True)
class Action:
    at: str
    who: str
    action: str
    reason: str
    outcome: str


class Trail:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self) -> None:
        self.db.script(_SCHEMA)

    def record(self, ticket: str, invoice_number: str, *, at: str, who: str, action: str,
               reason: str, outcome: str) -> int:
        """A clerk's request (``at``: when it was asked) and what has come of it so far:
        ``running``, done and what changed, or failed and why (cancelled too)."""
        return self.db.execute(
            "INSERT INTO desk_actions (service_ticket, invoice_number, at, who, action, "
            "reason, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ticket, invoice_number, at, who, action, reason, outcome))

    def came(self, row: int, outcome: str) -> None:
        """What came of the request of ``row`` in the end."""
        self.db.execute("UPDATE desk_actions SET outcome = ? WHERE id = ?", (outcome, row))

    def of(self, ticket: str) -> list[Action]:
        """The ticket's actions, newest first."""
        return [Action(*row) for row in self.db.rows(
            "SELECT at, who, action, reason, outcome FROM desk_actions "
            "WHERE service_ticket = ? ORDER BY id DESC", (ticket,))]
