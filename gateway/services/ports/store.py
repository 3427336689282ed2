"""The document store port: a unit of work over the repositories, the delivery queue and the webhook
outbox. Adapters live in ``gateway.store``; services never import them.

Store semantics every adapter must honour (checked by ``tests/contract/``):

* A unit of work is one database transaction. Nothing is written until ``commit()``; leaving the ``with``
  block without committing (or by an exception) rolls everything back - status change, timeline entry,
  queued job and outbox row together, or none of them.
* Times are timezone-aware UTC in and out; a naive datetime is refused.
* Lease protocol (delivery queue and webhook outbox alike): ``lease()`` takes up to ``limit`` entries whose
  ``due_at <= now`` and that are not under an unexpired lease (``leased_until > now``), oldest ``due_at``
  first, stamps them with the caller's ``token`` and ``leased_until = now + lease_for`` and counts one
  attempt. Every later call on an entry (renew, complete, reschedule, fail, mark_delivered) names the
  token and raises ``LeaseLost`` if the entry is gone or carries another token. A lease that expired but
  was not taken over may still be renewed or completed by its holder. An expired lease makes the entry due
  again (crash recovery): choose ``lease_for`` longer than one send attempt, or renew while working.
  On PostgreSQL concurrent ``lease()`` calls skip each other's locked rows (FOR UPDATE SKIP LOCKED) and
  return disjoint entries; on SQLite every writing unit of work holds the database write lock from its
  first statement (BEGIN IMMEDIATE), so workers are serialised and still correct, but one worker is the
  intended deployment.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from gateway.services.ports.answers import PendingAnswerRepository
from gateway.services.ports.documents import (
    AS4MessageRepository,
    IdempotencyRepository,
    InboundDocumentRepository,
    OutboundDocumentRepository,
)
from gateway.services.ports.expenses import ExpenseRepository, UnitRepository
from gateway.services.ports.queue import DeliveryQueue
from gateway.services.ports.reporting import ReportingRepository
from gateway.services.ports.webhooks import WebhookOutbox


class UnitOfWork(Protocol):
    """One transaction over all repositories. Use as ``with store.unit_of_work() as uow: ...; uow.commit()``.

    Leaving the block without ``commit()`` rolls back. After commit or rollback the unit of work is spent.
    """

    @property
    def outbound(self) -> OutboundDocumentRepository: ...

    @property
    def inbound(self) -> InboundDocumentRepository: ...

    @property
    def messages(self) -> AS4MessageRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def jobs(self) -> DeliveryQueue: ...

    @property
    def outbox(self) -> WebhookOutbox: ...

    @property
    def expenses(self) -> ExpenseRepository: ...

    @property
    def units(self) -> UnitRepository: ...

    @property
    def answers(self) -> PendingAnswerRepository: ...

    @property
    def reporting(self) -> ReportingRepository: ...

    def commit(self) -> None:
        """Make every change of this unit of work durable, atomically."""
        ...

    def rollback(self) -> None:
        """Discard every change of this unit of work."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class DocumentStore(Protocol):
    """Factory of units of work; one per process, shared by threads (each unit of work is single-threaded)."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """Open a transaction.

        Args:
            read_only: a reading transaction. On SQLite it does not take the write lock (readers run
                beside the single writer in WAL mode); on PostgreSQL writes in it fail.
        """
        ...

    def close(self) -> None:
        """Release connections (end of process)."""
        ...
