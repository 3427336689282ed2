"""SQL adapter of ``services.retention.WorkingTablePurge``: batched deletes in short transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Select, delete, select, tuple_

from gateway.model.message import DeliveryStatus
from gateway.store.errors import map_db_errors
from gateway.store.sql import SQLDocumentStore
from gateway.store.tables import expense_action_keys, idempotency_keys, outbound_documents, webhook_outbox

_FINAL = [status.value for status in DeliveryStatus if status.is_final]


class SQLWorkingTablePurge:
    """Purges the working tables of a ``SQLDocumentStore``."""

    def __init__(self, store: SQLDocumentStore) -> None:
        self._store = store

    def purge_idempotency_keys(self, before: datetime, limit: int) -> int:
        """See ``WorkingTablePurge.purge_idempotency_keys``."""
        k, d = idempotency_keys, outbound_documents
        in_flight = select(d.c.id).where(d.c.id == k.c.document_id, d.c.status.not_in(_FINAL)).exists()
        chosen = (
            select(k.c.client, k.c.key)
            .where(k.c.created_at < before, ~in_flight)
            .order_by(k.c.created_at)
            .limit(limit)
        )
        return self._delete(chosen, (k.c.client, k.c.key), "idempotency keys")

    def purge_expense_action_keys(self, before: datetime, limit: int) -> int:
        """See ``WorkingTablePurge.purge_expense_action_keys``."""
        k = expense_action_keys
        chosen = (
            select(k.c.expense_id, k.c.client, k.c.key)
            .where(k.c.created_at < before)
            .order_by(k.c.created_at)
            .limit(limit)
        )
        return self._delete(chosen, (k.c.expense_id, k.c.client, k.c.key), "expense action keys")

    def purge_delivered_webhooks(self, before: datetime, limit: int) -> int:
        """See ``WorkingTablePurge.purge_delivered_webhooks``."""
        w = webhook_outbox
        chosen = (
            select(w.c.id)
            .where(w.c.delivered_at.is_not(None), w.c.delivered_at < before)
            .order_by(w.c.delivered_at)
            .limit(limit)
        )
        return self._delete(chosen, (w.c.id,), "webhook outbox")

    def _delete(self, chosen: Select[Any], key: tuple[Column[str], ...], what: str) -> int:
        """Delete the rows ``chosen`` selects by their primary ``key`` columns (one or more)."""
        table = key[0].table
        with self._store.unit_of_work() as uow, map_db_errors(f"purge {what}"):
            connection = uow.connection
            if connection.dialect.name == "postgresql":
                # A row an API request or a dispatcher holds is skipped, not waited for: the next pass.
                chosen = chosen.with_for_update(skip_locked=True, of=table)
            rows = [tuple(row) for row in connection.execute(chosen)]
            if rows:
                connection.execute(delete(table).where(tuple_(*key).in_(rows)))
            uow.commit()
        return len(rows)
