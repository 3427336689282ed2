"""Contract: WebhookOutbox - written atomically with the status change, leased and retried like jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_builders import T0, at, content, outbound, webhook

from gateway.errors import DuplicateMessage, LeaseLost
from gateway.model.message import DeliveryEvent, DeliveryStatus
from gateway.services import OutboxEntry, WebhookMessage
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
