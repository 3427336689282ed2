"""Contract: IdempotencyRepository - the same key returns the first result; another request conflicts."""

from __future__ import annotations

import threading

import pytest
from store_builders import T0, at, content, outbound

from gateway.errors import IdempotencyConflict
from gateway.services import IdempotencyRecord
from gateway.store import SQLDocumentStore


def record(
    document_id: str | None, *, fingerprint: str = "sha256:aaa", key: str = "key-1", client: str = "erp"
) -> IdempotencyRecord:
    body = {"id": document_id, "status": "accepted", "status_url": f"/v1/outbound/{document_id}"}
    return IdempotencyRecord(client, key, fingerprint, 202, body, T0, document_id)


def test_first_claim_owns_the_key_and_a_repeat_gets_the_first_response(store: SQLDocumentStore) -> None:
    document = outbound()
    first = record(document.id)
    with store.unit_of_work() as uow:
        assert uow.idempotency.claim(first) == first
        uow.outbound.add(document, content())
        uow.commit()
    repeat = IdempotencyRecord("erp", "key-1", "sha256:aaa", 202, {"id": "other"}, at(5), "other-document")
    with store.unit_of_work() as uow:
        assert uow.idempotency.claim(repeat) == first
        assert uow.idempotency.get("erp", "key-1") == first
        assert uow.idempotency.get("erp", "key-2") is None
        assert uow.idempotency.get("webshop", "key-1") is None


def test_same_key_with_another_fingerprint_conflicts(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        uow.idempotency.claim(record(None))
        uow.commit()
    with store.unit_of_work() as uow, pytest.raises(IdempotencyConflict) as caught:
        uow.idempotency.claim(record("x", fingerprint="sha256:bbb"))
    assert caught.value.key == "key-1"


def test_keys_are_scoped_per_client(store: SQLDocumentStore) -> None:
    """Two clients may use the same key: each owns its own record, neither sees the other's."""
    ours, theirs = record("doc-erp"), record("doc-shop", fingerprint="sha256:other", client="webshop")
    with store.unit_of_work() as uow:
        assert uow.idempotency.claim(ours) == ours
        assert uow.idempotency.claim(theirs) == theirs  # not a conflict, not ours replayed
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.idempotency.get("erp", "key-1") == ours
        assert uow.idempotency.get("webshop", "key-1") == theirs
        assert uow.idempotency.claim(record("again", client="webshop", fingerprint="sha256:other")) == theirs


def test_a_refusal_can_be_remembered_without_a_document(store: SQLDocumentStore) -> None:
    refused = IdempotencyRecord(
        "erp", "key-422", "sha256:c", 422, {"title": "invalid", "findings": ["BR-01"]}, T0
    )
    with store.unit_of_work() as uow:
        uow.idempotency.claim(refused)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.idempotency.get("erp", "key-422") == refused


def test_a_rolled_back_claim_frees_the_key(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        uow.idempotency.claim(record("lost"))
    with store.unit_of_work() as uow:
        assert uow.idempotency.get("erp", "key-1") is None
        fresh = record("kept")
        assert uow.idempotency.claim(fresh) == fresh


def test_concurrent_claims_agree_on_the_first(store: SQLDocumentStore, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writing units of work; the race exists on PostgreSQL only")
    first, second = record("doc-1"), record("doc-2")
    result: list[IdempotencyRecord] = []
    errors: list[BaseException] = []

    def claim_second() -> None:
        try:
            with store.unit_of_work() as uow:
                result.append(uow.idempotency.claim(second))
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    with store.unit_of_work() as uow:
        assert uow.idempotency.claim(first) == first
        # Whether the thread's claim reads before or after this commit, it must end up with `first`:
        # before -> its INSERT waits on the key's lock, then hits the unique violation and rereads.
        thread = threading.Thread(target=claim_second)
        thread.start()
        uow.commit()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors == []
    assert result == [first]
