"""The lease heartbeat against deliveries that end while one of its beats is out: a lease the worker let go
of during a beat stays let go, so a job whose delivery raised (a bug) expires and is retried as promised,
instead of being renewed by the heartbeat for as long as the worker runs."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from delivery_support import SettableClock, UUIDs, queue_document

from gateway.errors import StoreError
from gateway.services.deliver import DeliveryResult
from gateway.services.ports import DeliveryLease
from gateway.store import SQLDocumentStore
from gateway.worker.heartbeat import LeaseKeeper
from gateway.worker.loop import DeliveryWorker

LEASE = timedelta(minutes=5)


class SlowBeat:
    """Holds the heartbeat's first renewal in its thread until ``proceed`` (then renews as usual)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.renewing = threading.Event()
        self.proceed = threading.Event()
        real = LeaseKeeper._renew

        def renew(keeper: LeaseKeeper, leases: list[DeliveryLease]) -> list[DeliveryLease]:
            self.renewing.set()
            self.proceed.wait(10)
            return real(keeper, leases)

        monkeypatch.setattr(LeaseKeeper, "_renew", renew)


def test_a_lease_let_go_of_while_a_beat_renews_it_is_not_taken_up_again(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat = SlowBeat(monkeypatch)
    clock = SettableClock()
    queue_document(store, at=clock.now())
    with store.unit_of_work() as uow:
        (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=LEASE, token="t")
        uow.commit()
    keeper = LeaseKeeper(store=store, clock=clock, lease_for=LEASE, every=0.01)
    keeper.hold(lease)

    async def main() -> int:
        beating = asyncio.create_task(keeper.run())
        await asyncio.to_thread(beat.renewing.wait, 10)
        keeper.drop(lease)  # the delivery ended while the beat was out
        beat.proceed.set()
        while keeper.beats < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # more beats, if anything is held
        beating.cancel()
        return keeper.held

    assert asyncio.run(main()) == 0


class RaisingDeliverer:
    """A delivery that raises (a bug) while the heartbeat's first beat is out; its job stays leased."""

    def __init__(self, beat: SlowBeat) -> None:
        self.beat = beat

    def preload(self, uow: Any, leases: list[DeliveryLease]) -> dict[str, Any]:
        return {}

    def waiting_for_endpoints(self) -> int:
        return 0

    def before_endpoints(self) -> int:
        return 0

    def watch_endpoints(self, watcher: Any) -> None:
        pass

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        await asyncio.to_thread(self.beat.renewing.wait, 10)
        raise RuntimeError("a bug in the delivery")


def test_the_job_of_a_delivery_that_raised_during_a_beat_expires_and_is_due_again(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat = SlowBeat(monkeypatch)
    clock = SettableClock()
    doc_id = queue_document(store, at=clock.now())
    # A long poll: once the delivery raised, the worker looks no more during the test (the job is not
    # leased again by it; only the heartbeat could touch its lease).
    worker = DeliveryWorker(
        RaisingDeliverer(beat),  # type: ignore[arg-type]
        store=store,
        clock=clock,
        ids=UUIDs(),
        lease_for=LEASE,
        poll_interval=60.0,
        renew_every=0.01,
    )

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        await asyncio.to_thread(beat.renewing.wait, 10)
        await asyncio.sleep(0.2)  # the delivery raised and the worker let its lease go
        beat.proceed.set()
        await asyncio.sleep(0.1)
        clock.advance(minutes=6)  # past the lease: the job must be due again
        await asyncio.sleep(0.2)  # many beats
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    asyncio.run(main())
    with store.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get(doc_id)
    assert job is not None
    assert job.leased_until is not None
    assert job.leased_until <= clock.now(), "the heartbeat kept renewing a lease the worker had let go of"


class TwoLeaseDeliverer(RaisingDeliverer):
    """Each delivery waits until the test releases it (by its lease's token); records the leases taken."""

    def __init__(self) -> None:
        self.leases: list[DeliveryLease] = []
        self.release: dict[str, asyncio.Event] = {}

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        self.leases.append(lease)
        release = self.release.setdefault(lease.token, asyncio.Event())
        await release.wait()
        return DeliveryResult(lease.document_id, None)  # as after LeaseLost: the job left as it is


def test_a_delivery_whose_lease_ran_out_does_not_stop_the_renewal_of_the_jobs_next_lease(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A heartbeat that failed for a whole lease (database out) lets a send's lease run out; the worker then
    leases the job again while the old delivery still waits for its answer. When that old delivery ends,
    the new lease must still be renewed: otherwise it runs out during its own send, and the job is leased
    and sent a third time meanwhile."""
    failing = threading.Event()
    failing.set()
    real = LeaseKeeper._renew

    def renew(keeper: LeaseKeeper, leases: list[DeliveryLease]) -> list[DeliveryLease]:
        if failing.is_set():
            raise StoreError("begin transaction: OperationalError (database is locked)")
        return real(keeper, leases)

    monkeypatch.setattr(LeaseKeeper, "_renew", renew)
    clock = SettableClock()
    doc_id = queue_document(store, at=clock.now())
    deliverer = TwoLeaseDeliverer()
    worker = DeliveryWorker(
        deliverer,  # type: ignore[arg-type]
        store=store,
        clock=clock,
        ids=UUIDs(),
        lease_for=LEASE,
        poll_interval=0.01,
        renew_every=0.01,
    )

    def leased_until() -> Any:
        with store.unit_of_work(read_only=True) as uow:
            job = uow.jobs.get(doc_id)
        assert job is not None
        return job.lease_token, job.leased_until

    async def main() -> tuple[Any, Any]:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        while not deliverer.leases:
            await asyncio.sleep(0.01)
        clock.advance(minutes=6)  # the first lease ran out: its renewals failed
        while len(deliverer.leases) < 2:
            await asyncio.sleep(0.01)
        first, second = deliverer.leases
        failing.clear()  # the database answers again
        deliverer.release[first.token].set()  # the old delivery ends (its outcome: LeaseLost)
        await asyncio.sleep(0.1)
        clock.advance(minutes=4)  # most of the second lease is gone, its send is still in flight
        await asyncio.sleep(0.2)
        now_held = await asyncio.to_thread(leased_until)
        deliverer.release[second.token].set()
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        return second.token, now_held

    token, (held_by, until) = asyncio.run(main())
    assert held_by == token
    assert until == clock.now() + LEASE, "the second lease was not renewed while its send was in flight"


def test_a_beat_that_outlasted_its_interval_is_followed_at_once_by_the_next(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A beat that fails after a lock wait longer than the interval is retried at once: with a full interval
    after it, one lost beat on SQLite (30 s busy timeout + 2 × 10 s) let a send's 50 s lease run out."""
    clock = SettableClock()
    queue_document(store, at=clock.now())
    with store.unit_of_work() as uow:
        (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=LEASE, token="t")
        uow.commit()
    every = 0.4
    keeper = LeaseKeeper(store=store, clock=clock, lease_for=LEASE, every=every)
    keeper.hold(lease)
    calls: list[tuple[float, float]] = []  # (start, end) of each beat, monotonic
    real = LeaseKeeper._renew

    def renew(self: LeaseKeeper, leases: list[DeliveryLease]) -> list[DeliveryLease]:
        start = time.monotonic()
        try:
            if not calls:  # the first beat waits longer than the interval for the lock, then fails
                time.sleep(2 * every)
                raise StoreError("database is locked")
            return real(self, leases)
        finally:
            calls.append((start, time.monotonic()))

    monkeypatch.setattr(LeaseKeeper, "_renew", renew)

    async def main() -> None:
        beating = asyncio.create_task(keeper.run())
        while keeper.beats < 1:
            await asyncio.sleep(0.01)
        beating.cancel()

    asyncio.run(main())
    (_, failed_at), (retried_at, _) = calls[0], calls[1]
    assert retried_at - failed_at < every / 2  # at once, not a whole interval after the failure
