"""The delivery job queue: one job per outbound document, taken under leases (see ``ports.store``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """The queue entry that drives delivery of one outbound document (at most one per document).

    Attributes:
        document_id: the outbound document.
        due_at: when it may be leased.
        attempts: leases taken so far (each lease is one delivery attempt, even if the worker crashed).
        lease_token: the current or last holder's token, None if never leased or released.
        leased_until: when that lease expires.
        last_error: the error recorded by the last reschedule.
    """

    document_id: str
    due_at: datetime
    attempts: int
    lease_token: str | None = None
    leased_until: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryLease:
    """A delivery job leased by one worker.

    Attributes:
        document_id: the outbound document to deliver.
        token: the lease token to present on renew/complete/reschedule/fail.
        leased_until: when the lease expires unless renewed.
        attempts: attempts including this one (1 on the first lease).
        size: bytes of the document's stored UBL, read by the lease query without reading the document
            (0: no document): the worker's memory budget keeps the bodies it would load within bounds
            before it loads them (``worker.budget``).
        due_at: when the job was due (its place in the queue); a job handed back for the memory budget
            keeps it. None: not known.
    """

    document_id: str
    token: str
    leased_until: datetime
    attempts: int
    size: int = 0
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Delivery queue sizes for /metrics at a given time.

    Attributes:
        due: entries that may be leased now (including expired leases).
        scheduled: entries waiting for a future ``due_at``.
        leased: entries under an unexpired lease.
    """

    due: int
    scheduled: int
    leased: int


class DeliveryQueue(Protocol):
    """The delivery job queue (one job per outbound document); see the module docstring for leases."""

    def enqueue(self, document_id: str, *, due_at: datetime) -> None:
        """Queue delivery of a stored document. If a job exists already: an unleased job becomes due at
        the earlier of both times; a leased job is left alone (its worker is on it) unless its lease
        expired by ``due_at`` - then it is released and due at ``due_at`` (the old token gets LeaseLost).

        Raises:
            StoreError: no such outbound document.
        """
        ...

    def get(self, document_id: str, *, for_update: bool = False) -> DeliveryJob | None:
        """The job of a document, or None when none is queued. ``for_update``: its row locked for the unit
        of work (PostgreSQL; a job changed by another transaction is read once that one ended)."""
        ...

    def queued_at(self, document_id: str) -> datetime | None:
        """When the document's job was first due: the start of its series of attempts (a job brought
        forward keeps it; a failed document's retry request queues a new job). None when none is queued."""
        ...

    def lease(self, *, now: datetime, limit: int, lease_for: timedelta, token: str) -> list[DeliveryLease]:
        """Lease up to ``limit`` due jobs, oldest ``due_at`` first, each with its ``due_at`` and its
        document's UBL size."""
        ...

    def renew(self, document_id: str, token: str, *, now: datetime, lease_for: timedelta) -> datetime:
        """Extend a lease to ``now + lease_for`` and return that time. Raises LeaseLost."""
        ...

    def complete(self, document_id: str, token: str) -> None:
        """Remove the job: the document reached a final status. Raises LeaseLost."""
        ...

    def reschedule(self, document_id: str, token: str, *, due_at: datetime, error: str | None = None) -> None:
        """Release the lease and make the job due at ``due_at`` (next retry). Raises LeaseLost."""
        ...

    def hand_back(self, document_id: str, token: str, *, due_at: datetime, error: str) -> None:
        """Release the lease without counting it as an attempt (the attempt counter goes back down) and
        make the job due at ``due_at``: the worker could not start a send now (the receiving endpoint is
        busy or its circuit is open). Raises LeaseLost."""
        ...

    def fail(self, document_id: str, token: str, *, error: str) -> None:
        """Remove the job after a final failure (the reason lives in the document). Raises LeaseLost."""
        ...

    def counts(self, *, now: datetime) -> QueueCounts:
        """Queue sizes for metrics."""
        ...
