"""Working-table retention on SQLite and PostgreSQL: expired idempotency keys of final documents and delivered
webhook rows go, in batches; keys of documents still in delivery, open and failed webhooks, recent rows and
every piece of evidence stay. On PostgreSQL the purge runs under concurrent API-like load (claims and reads
of idempotency keys, webhook leases) and loses nothing that is still needed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from delivery_support import queue_document
from sqlalchemy import func, select

from gateway.model.expense import ExpenseStatus
from gateway.model.message import DeliveryEvent, DeliveryStatus
from gateway.services.ports import IdempotencyRecord, WebhookMessage
from gateway.services.retention import RetentionPolicy, purge_working_tables
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.retention import SQLWorkingTablePurge
from gateway.store.tables import (
    as4_messages,
    expense_action_keys,
    expense_events,
    idempotency_keys,
    outbound_documents,
    webhook_outbox,
)
from tests.contract.store_builders import received_expense
from tests.contract.store_databases import BACKENDS, migrated_postgres_database

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=90)
POLICY = RetentionPolicy(
    idempotency=timedelta(days=30), delivered_webhooks=timedelta(days=7), batch_size=7, max_batches=1000
)


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SQLDocumentStore]:
    if request.param == "postgresql":
        with migrated_postgres_database() as url:
            pg = SQLDocumentStore.from_url(url.render_as_string(hide_password=False))
            yield pg
            pg.close()
        return
    url = f"sqlite:///{tmp_path_factory.mktemp('retention') / 'gateway.db'}"
    upgrade_database(url)
    lite = SQLDocumentStore.from_url(url)
    yield lite
    lite.close()


def _claim(
    store: SQLDocumentStore, key: str, at: datetime, document_id: str | None, *, client: str = "erp"
) -> None:
    with store.unit_of_work() as uow:
        uow.idempotency.claim(
            IdempotencyRecord(client, key, "f" * 64, 202, {"id": document_id}, at, document_id)
        )
        uow.commit()


def _final(store: SQLDocumentStore, document_id: str) -> None:
    with store.unit_of_work() as uow:
        uow.outbound.transition(document_id, DeliveryEvent.PERMANENT_FAILURE, at=OLD, reason="test")
        uow.commit()


def _webhook(store: SQLDocumentStore, at: datetime, state: str) -> str:
    event_id = str(uuid.uuid4())
    with store.unit_of_work() as uow:
        uow.outbox.add(WebhookMessage(event_id, "default", {"n": event_id}, at))
        if state != "open":
            (lease,) = uow.outbox.lease(
                now=at, limit=1, lease_for=timedelta(minutes=1), token="t-" + event_id
            )
            assert lease.message.id == event_id
            if state == "delivered":
                uow.outbox.mark_delivered(event_id, lease.token, at=at)
            else:
                uow.outbox.fail(event_id, lease.token, at=at, error="gone")
        uow.commit()
    return event_id


def _keys(store: SQLDocumentStore) -> set[str]:
    with store.unit_of_work(read_only=True) as uow:
        return set(uow.connection.execute(select(idempotency_keys.c.key)).scalars())


def _webhooks(store: SQLDocumentStore) -> set[str]:
    with store.unit_of_work(read_only=True) as uow:
        return set(uow.connection.execute(select(webhook_outbox.c.id)).scalars())


def _count(store: SQLDocumentStore, table: object) -> int:
    with store.unit_of_work(read_only=True) as uow:
        return int(uow.connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _seed(store: SQLDocumentStore) -> tuple[set[str], set[str], set[str], set[str]]:
    """Rows to purge and rows to keep: (keys gone, keys kept, webhooks gone, webhooks kept)."""
    keys_gone, keys_kept, hooks_gone, hooks_kept = set(), set(), set(), set()
    for i in range(20):
        final = queue_document(store, at=OLD)
        _final(store, final)
        _claim(store, f"old-final-{i}", OLD, final)
        keys_gone.add(f"old-final-{i}")
        _claim(store, f"old-refused-{i}", OLD, None)  # a 422: no document
        keys_gone.add(f"old-refused-{i}")
    for i in range(5):
        _claim(store, f"old-in-flight-{i}", OLD, queue_document(store, at=OLD))  # still accepted
        keys_kept.add(f"old-in-flight-{i}")
        _claim(store, f"recent-{i}", NOW - timedelta(days=1), None)
        keys_kept.add(f"recent-{i}")
    for _ in range(25):
        hooks_gone.add(_webhook(store, OLD, "delivered"))
    for _ in range(5):
        hooks_kept.add(_webhook(store, NOW - timedelta(days=1), "delivered"))
    for state in ("failed", "open"):  # open ones last: leasing takes any open row
        for _ in range(5):
            hooks_kept.add(_webhook(store, OLD, state))
    return keys_gone, keys_kept, hooks_gone, hooks_kept


def test_the_purge_deletes_only_expired_working_rows(store: SQLDocumentStore) -> None:
    keys_gone, keys_kept, hooks_gone, hooks_kept = _seed(store)
    documents, messages = _count(store, outbound_documents), _count(store, as4_messages)

    counts = purge_working_tables(SQLWorkingTablePurge(store), now=NOW, policy=POLICY)

    assert (counts.idempotency_keys, counts.delivered_webhooks) == (len(keys_gone), len(hooks_gone))
    assert _keys(store) == keys_kept
    assert _webhooks(store) == hooks_kept
    # Evidence is never touched.
    assert (_count(store, outbound_documents), _count(store, as4_messages)) == (documents, messages)
    again = purge_working_tables(SQLWorkingTablePurge(store), now=NOW, policy=POLICY)
    assert (again.idempotency_keys, again.delivered_webhooks) == (0, 0)


def test_the_purge_deletes_expired_keys_of_expense_actions_that_changed_nothing_with_the_outbound_keys(
    store: SQLDocumentStore,
) -> None:
    # They live as long as the outbound keys (``RetentionPolicy.idempotency``); the expense and its audit
    # trail stay.
    eid = received_expense(store, status=ExpenseStatus.APPROVED, received=OLD)
    with store.unit_of_work() as uow:
        for n in range(9):  # more than a batch (7)
            uow.expenses.keep_action_key(eid, "member-a", f"old-{n}", "f" * 64, OLD)
        uow.expenses.keep_action_key(eid, "member-a", "recent", "e" * 64, NOW - timedelta(days=1))
        # Past the delivered webhooks' period (7 days), within the keys' (30): kept.
        uow.expenses.keep_action_key(eid, "member-a", "ten-days", "d" * 64, NOW - timedelta(days=10))
        uow.commit()
    trail = _count(store, expense_events)

    counts = purge_working_tables(SQLWorkingTablePurge(store), now=NOW, policy=POLICY)

    assert counts.expense_action_keys == 9
    with store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.action_key(eid, "member-a", "old-0") is None
        assert uow.expenses.action_key(eid, "member-a", "recent") == "e" * 64
        assert uow.expenses.action_key(eid, "member-a", "ten-days") == "d" * 64
        assert uow.expenses.get(eid) is not None
    assert (_count(store, expense_action_keys), _count(store, expense_events)) == (2, trail)


def test_the_purge_deletes_a_clients_key_not_the_same_key_of_another_client(store: SQLDocumentStore) -> None:
    _claim(store, "order-1", OLD, None, client="erp")  # expired
    _claim(store, "order-1", NOW - timedelta(days=1), None, client="webshop")  # recent: kept
    counts = purge_working_tables(SQLWorkingTablePurge(store), now=NOW, policy=POLICY)
    assert counts.idempotency_keys == 1
    with store.unit_of_work(read_only=True) as uow:
        assert uow.idempotency.get("erp", "order-1") is None
        assert uow.idempotency.get("webshop", "order-1") is not None


@pytest.mark.postgres
@pytest.mark.parametrize("store", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_the_purge_under_concurrent_api_load_loses_nothing_still_needed(store: SQLDocumentStore) -> None:
    keys_gone, keys_kept, hooks_gone, hooks_kept = _seed(store)
    stop = threading.Event()
    errors: list[BaseException] = []
    written: list[str] = []

    def api_load(worker: int) -> None:
        # What the API does meanwhile: claim new keys, re-read kept ones (a client repeating its request).
        n = 0
        try:
            while not stop.is_set():
                key = f"live-{worker}-{n}"
                _claim(store, key, NOW, None)
                written.append(key)
                n += 1
                with store.unit_of_work(read_only=True) as uow:
                    for kept in sorted(keys_kept)[:3]:
                        assert uow.idempotency.get("erp", kept) is not None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=api_load, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        total_keys = total_hooks = 0
        for _ in range(3):  # several passes while the load runs (rows skipped as locked come next pass)
            counts = purge_working_tables(SQLWorkingTablePurge(store), now=NOW, policy=POLICY)
            total_keys += counts.idempotency_keys
            total_hooks += counts.delivered_webhooks
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert written  # the load really ran
    assert (total_keys, total_hooks) == (len(keys_gone), len(hooks_gone))
    assert _keys(store) == keys_kept | set(written)
    assert _webhooks(store) == hooks_kept
    with store.unit_of_work(read_only=True) as uow:
        statuses = set(uow.connection.execute(select(outbound_documents.c.status)).scalars())
    assert statuses == {DeliveryStatus.FAILED.value, DeliveryStatus.ACCEPTED.value}
