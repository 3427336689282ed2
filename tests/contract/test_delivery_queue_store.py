"""Contract: DeliveryQueue leases - due order, expiry, LeaseLost, SKIP LOCKED sharing on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from store_builders import T0, UBL, at, content, outbound

from gateway.errors import LeaseLost, StoreError
from gateway.services import DeliveryJob, DeliveryLease, QueueCounts
from gateway.store import SQLDocumentStore, make_engine
from gateway.worker.budget import Admission
from gateway.worker.loop import DeliveryWorker

LEASE = timedelta(minutes=2)


def submit(store: SQLDocumentStore, *due_minutes: float) -> list[str]:
    """Store one document per due time and queue it in the same unit of work; ids in that order."""
    ids = []
    with store.unit_of_work() as uow:
        for minute in due_minutes:
            document = outbound(created_at=at(minute))
            uow.outbound.add(document, content())
            uow.jobs.enqueue(document.id, due_at=at(minute))
            ids.append(document.id)
        uow.commit()
    return ids


def lease(store: SQLDocumentStore, *, now_minute: float, token: str, limit: int = 10) -> list[DeliveryLease]:
    with store.unit_of_work() as uow:
        leases = uow.jobs.lease(now=at(now_minute), limit=limit, lease_for=LEASE, token=token)
        uow.commit()
    return leases


def test_lease_takes_due_jobs_oldest_first_up_to_the_limit(store: SQLDocumentStore) -> None:
    late, early, future, middle = submit(store, 3, 1, 60, 2)
    leases = lease(store, now_minute=10, token="w1", limit=2)
    assert leases == [
        DeliveryLease(early, "w1", at(10) + LEASE, 1, len(UBL), at(1)),
        DeliveryLease(middle, "w1", at(10) + LEASE, 1, len(UBL), at(2)),
    ]
    assert [x.document_id for x in lease(store, now_minute=10, token="w2")] == [late]
    assert lease(store, now_minute=10, token="w3") == []  # the future job is not due, the rest are leased
    with store.unit_of_work() as uow:
        assert uow.jobs.get(future) == DeliveryJob(future, at(60), 0)
        assert uow.jobs.counts(now=at(10)) == QueueCounts(due=0, scheduled=1, leased=3)


def test_an_expired_lease_is_taken_over_and_the_old_token_loses(store: SQLDocumentStore) -> None:
    (job,) = submit(store, 0)
    assert lease(store, now_minute=1, token="crashed")[0].attempts == 1
    assert lease(store, now_minute=2, token="other") == []  # lease still valid
    # After expiry (now >= leased_until) the job is due again: the crashed worker's job is recovered.
    (taken,) = lease(store, now_minute=3, token="other")
    assert (taken.document_id, taken.attempts, taken.token) == (job, 2, "other")
    with store.unit_of_work() as uow:
        with pytest.raises(LeaseLost):
            uow.jobs.complete(job, "crashed")
        with pytest.raises(LeaseLost):
            uow.jobs.renew(job, "crashed", now=at(3), lease_for=LEASE)
        with pytest.raises(LeaseLost):
            uow.jobs.reschedule(job, "crashed", due_at=at(9))
        with pytest.raises(LeaseLost):
            uow.jobs.fail(job, "crashed", error="x")
        assert uow.jobs.get(job) == DeliveryJob(job, at(0), 2, "other", at(3) + LEASE)
        uow.jobs.complete(job, "other")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.jobs.get(job) is None
        with pytest.raises(LeaseLost):
            uow.jobs.complete(job, "other")


def test_renew_keeps_the_job(store: SQLDocumentStore) -> None:
    (job,) = submit(store, 0)
    lease(store, now_minute=0, token="w1")
    with store.unit_of_work() as uow:
        assert uow.jobs.renew(job, "w1", now=at(1.5), lease_for=LEASE) == at(1.5) + LEASE
        uow.commit()
    assert lease(store, now_minute=2.5, token="w2") == []  # original expiry passed, renewed one not
    assert [x.token for x in lease(store, now_minute=3.5, token="w2")] == ["w2"]


def test_reschedule_releases_until_the_new_due_time(store: SQLDocumentStore) -> None:
    (job,) = submit(store, 0)
    lease(store, now_minute=0, token="w1")
    with store.unit_of_work() as uow:
        uow.jobs.reschedule(job, "w1", due_at=at(30), error="HTTP 503")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.jobs.get(job) == DeliveryJob(job, at(30), 1, None, None, "HTTP 503")
    assert lease(store, now_minute=29, token="w2") == []
    (again,) = lease(store, now_minute=30, token="w2")
    assert again.attempts == 2
    with store.unit_of_work() as uow:
        uow.jobs.fail(job, "w2", error="gave up")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.jobs.get(job) is None


def test_hand_back_releases_without_counting_the_attempt(store: SQLDocumentStore) -> None:
    (job,) = submit(store, 0)
    lease(store, now_minute=0, token="w1")
    with store.unit_of_work() as uow:
        uow.jobs.hand_back(job, "w1", due_at=at(2), error="endpoint-busy: 4 sends in flight")
        with pytest.raises(LeaseLost):
            uow.jobs.hand_back(job, "w1", due_at=at(2), error="released already")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.jobs.get(job) == DeliveryJob(job, at(2), 0, None, None, "endpoint-busy: 4 sends in flight")
    assert lease(store, now_minute=1, token="w2") == []
    (again,) = lease(store, now_minute=2, token="w2")
    assert again.attempts == 1  # the handed-back lease was not an attempt


def test_a_lease_carries_each_document_s_stored_size_in_bytes(store: SQLDocumentStore) -> None:
    """The worker's memory budget (``worker.budget``) decides on these sizes before it reads a document:
    ``length`` of the stored UBL is its byte count on both databases - a multi-byte character counts its
    bytes, and a body written in slices (SQLite's blob API, from 1 MiB) or TOASTed (PostgreSQL) its whole
    size."""
    bodies = [UBL, "<Invoice>€ – ü</Invoice>".encode(), b"\x00" * (3 * 1024 * 1024 + 7)]
    ids = []
    with store.unit_of_work() as uow:
        for minute, body in enumerate(bodies):
            document = outbound(created_at=at(minute))
            uow.outbound.add(document, content(body))
            uow.jobs.enqueue(document.id, due_at=at(minute))
            ids.append(document.id)
        uow.commit()
    leases = lease(store, now_minute=10, token="w1")
    assert [(x.document_id, x.size) for x in leases] == [
        (i, len(body)) for i, body in zip(ids, bodies, strict=True)
    ]


class _Reader:
    """What the worker asks a Deliverer when it leases: the documents to read (recorded, none read)."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def preload(self, uow: Any, leases: list[DeliveryLease]) -> dict[str, Any]:
        self.read += [lease.document_id for lease in leases]
        return {}


def test_jobs_beyond_the_worker_s_memory_budget_are_handed_back_unread_keeping_their_attempts(
    store: SQLDocumentStore,
) -> None:
    """The worker (``worker.budget``) keeps the leases within its memory budget and hands the others back
    in the lease's own unit of work, before any document is read: not counted as attempts (a job tried
    once before is still at one, a new one at none), due when they were (at once, in their place in the
    queue), the reason recorded."""
    ids = []
    with store.unit_of_work() as uow:
        for minute in range(3):
            document = outbound(created_at=at(minute))
            uow.outbound.add(document, content(b"x" * 1000))
            uow.jobs.enqueue(document.id, due_at=at(minute))
            ids.append(document.id)
        uow.commit()
    assert len(lease(store, now_minute=5, token="earlier", limit=2)) == 2  # the first two were tried once
    with store.unit_of_work() as uow:
        for minute, doc in enumerate(ids[:2]):
            uow.jobs.reschedule(doc, "earlier", due_at=at(minute), error="timeout")
        uow.commit()
    reader = _Reader()
    worker = DeliveryWorker(
        reader,  # type: ignore[arg-type]
        store=store,
        clock=SimpleNamespace(now=lambda: at(30)),  # type: ignore[arg-type]
        ids=SimpleNamespace(new_id=lambda: "w1"),  # type: ignore[arg-type]
        lease_for=LEASE,
    )
    admission = Admission(budget=1500, in_flight_bytes=0, in_flight=0)
    kept, _ = worker._lease(10, admission)
    assert [x.document_id for x in kept] == [ids[0]]
    assert reader.read == [ids[0]]
    assert (admission.held_back, admission.held_back_bytes) == (2, 2000)
    reason = "worker memory budget: 1 deliveries with 1000 bytes in flight of 1500 bytes"
    with store.unit_of_work() as uow:
        assert uow.jobs.get(ids[0]) == DeliveryJob(ids[0], at(0), 2, "w1", at(30) + LEASE, "timeout")
        # Due when they were: the next lease starts with them again.
        assert uow.jobs.get(ids[1]) == DeliveryJob(ids[1], at(1), 1, None, None, reason)
        assert uow.jobs.get(ids[2]) == DeliveryJob(ids[2], at(2), 0, None, None, reason)
    assert [x.document_id for x in lease(store, now_minute=30, token="w2")] == ids[1:]


def test_enqueue_twice_keeps_one_job_and_only_brings_it_forward(store: SQLDocumentStore) -> None:
    (job,) = submit(store, 10)
    with store.unit_of_work() as uow:
        uow.jobs.enqueue(job, due_at=at(20))  # later: ignored
        assert uow.jobs.get(job) == DeliveryJob(job, at(10), 0)
        uow.jobs.enqueue(job, due_at=at(5))  # earlier: brought forward (support "retry now")
        assert uow.jobs.get(job) == DeliveryJob(job, at(5), 0)
        uow.commit()
    lease(store, now_minute=5, token="w1")
    with store.unit_of_work() as uow:
        uow.jobs.enqueue(job, due_at=at(0))  # leased: its worker owns it
        assert uow.jobs.get(job) == DeliveryJob(job, at(5), 1, "w1", at(5) + LEASE)


def test_a_job_keeps_when_it_was_first_due_until_it_ends(store: SQLDocumentStore) -> None:
    # The start of a document's series of attempts (its retry window behind an open circuit counts from it).
    (job,) = submit(store, 10)
    with store.unit_of_work() as uow:
        uow.jobs.enqueue(job, due_at=at(5))  # brought forward: the same series
        assert uow.jobs.queued_at(job) == at(10)
        assert uow.jobs.queued_at("no-such-document") is None
        uow.commit()
    assert len(lease(store, now_minute=10, token="w1")) == 1
    with store.unit_of_work() as uow:
        uow.jobs.hand_back(job, "w1", due_at=at(30), error="circuit-open: ...")
        assert uow.jobs.queued_at(job) == at(10)
        uow.commit()
    lease(store, now_minute=30, token="w2")
    with store.unit_of_work() as uow:
        uow.jobs.fail(job, "w2", error="failed")
        assert uow.jobs.queued_at(job) is None
        uow.jobs.enqueue(job, due_at=at(90))  # a retry request for the failed document: a new series
        assert uow.jobs.queued_at(job) == at(90)
        uow.commit()


def test_enqueue_needs_a_stored_document(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow, pytest.raises(StoreError):
        uow.jobs.enqueue("no-such-document", due_at=T0)


def test_document_and_job_are_committed_together(store: SQLDocumentStore) -> None:
    document = outbound()
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.jobs.enqueue(document.id, due_at=T0)
        # no commit: neither exists afterwards
    with store.unit_of_work() as uow:
        assert uow.outbound.get(document.id) is None
        assert uow.jobs.get(document.id) is None
        assert uow.jobs.lease(now=at(60), limit=10, lease_for=LEASE, token="w") == []


def test_counts(store: SQLDocumentStore) -> None:
    submit(store, 0, 1, 2, 50)
    lease(store, now_minute=3, token="w1", limit=1)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.jobs.counts(now=at(3)) == QueueCounts(due=2, scheduled=1, leased=1)
        # once the lease expires the job counts as due again
        assert uow.jobs.counts(now=at(3) + LEASE) == QueueCounts(due=3, scheduled=1, leased=0)


def test_two_postgresql_transactions_lease_disjoint_jobs(store: SQLDocumentStore, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SKIP LOCKED sharing is a PostgreSQL property; SQLite serialises writers")
    ids = submit(store, 0, 1, 2, 3, 4)
    with store.unit_of_work() as first, store.unit_of_work() as second:
        a = first.jobs.lease(now=at(10), limit=3, lease_for=LEASE, token="A")
        # `first` has not committed: without SKIP LOCKED `second` would block or take the same rows.
        b = second.jobs.lease(now=at(10), limit=5, lease_for=LEASE, token="B")
        first.commit()
        second.commit()
    assert [x.document_id for x in a] == ids[:3]
    assert [x.document_id for x in b] == ids[3:]


def test_concurrent_postgresql_workers_take_each_job_exactly_once(
    store: SQLDocumentStore, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("several workers are a PostgreSQL deployment")
    ids = submit(store, *range(40))
    taken: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            while True:
                with store.unit_of_work() as uow:
                    leases = uow.jobs.lease(now=at(100), limit=2, lease_for=LEASE, token=name)
                    for item in leases:
                        uow.jobs.complete(item.document_id, name)
                    uow.commit()
                if not leases:
                    return
                taken.setdefault(name, []).extend(item.document_id for item in leases)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    every = [job for jobs in taken.values() for job in jobs]
    assert sorted(every) == sorted(ids)  # none lost, none twice


def test_sqlite_writers_are_serialised(store: SQLDocumentStore, backend: str, database_url: str) -> None:
    if backend != "sqlite":
        pytest.skip("the SQLite write lock")
    submit(store, 0)
    impatient = make_engine(database_url, busy_timeout=0.05)
    try:
        with store.unit_of_work() as holder:
            holder.jobs.lease(now=at(1), limit=1, lease_for=LEASE, token="w1")
            # BEGIN IMMEDIATE: a second writer cannot even start while the first holds the lock...
            with pytest.raises(StoreError):
                SQLDocumentStore(impatient).unit_of_work().__enter__()
            # ...but readers can (WAL), and they see the last committed state.
            with SQLDocumentStore(impatient).unit_of_work(read_only=True) as reader:
                assert reader.jobs.counts(now=at(1)) == QueueCounts(due=1, scheduled=0, leased=0)
            holder.commit()
    finally:
        impatient.dispose()


def test_enqueue_takes_over_a_job_whose_lease_expired(store: SQLDocumentStore) -> None:
    # A worker leased the job and died: a retry request made after its lease ran out must not be lost.
    (job,) = submit(store, 0)
    lease(store, now_minute=1, token="dead")
    expired = at(1) + LEASE
    with store.unit_of_work() as uow:
        uow.jobs.enqueue(job, due_at=expired - timedelta(seconds=1))  # still leased then: left alone
        assert uow.jobs.get(job) == DeliveryJob(job, at(0), 1, "dead", expired)
        uow.jobs.enqueue(job, due_at=expired + timedelta(minutes=1))
        assert uow.jobs.get(job) == DeliveryJob(job, expired + timedelta(minutes=1), 1)
        with pytest.raises(LeaseLost):
            uow.jobs.renew(job, "dead", now=expired, lease_for=LEASE)
        uow.commit()


def test_a_guarded_update_refuses_a_key_that_is_no_column(store: SQLDocumentStore) -> None:
    """The lease statement built once takes its SET from the values: a key that is no column would be
    dropped, or as ``b_token`` would replace the guard's token; it is refused instead."""
    from gateway.store.queue import _JOB_LEASE, _LeasedTable
    from gateway.store.tables import delivery_jobs

    with store.engine.begin() as connection:
        leased = _LeasedTable(connection, delivery_jobs, delivery_jobs.c.document_id, _JOB_LEASE)
        for values in ({"b_token": "other"}, {"atempts": 1}):
            with pytest.raises(ValueError, match="not columns of delivery_jobs"):
                leased.guarded_update("doc", "token", values)
