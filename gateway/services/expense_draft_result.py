"""What became of a received document offered to the expense intake (``DraftOutcome``, ``DraftResult``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.model.expense import Expense


class DraftOutcome(StrEnum):
    """What became of a received document."""

    CREATED = "created"
    EXISTING = "existing"
    """The document already has its expense (a repeated call)."""
    DUPLICATE = "duplicate"
    """Same supplier, kind, number and amount as an existing expense: flagged on it, not created twice."""
    SKIPPED = "skipped"
    """Not a valid invoice or credit note, or unreadable: no expense (the inbound listing shows it)."""


@dataclass(frozen=True, slots=True)
class DraftResult:
    """The outcome of :meth:`ExpenseWorkflow.create_from_inbound`."""

    outcome: DraftOutcome
    expense: Expense | None = None
    reason: str | None = None
