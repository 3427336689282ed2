"""Received business answers (MLS, Invoice Responses) held until the document they answer is delivered.

The receiving access point may send its Message Level Status, and a buyer's AB Invoice Response, before our
worker has recorded the receipt of the message they answer (our document is still ``sending``). Such an
answer is stored as an inbound document like any other and, in addition, held here; the unit of work that
records the receipt applies it (``services/received_answers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PendingAnswer:
    """A received answer waiting for the receipt of the outbound document it answers.

    Attributes:
        inbound_document_id: the received MLS or Invoice Response (an inbound document).
        outbound_document_id: the document we sent that it answers.
        held_at: when it was held (aware UTC).
    """

    inbound_document_id: str
    outbound_document_id: str
    held_at: datetime


class PendingAnswerRepository(Protocol):
    """Answers held until their outbound document's receipt is recorded.

    Lock order: the answered outbound document's row first, then the pending answer (the order of a
    transition followed by ``take``), so the receiver holding an answer and the worker recording a receipt
    serialise on the document row and never deadlock.
    """

    def lock_document(self, outbound_document_id: str) -> bool:
        """Lock the answered outbound document's row (PostgreSQL: SELECT ... FOR UPDATE; SQLite's writing
        unit of work holds the database lock already), as ``hold`` does first. Call it BEFORE reading the
        document's status to decide whether to hold an answer or apply it at once.

        Returns:
            False when there is no such outbound document.
        """
        ...

    def hold(self, answer: PendingAnswer) -> None:
        """Hold ``answer`` (no-op when it is held already).

        Locks the answered outbound document's row first (PostgreSQL: SELECT ... FOR UPDATE; SQLite's
        writing unit of work holds the database lock already). The row must be locked (this call, or
        ``lock_document``) BEFORE the document's status is read: a unit of work recording the receipt
        meanwhile has then either committed (the status read next shows it) or waits for this one and sees
        the held answer.

        Raises:
            StoreError: no such outbound or inbound document.
        """
        ...

    def for_document(self, outbound_document_id: str) -> list[PendingAnswer]:
        """The answers held for one outbound document, oldest first (then by inbound document id)."""
        ...

    def take(self, inbound_document_id: str) -> PendingAnswer | None:
        """Lock the answered document's row, then remove the held answer and return it; None when it is
        not held (never, or another unit of work took it)."""
        ...

    def settleable(self, *, limit: int, after: PendingAnswer | None = None) -> list[PendingAnswer]:
        """Up to ``limit`` held answers, oldest first, after ``after`` in that order (keyset paging), of those
        whose outbound document no longer awaits our receipt (``services.received_answers.awaits_receipt``
        is False): the ones a recovery pass may apply now. A read: the caller checks
        again under the document's lock before applying one."""
        ...
