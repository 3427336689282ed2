"""Contract: WebhookOutbox - written atomically with the status change, leased and retried like jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from store_builders import T0, at, content, outbound, webhook

from gateway.errors import DuplicateMessage, LeaseLost
from gateway.model.message import DeliveryEvent, DeliveryStatus
from gateway.services import OutboxEntry, WebhookMessage
from gateway.services.ports import OutboxCounts
from gateway.store import SQLDocumentStore

LEASE = timedelta(seconds=30)


def change_status_with_webhook(store: SQLDocumentStore, *, commit: bool) -> tuple[str, WebhookMessage]:
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.commit()
    message = webhook(created_at=at(1), document_id=document.id)
    with store.unit_of_work() as uow:
        uow.outbound.transition(
            document.id, DeliveryEvent.PERMANENT_FAILURE, at=at(1), reason="unknown receiver"
        )
        uow.outbox.add(message)
        if commit:
            uow.commit()
    return document.id, message


def test_rolled_back_change_leaves_no_webhook(store: SQLDocumentStore) -> None:
    document_id, message = change_status_with_webhook(store, commit=False)
    with store.unit_of_work() as uow:
        assert uow.outbox.get(message.id) is None
        assert uow.outbox.lease(now=at(10), limit=10, lease_for=LEASE, token="w") == []
        assert uow.outbound.get(document_id).status is DeliveryStatus.ACCEPTED  # type: ignore[union-attr]


def test_committed_change_has_its_webhook(store: SQLDocumentStore) -> None:
    document_id, message = change_status_with_webhook(store, commit=True)
    with store.unit_of_work() as uow:
        assert uow.outbox.get(message.id) == OutboxEntry(message, at(1), 0)
        assert uow.outbound.get(document_id).status is DeliveryStatus.FAILED  # type: ignore[union-attr]
        with pytest.raises(DuplicateMessage):
            uow.outbox.add(message)


def test_a_webhook_is_one_insert_with_a_savepoint_on_postgresql_only(
    store: SQLDocumentStore, backend: str
) -> None:
    """A status change queues its webhook in its unit of work (the worker: two per delivery). The insert is
    the block's one statement, so SQLite undoes only it when refused and the unit of work stays usable
    without a savepoint (``first_insert_refusable``, as the duplicate above shows on both databases): two
    statements fewer per webhook on SQLite (issue 12)."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    sa_event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.unit_of_work() as uow:
            statements.clear()
            uow.outbox.add(webhook(created_at=at(1)))
            added = list(statements)
            uow.commit()
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", count)
    assert added == (["INSERT"] if backend == "sqlite" else ["SAVEPOINT", "INSERT", "RELEASE"])


def test_a_refused_webhook_leaves_the_unit_of_work_usable(store: SQLDocumentStore) -> None:
    kept, refused = webhook(created_at=at(1)), webhook(created_at=at(2))
    with store.unit_of_work() as uow:
        uow.outbox.add(refused)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.outbox.add(kept)
        with pytest.raises(DuplicateMessage):
            uow.outbox.add(refused)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbox.get(kept.id) == OutboxEntry(kept, at(1), 0)
        assert uow.outbox.get(refused.id) == OutboxEntry(refused, at(2), 0)


def test_lease_deliver_and_never_again(store: SQLDocumentStore) -> None:
    first, second = webhook(created_at=at(2)), webhook(created_at=at(1))
    with store.unit_of_work() as uow:
        uow.outbox.add(first)
        uow.outbox.add(second)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.outbox.lease(now=T0, limit=10, lease_for=LEASE, token="w1") == []  # not due yet
        leases = uow.outbox.lease(now=at(5), limit=10, lease_for=LEASE, token="w1")
        assert [(x.message, x.attempts, x.token) for x in leases] == [(second, 1, "w1"), (first, 1, "w1")]
        uow.outbox.mark_delivered(second.id, "w1", at=at(5))
        uow.commit()
    with store.unit_of_work() as uow:
        entry = uow.outbox.get(second.id)
        assert entry is not None
        assert entry.delivered_at == at(5)
        # long after every lease expired only the undelivered one comes back
        again = uow.outbox.lease(now=at(60), limit=10, lease_for=LEASE, token="w2")
        assert [(x.message.id, x.attempts) for x in again] == [(first.id, 2)]
        with pytest.raises(LeaseLost):
            uow.outbox.mark_delivered(first.id, "w1", at=at(60))


def test_reschedule_and_fail(store: SQLDocumentStore) -> None:
    message = webhook()
    with store.unit_of_work() as uow:
        uow.outbox.add(message)
        (leased,) = uow.outbox.lease(now=T0, limit=1, lease_for=LEASE, token="w1")
        uow.outbox.reschedule(message.id, "w1", due_at=at(10), error="HTTP 502")
        with pytest.raises(LeaseLost):
            uow.outbox.fail(message.id, "w1", at=T0, error="released already")
        assert uow.outbox.lease(now=at(9), limit=1, lease_for=LEASE, token="w2") == []
        (again,) = uow.outbox.lease(now=at(10), limit=1, lease_for=LEASE, token="w2")
        uow.outbox.fail(message.id, "w2", at=at(10), error="HTTP 410")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.outbox.get(message.id) == OutboxEntry(message, at(10), 2, None, at(10), "HTTP 410")
        assert uow.outbox.lease(now=at(100), limit=1, lease_for=LEASE, token="w3") == []
    assert (leased.attempts, again.attempts) == (1, 2)


def test_counts_pending_and_failed(store: SQLDocumentStore) -> None:
    hooks = [webhook(created_at=at(i)) for i in range(4)]
    with store.unit_of_work() as uow:
        for hook in hooks:
            uow.outbox.add(hook)
        taken = uow.outbox.lease(now=at(10), limit=3, lease_for=LEASE, token="w")
        assert [t.message.id for t in taken] == [h.id for h in hooks[:3]]
        uow.outbox.mark_delivered(hooks[0].id, "w", at=at(10))
        uow.outbox.fail(hooks[1].id, "w", at=at(10), error="HTTP 410")
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbox.counts(now=at(10)) == OutboxCounts(pending=2, failed=1)  # leased + waiting


def test_the_lease_index_covers_open_rows_only(store: SQLDocumentStore) -> None:
    # Delivered/failed history must not be in the index the lease query walks (migration 0002).
    with store.engine.connect() as connection:
        indexes = {ix["name"]: ix for ix in inspect(connection).get_indexes("webhook_outbox")}
        if connection.dialect.name == "sqlite":
            partial = {
                row[1]: row[4] for row in connection.exec_driver_sql("PRAGMA index_list('webhook_outbox')")
            }
            assert partial["ix_webhook_outbox_open_due_at"] == 1
            plan = " ".join(
                str(row[-1])
                for row in connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT id FROM webhook_outbox WHERE due_at <= '2026-01-01' "
                    "AND (leased_until IS NULL OR leased_until <= '2026-01-01') "
                    "AND delivered_at IS NULL AND failed_at IS NULL ORDER BY due_at, id LIMIT 10"
                )
            )
            assert "ix_webhook_outbox_open_due_at" in plan
        else:
            definition = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_webhook_outbox_open_due_at'"
            ).scalar_one()
            assert "WHERE ((delivered_at IS NULL) AND (failed_at IS NULL))" in definition
    assert indexes["ix_webhook_outbox_open_due_at"]["column_names"] == ["due_at", "id"]
    assert "ix_webhook_outbox_due_at" not in indexes
