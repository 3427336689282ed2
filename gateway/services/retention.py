"""Retention of the working tables: idempotency keys (of outbound submissions, and of expense actions that
changed nothing) and delivered webhook outbox rows are purged after their configured period, in small
batches, each its own short transaction (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so a row the API or a
dispatcher holds is skipped, never waited for).

Evidence is not a working table: outbound and inbound documents, AS4 messages, signals, receipts, the fallback
e-mails and the status history are never purged by the gateway. The legal period is 10 years (Belgian VAT
code art. 60 §3, as amended for invoices from 2023; ``EVIDENCE_RETENTION_YEARS``): the archive export
(``services.archive``) writes it into each archive so that the auditor's copy can outlive the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

EVIDENCE_RETENTION_YEARS: Final = 10
"""Minimum retention of legal evidence (invoices sent and received, with their transport evidence)."""


class WorkingTablePurge(Protocol):
    """Deletes expired working rows, one short transaction per call (adapter: ``store.retention``)."""

    def purge_idempotency_keys(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` idempotency keys created before ``before`` whose document is final (or
        absent); keys of documents still in delivery stay. Returns how many were deleted."""
        ...

    def purge_expense_action_keys(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` Idempotency-Keys of expense actions that changed nothing, kept before
        ``before`` (the keys of recorded actions live in their audit entries, never purged). Returns how
        many were deleted."""
        ...

    def purge_delivered_webhooks(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` webhook outbox rows delivered before ``before`` (never an open or failed
        one). Returns how many were deleted."""
        ...


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long working rows live (``GATEWAY_RETENTION__…``).

    Attributes:
        idempotency: age after which an idempotency key may go (a repeat of the request is then judged by
            the (seller, type, number) alone; that of an expense action which changed nothing, as a request
            without a key).
        delivered_webhooks: age after which a delivered webhook row may go.
        batch_size: rows per transaction.
        max_batches: batches per pass (a pass never runs unbounded; the next pass goes on).
    """

    idempotency: timedelta = timedelta(days=30)
    delivered_webhooks: timedelta = timedelta(days=7)
    batch_size: int = 500
    max_batches: int = 20


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """Rows deleted by one pass."""

    idempotency_keys: int = 0
    delivered_webhooks: int = 0
    expense_action_keys: int = 0


def purge_working_tables(purge: WorkingTablePurge, *, now: datetime, policy: RetentionPolicy) -> PurgeCounts:
    """One pass over the three tables, ``policy.batch_size`` rows per transaction.

    Raises:
        StoreError: the store failed (what was committed stays deleted; the next pass goes on).
    """

    def drain(step: Callable[[datetime, int], int], before: datetime) -> int:
        total = 0
        for _ in range(policy.max_batches):
            deleted = step(before, policy.batch_size)
            total += deleted
            if deleted < policy.batch_size:
                break
        return total

    return PurgeCounts(
        idempotency_keys=drain(purge.purge_idempotency_keys, now - policy.idempotency),
        delivered_webhooks=drain(purge.purge_delivered_webhooks, now - policy.delivered_webhooks),
        expense_action_keys=drain(purge.purge_expense_action_keys, now - policy.idempotency),
    )
