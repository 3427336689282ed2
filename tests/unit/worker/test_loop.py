"""The delivery worker loop: it outlives transient store failures (bounded backoff, one log line each),
still stops promptly, its lease margin covers a database lock wait; a delivery that hangs holds one slot of
the pipeline, not the worker, a send waiting long for its answer not even that, and the heartbeat renews
the leases of deliveries in flight."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from delivery_support import SettableClock, UUIDs, queue_document

from gateway.bootstrap.adapters import SystemClock
from gateway.config import LEASE_MARGIN_SECONDS
from gateway.errors import StoreError
from gateway.model.message import DeliveryStatus
from gateway.services.awaited_sends import AwaitedSends
from gateway.services.deliver import DeliveryResult
from gateway.services.ports import DeliveryLease
from gateway.store import DEFAULT_BUSY_TIMEOUT, SQLDocumentStore
from gateway.worker.budget import Admission
from gateway.worker.heartbeat import LeaseKeeper
from gateway.worker.loop import DeliveryWorker, WorkerStats
from gateway.worker.store_faults import MAX_STORE_RETRY_DELAY

LEASE = timedelta(minutes=5)


class OutageStore:
    """A real store whose next ``failures`` units of work fail like a locked or restarting database."""

    def __init__(self, inner: SQLDocumentStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.attempts = 0

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise StoreError("begin transaction: OperationalError (database is locked)")
        return self.inner.unit_of_work(read_only=read_only)

    def close(self) -> None:
        self.inner.close()


class IdleDeliverer:
    """What the worker loop asks a ``Deliverer`` besides ``deliver_one``, answered as by one with nothing
    preloaded, no job waiting for an endpoint's slot, none before its endpoint and no watcher: the fakes
    below override what their test is about."""

    def preload(self, uow: Any, leases: list[DeliveryLease]) -> dict[str, Any]:
        return {}

    def waiting_for_endpoints(self) -> int:
        return 0

    def before_endpoints(self) -> int:
        return 0

    def watch_endpoints(self, watcher: Any) -> None:
        pass


class RecordingDeliverer(IdleDeliverer):
    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        self.delivered.append(lease.document_id)
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


W = TypeVar("W", bound=DeliveryWorker)


def make_worker(
    store: Any,
    deliverer: Any,
    *,
    poll_interval: float,
    clock: SettableClock | None = None,
    kind: type[W] = DeliveryWorker,  # type: ignore[assignment]
    **kw: Any,
) -> W:
    """A worker of class ``kind`` over ``store`` and the test's ``deliverer`` (``kw``: the pipeline's sizes,
    its wake-up signal)."""
    return kind(
        deliverer,
        store=store,
        clock=clock or SettableClock(),
        ids=UUIDs(),
        lease_for=LEASE,
        poll_interval=poll_interval,
        **kw,
    )


def test_the_worker_survives_transient_store_failures(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    doc_id = queue_document(store)
    outage = OutageStore(store, failures=3)
    deliverer = RecordingDeliverer()
    worker = make_worker(outage, deliverer, poll_interval=0.001)
    with caplog.at_level(logging.ERROR, logger="gateway.worker"):
        stats = asyncio.run(worker.run(max_jobs=1))
    assert deliverer.delivered == [doc_id]
    assert stats.processed == 1
    assert outage.attempts == 5  # three failures, the lease, the read of its document
    failures = [r for r in caplog.records if r.name == "gateway.worker"]
    assert len(failures) == 3
    assert all(r.levelno == logging.ERROR and r.exc_info is None for r in failures)  # one line, no trace
    assert "database is locked" in failures[0].getMessage()


def test_a_store_failure_reading_the_leased_documents_keeps_the_leases(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The leases are committed before their documents are read: a store failure on the read hands the
    jobs to their attempts without documents (each reads its own) instead of failing the leasing step."""

    class UnreadableDeliverer(RecordingDeliverer):
        def preload(self, uow: Any, leases: list[DeliveryLease]) -> dict[str, Any]:
            raise StoreError("select: OperationalError (disk I/O error)")

        async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
            assert prepared is None
            return await super().deliver_one(lease, prepared)

    doc_id = queue_document(store)
    deliverer = UnreadableDeliverer()
    worker = make_worker(store, deliverer, poll_interval=0.001)
    with caplog.at_level(logging.ERROR, logger="gateway.worker"):
        results = asyncio.run(worker.run_batch())
    assert deliverer.delivered == [doc_id]
    assert [r.status for r in results if isinstance(r, DeliveryResult)] == [DeliveryStatus.DELIVERED]
    assert any("disk I/O error" in r.getMessage() for r in caplog.records)


def test_a_stop_request_ends_the_wait_after_a_store_failure() -> None:
    class DownStore:
        def unit_of_work(self, *, read_only: bool = False) -> Any:
            stop.set()  # the operator stops the worker while the database is down
            raise StoreError("begin transaction: OperationalError")

        def close(self) -> None:
            pass

    async def main() -> int:
        worker = make_worker(DownStore(), RecordingDeliverer(), poll_interval=3600)
        # The retry wait would be an hour: only the stop request can end run() within the guard.
        stats = await asyncio.wait_for(worker.run(stop=stop), timeout=30)
        return stats.processed

    stop = asyncio.Event()
    assert asyncio.run(main()) == 0


def test_a_single_pass_reports_the_store_failure() -> None:
    class DownStore:
        def unit_of_work(self, *, read_only: bool = False) -> Any:
            raise StoreError("begin transaction: OperationalError")

        def close(self) -> None:
            pass

    worker = make_worker(DownStore(), RecordingDeliverer(), poll_interval=0.001)
    with pytest.raises(StoreError):
        asyncio.run(worker.run(once=True))


def test_a_single_pass_that_fails_to_lease_lets_its_deliveries_in_flight_finish_first(
    store: SQLDocumentStore,
) -> None:
    """``gateway worker --once``: the lease after a delivery ended fails on the store while another send is
    still out. The failure is reported, but the send is not cut off: like a stop request, it finishes and
    records its outcome (cancelled, its receipt would be lost and the document resent after its lease)."""
    slow, quick = queue_document(store), queue_document(store, number="INV-2")
    outage = OutageStore(store, failures=0)
    ended: list[str] = []

    class OneSlowDeliverer(IdleDeliverer):
        async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
            try:
                if lease.document_id == slow:
                    await asyncio.sleep(0.3)  # waiting for the receiver's answer
                else:
                    outage.failures = 1  # the next lease finds the database locked
            except asyncio.CancelledError:
                ended.append(f"{lease.document_id} cancelled")
                raise
            ended.append(lease.document_id)
            return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)

    worker = make_worker(outage, OneSlowDeliverer(), poll_interval=0.001)
    with pytest.raises(StoreError):
        asyncio.run(worker.run(once=True))
    assert ended == [quick, slow]


def test_the_store_retry_delay_backs_off_within_bounds() -> None:
    worker = make_worker(None, RecordingDeliverer(), poll_interval=1.0)
    delays = [worker.store_retry_delay(n) for n in range(1, 9)]
    assert delays == [1.0, 2.0, 4.0, MAX_STORE_RETRY_DELAY, 5.0, 5.0, 5.0, 5.0]
    assert worker.store_retry_delay(10_000) == MAX_STORE_RETRY_DELAY
    slow = make_worker(None, RecordingDeliverer(), poll_interval=120.0)
    assert slow.store_retry_delay(5) == 120.0  # never shorter than the poll interval


def test_the_lease_margin_outlasts_a_database_lock_wait() -> None:
    # A heartbeat renews the leases in a unit of work that may first wait the SQLite busy timeout for the
    # write lock: the lease must still run when that renewal lands.
    assert DEFAULT_BUSY_TIMEOUT + 10 <= LEASE_MARGIN_SECONDS


class LockWaitingStore:
    """``store`` whose writing units of work first wait ``wait`` seconds for the write lock: the clock
    moves on meanwhile (SQLite's busy timeout, a PostgreSQL pool checkout)."""

    def __init__(self, store: SQLDocumentStore, clock: SettableClock, wait: float) -> None:
        self.store, self.clock, self.wait = store, clock, wait

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        return _LockWaiting(self.store.unit_of_work(read_only=read_only), self, read_only)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class _LockWaiting:
    def __init__(self, uow: Any, store: LockWaitingStore, read_only: bool) -> None:
        self.uow, self.store, self.read_only = uow, store, read_only

    def __enter__(self) -> Any:
        if not self.read_only:
            self.store.clock.advance(seconds=self.store.wait)
        return self.uow.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self.uow.__exit__(*exc)


@pytest.mark.parametrize("with_budget", [False, True])
def test_a_lease_runs_from_when_its_unit_of_work_got_the_write_lock(
    store: SQLDocumentStore, with_budget: bool
) -> None:
    # The lease margin covers one lock wait, the first renewal's: a lease that counted from before its own
    # wait for the lock would end that much earlier, and its first renewal could land after it (the job
    # leased again, its document sent twice).
    clock = SettableClock()
    first = queue_document(store, at=clock.now() - timedelta(seconds=1), body=b"x" * 1000)
    second = queue_document(store, at=clock.now(), body=b"x" * 1000)
    worker = make_worker(
        LockWaitingStore(store, clock, DEFAULT_BUSY_TIMEOUT), IdleDeliverer(), clock=clock, poll_interval=60.0
    )
    admission = Admission(1500, 0, 0) if with_budget else None
    leases, _ = worker._lease(10, admission)
    assert [lease.document_id for lease in leases] == ([first] if with_budget else [first, second])
    assert {lease.leased_until for lease in leases} == {clock.now() + LEASE}


def test_a_renewal_runs_from_when_its_unit_of_work_got_the_write_lock(store: SQLDocumentStore) -> None:
    # The same for the heartbeat: a renewal that waited the busy timeout for the lock must not count the
    # lease from before that wait (the margin is meant for the next renewal's wait).
    clock = SettableClock()
    document = queue_document(store, at=clock.now())
    worker = make_worker(store, IdleDeliverer(), clock=clock, poll_interval=60.0)
    (lease,), _ = worker._lease(1)
    keeper = LeaseKeeper(
        store=LockWaitingStore(store, clock, DEFAULT_BUSY_TIMEOUT), clock=clock, lease_for=LEASE, every=10.0
    )
    (renewed,) = keeper._renew([lease])
    assert renewed.document_id == document
    assert renewed.leased_until == clock.now() + LEASE


# --- the pipeline: no batch barrier, heartbeat ------------------------------------------------------------


class HeldDeliverer(IdleDeliverer):
    """Delivers at once, except the documents in ``held``: those wait until ``release`` is set."""

    def __init__(self, held: set[str]) -> None:
        self.held = held
        self.release = asyncio.Event()
        self.delivered: list[str] = []
        self.started: list[str] = []

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        self.started.append(lease.document_id)
        if lease.document_id in self.held:
            await self.release.wait()
        self.delivered.append(lease.document_id)
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


def test_a_delivery_that_hangs_holds_one_slot_not_the_worker(store: SQLDocumentStore) -> None:
    clock = SettableClock()
    slow = queue_document(store, at=clock.now() - timedelta(seconds=1))  # the oldest: leased first
    others = [queue_document(store, at=clock.now()) for _ in range(6)]
    deliverer = HeldDeliverer({slow})
    # Two slots, one job per lease query: with a batch barrier nothing after the first batch would move.
    worker = make_worker(store, deliverer, clock=clock, poll_interval=0.01, batch_size=1, max_in_flight=2)

    async def main() -> WorkerStats:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        for _ in range(500):
            if len(deliverer.delivered) == len(others):
                break
            await asyncio.sleep(0.01)
        assert sorted(deliverer.delivered) == sorted(others)  # all while the slow one is still in flight
        assert deliverer.started[0] == slow
        stop.set()
        deliverer.release.set()  # a stop lets the delivery in flight finish
        return await asyncio.wait_for(running, timeout=10)

    stats = asyncio.run(main())
    assert stats.processed == 7
    assert deliverer.delivered[-1] == slow


def test_the_worker_never_has_more_deliveries_in_flight_than_its_slots(store: SQLDocumentStore) -> None:
    clock = SettableClock()
    ids = [queue_document(store, at=clock.now()) for _ in range(5)]
    deliverer = HeldDeliverer(set(ids))
    worker = make_worker(store, deliverer, clock=clock, poll_interval=0.01, batch_size=10, max_in_flight=3)

    async def main() -> int:
        running = asyncio.create_task(worker.run(max_jobs=5))
        await asyncio.sleep(0.3)
        started = len(deliverer.started)
        deliverer.release.set()
        await asyncio.wait_for(running, timeout=10)
        return started

    assert asyncio.run(main()) == 3
    assert sorted(deliverer.delivered) == sorted(ids)


class AwaitingDeliverer(IdleDeliverer):
    """Every delivery sends at once and waits for its answer until ``release`` is set; its wait is known
    to ``long_sends`` as a real ``Deliverer``'s is (``AwaitedSends`` on the wall clock)."""

    def __init__(self) -> None:
        self.awaited = AwaitedSends(SystemClock())
        self.release = asyncio.Event()
        self.started: list[str] = []

    def long_sends(self, seconds: float) -> tuple[int, float | None]:
        return self.awaited.waited_longer(seconds)

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        self.started.append(lease.document_id)
        token = self.awaited.begin()
        try:
            await self.release.wait()
        finally:
            self.awaited.end(token)
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


@pytest.mark.parametrize(("slow_send", "in_flight"), [(None, 2), (0.05, 4)])
def test_sends_waiting_long_for_their_answer_hold_no_slot_up_to_as_many_again(
    store: SQLDocumentStore, slow_send: float | None, in_flight: int
) -> None:
    # A silent receiver's sends (issue 12 part 3) must not shrink the pipeline for the others; the set-aside
    # sends are bounded too (at most max_in_flight of them), or a dead network would lease every job.
    clock = SettableClock()
    ids = [queue_document(store, at=clock.now()) for _ in range(8)]
    deliverer = AwaitingDeliverer()
    worker = make_worker(
        store, deliverer, clock=clock, poll_interval=5.0, batch_size=1, max_in_flight=2, slow_send=slow_send
    )

    async def main() -> int:
        running = asyncio.create_task(worker.run(max_jobs=len(ids)))
        await asyncio.sleep(0.5)  # ten times the threshold: the poll (5 s) cannot be what leases
        started = len(deliverer.started)
        deliverer.release.set()
        await asyncio.wait_for(running, timeout=30)
        return started

    assert asyncio.run(main()) == in_flight
    assert sorted(deliverer.started) == sorted(ids)


def test_the_heartbeat_renews_the_lease_of_a_delivery_in_flight(store: SQLDocumentStore) -> None:
    clock = SettableClock()
    doc_id = queue_document(store, at=clock.now())
    deliverer = HeldDeliverer({doc_id})
    worker = make_worker(store, deliverer, clock=clock, poll_interval=0.01, renew_every=0.02)

    def leased_until() -> Any:
        with store.unit_of_work(read_only=True) as uow:
            job = uow.jobs.get(doc_id)
        assert job is not None
        return job.leased_until

    async def main() -> tuple[Any, Any]:
        running = asyncio.create_task(worker.run(max_jobs=1))
        while not deliverer.started:
            await asyncio.sleep(0.01)
        first = await asyncio.to_thread(leased_until)
        clock.advance(minutes=4)  # most of the 5-minute lease is gone, the send is still in flight
        await asyncio.sleep(0.2)
        renewed = await asyncio.to_thread(leased_until)
        deliverer.release.set()
        await asyncio.wait_for(running, timeout=10)
        return first, renewed

    first, renewed = asyncio.run(main())
    assert first == SettableClock().now() + LEASE
    assert renewed == clock.now() + LEASE  # renewed from the moved clock


def test_deferred_deliveries_are_not_counted_as_processed() -> None:
    stats = WorkerStats()
    results: list[DeliveryResult | BaseException] = [
        DeliveryResult("a", DeliveryStatus.DELIVERED),
        DeliveryResult("b", None, reason="endpoint-busy: ...", deferred=True),
    ]
    for result in results:
        stats.count(result)
    assert (stats.processed, stats.deferred, dict(stats.by_status)) == (1, 1, {"delivered": 1})


# --- when to lease with a wake-up signal ------------------------------------------------------------------


class SilentSignal:
    """A wake-up signal that never fires: every lease in these tests comes from the worker's own rules
    (its first look, a full lease, a hand-back), none from a wake-up or a poll (60 s)."""

    async def wait(self) -> None:
        await asyncio.Event().wait()

    def busy(self, busy: bool) -> None:
        pass

    def polled_while_busy(self) -> None:
        pass

    def poll_interval(self, interval: float) -> float:
        return interval

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        self.close()


class TurnCountingSignal(SilentSignal):
    """A silent signal counting what the worker tells it: once per turn of its loop (``busy`` with a slot
    free or not, ``close`` once stopping), and once more when the run ends."""

    def __init__(self) -> None:
        self.turns = 0

    def busy(self, busy: bool) -> None:
        self.turns += 1

    def close(self) -> None:
        self.turns += 1


class CountingLeases(DeliveryWorker):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.leases = 0

    def _lease(self, limit: int, admission: Any = None) -> tuple[list[DeliveryLease], dict[str, Any]]:
        self.leases += 1
        return super()._lease(limit, admission)


class QuickDeliverer(IdleDeliverer):
    """Ends each delivery after a short pause; the documents in ``deferred`` are handed back."""

    def __init__(self, deferred: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.deferred = deferred
        self.delivered: list[str] = []
        self.started = 0

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        if lease.document_id in self.deferred:
            return DeliveryResult(lease.document_id, None, reason="endpoint-busy: test", deferred=True)
        self.started += 1
        await asyncio.sleep(0.03 * self.started)  # they end one after the other
        self.delivered.append(lease.document_id)
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


def run_counting_leases(
    store: Any, deliverer: QuickDeliverer, done: int, *, signal: Any, **kw: Any
) -> CountingLeases:
    """Run a lease-counting worker (poll interval 60 s: no poll comes within a test) until ``done``
    documents are delivered and a moment longer (any lease their ends would start), then stop it."""
    worker = make_worker(store, deliverer, kind=CountingLeases, poll_interval=60.0, signal=signal, **kw)

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        for _ in range(300):
            if len(deliverer.delivered) >= done:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # time for any lease the ended deliveries would start
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    asyncio.run(main())
    return worker


def test_with_a_signal_ended_deliveries_start_no_lease(store: SQLDocumentStore) -> None:
    """Issue 12: leasing after every ended delivery found nothing about once per job (the signal had
    woken the worker for each job already): a thread hop and, on SQLite, the write lock each time."""
    ids = [queue_document(store) for _ in range(3)]
    deliverer = QuickDeliverer()
    worker = run_counting_leases(
        store, deliverer, signal=SilentSignal(), done=3, batch_size=10, max_in_flight=20
    )
    assert sorted(deliverer.delivered) == sorted(ids)
    assert worker.leases == 1  # the first look took all three; their ends led to no lease


def test_without_a_signal_ended_deliveries_still_lease(store: SQLDocumentStore) -> None:
    ids = [queue_document(store) for _ in range(3)]
    deliverer = QuickDeliverer()
    worker = run_counting_leases(store, deliverer, done=3, signal=None)
    assert sorted(deliverer.delivered) == sorted(ids)
    assert worker.leases == 4  # polling only: each ended delivery is the time to look again


def test_a_full_lease_leases_again_when_a_slot_frees_without_a_wake_up(store: SQLDocumentStore) -> None:
    """A lease that got all it asked for may leave due jobs whose wake-up is spent (PostgreSQL folds the
    notifications of a burst into one): the freed slots lease them, not the next poll."""
    ids = [queue_document(store) for _ in range(5)]
    deliverer = QuickDeliverer()
    run_counting_leases(store, deliverer, signal=SilentSignal(), done=5, batch_size=2, max_in_flight=2)
    assert sorted(deliverer.delivered) == sorted(ids)  # within the test: no 60 s poll came


def test_after_a_hand_back_ended_deliveries_lease_again(store: SQLDocumentStore) -> None:
    """A handed-back job becomes due again without a commit or a notification, at about the time a slot
    of its endpoint frees: for ``HANDED_BACK_WINDOW`` every ended delivery leases."""
    deferred = queue_document(store)
    others = [queue_document(store) for _ in range(2)]
    deliverer = QuickDeliverer({deferred})
    worker = run_counting_leases(
        store, deliverer, signal=SilentSignal(), done=2, batch_size=10, max_in_flight=20
    )
    assert sorted(deliverer.delivered) == sorted(others)
    assert worker.leases == 1 + 3  # the first look, then one after each of the three ended deliveries


class SteadyDeliverer(IdleDeliverer):
    """Each delivery takes ``step`` seconds longer than the one before: with many in flight, one ends every
    ``step`` seconds (slow receivers answering one after the other); records when each document started."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.started: dict[str, float] = {}
        self.delivered: list[str] = []

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        self.started[lease.document_id] = time.monotonic()
        await asyncio.sleep(self.step * len(self.started))
        self.delivered.append(lease.document_id)
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


def test_a_job_due_without_a_wake_up_waits_no_longer_than_the_poll(store: SQLDocumentStore) -> None:
    """A retry (or a lease that expired, a hand-back older than ``HANDED_BACK_WINDOW``) becomes due without
    a commit or a NOTIFY: the poll is what finds it. Deliveries ending more often than the poll interval must
    not put that look off until they have all ended."""
    clock = SettableClock()
    busy = [queue_document(store, at=clock.now()) for _ in range(30)]
    retry = queue_document(store, at=clock.now() + timedelta(minutes=1))
    deliverer = SteadyDeliverer(step=0.1)  # 30 in flight: one ends every 0.1 s for 3 s
    worker = make_worker(
        store,
        deliverer,
        clock=clock,
        batch_size=40,
        max_in_flight=40,
        poll_interval=0.3,
        signal=SilentSignal(),  # like PostgreSQL: nothing notifies a retry whose time comes
    )

    async def main() -> float:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        while len(deliverer.started) < len(busy):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.15)  # a delivery or two ended
        clock.advance(minutes=2)
        due_since = time.monotonic()
        for _ in range(600):
            if retry in deliverer.started:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(running, timeout=20)
        return deliverer.started.get(retry, float("inf")) - due_since

    waited = asyncio.run(main())
    # Within about one poll interval (0.3 s, margin for a loaded machine), not after the ~3 s of the others.
    assert waited < 1.2


def test_a_stopping_worker_waits_for_its_deliveries_without_spinning(store: SQLDocumentStore) -> None:
    # Stopped, the worker leases no more: an overdue look must not turn the wait for the deliveries in
    # flight into a loop of zero-second waits.
    clock = SettableClock()
    held = queue_document(store, at=clock.now())
    deliverer = HeldDeliverer({held})
    signal = TurnCountingSignal()
    worker = make_worker(store, deliverer, clock=clock, poll_interval=0.05, signal=signal)

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        while not deliverer.started:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.sleep(0.5)  # ten poll intervals with the delivery in flight
        deliverer.release.set()
        await asyncio.wait_for(running, timeout=10)

    asyncio.run(main())
    assert deliverer.delivered == [held]
    # Every turn of the loop tells the signal (busy, or closed once stopping) and waits at most once.
    assert signal.turns < 30  # one per poll interval at most, not a busy loop


class SlowToCloseSignal(SilentSignal):
    """A silent signal whose tasks take a while to end once closed, as a PostgreSQL listener's: it releases
    the listener lock and wakes the standbys (``_leave``)."""

    def __init__(self) -> None:
        self.closed = False
        self.ended = False

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.close()
        await asyncio.sleep(0.05)
        self.ended = True


def test_a_run_ends_after_its_signal_has_closed(store: SQLDocumentStore) -> None:
    # ``gateway worker``'s event loop ends with the run: a signal's task still ending then (a listener
    # handing its role to the standbys) was cancelled again mid-statement - the hand-over cut, and psycopg
    # warned "query cancellation interrupted". The run awaits the signal's close before it returns.
    signal = SlowToCloseSignal()
    worker = make_worker(store, RecordingDeliverer(), poll_interval=60.0, signal=signal)

    async def main() -> bool:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        await asyncio.sleep(0.05)  # its first look, then a wait for the signal
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        return signal.ended  # before the loop's other tasks could run on

    assert asyncio.run(main())
    assert signal.closed


class FailingToCloseSignal(SilentSignal):
    """A silent signal whose close fails (a defect of a signal: neither real one raises)."""

    async def aclose(self) -> None:
        raise RuntimeError("the signal could not close")


def test_a_signal_that_fails_to_close_is_logged_and_the_run_still_ends(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    # The run gathers the close with the cancelled deliveries, whose errors it ignores: the close's is logged.
    worker = make_worker(store, RecordingDeliverer(), poll_interval=60.0, signal=FailingToCloseSignal())

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    with caplog.at_level(logging.WARNING, logger="gateway.worker"):
        asyncio.run(main())
    assert "closing the job wake-up signal failed: RuntimeError('the signal could not close')" in caplog.text


# --- the busy signal and deliveries waiting for their endpoint's slot -------------------------------------


class RecordingSignal(SilentSignal):
    """A silent signal recording what the worker tells it (``busy`` True/False) and its poll hand-ons."""

    def __init__(self) -> None:
        self.told: list[bool] = []
        self.polls_handed_on = 0

    def busy(self, busy: bool) -> None:
        self.told.append(busy)

    def polled_while_busy(self) -> None:
        self.polls_handed_on += 1


class OneEndpointDeliverer(IdleDeliverer):
    """Like the Deliverer: each delivery first looks its receiver up (until ``looked_up`` is set; counted by
    ``before_endpoints``), then takes a slot of one endpoint (limit 1, the real ``EndpointSlots``: the others
    wait in the process) and sends until ``release`` is set."""

    ENDPOINT = "https://ap.example/as4"

    def __init__(self) -> None:
        from gateway.bootstrap.adapters import SystemClock
        from gateway.services.circuit_breaker import BreakerPolicy
        from gateway.services.endpoint_gate import EndpointGate, GateRefusal
        from gateway.services.endpoint_slots import EndpointSlots

        gate = EndpointGate(
            per_endpoint=1, breaker=BreakerPolicy(), clock=SystemClock(), initial_send_seconds=0.01
        )
        # A send to the endpoint has been answered already: only a measured endpoint has jobs wait for it.
        first = gate.acquire(self.ENDPOINT)
        assert not isinstance(first, GateRefusal), first
        gate.release(first, ok=True)
        self.slots = EndpointSlots(gate, max_wait=60.0)  # the waits outlast the test
        self.looked_up = asyncio.Event()
        self.release = asyncio.Event()
        self.delivered: list[str] = []
        self.before = 0
        self.watcher: Any = None

    def waiting_for_endpoints(self) -> int:
        return self.slots.waiting_in_all()

    def before_endpoints(self) -> int:
        return self.before

    def watch_endpoints(self, watcher: Any) -> None:
        self.watcher = watcher
        self.slots.watch(watcher)

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        self.before += 1
        await self.looked_up.wait()
        self.before -= 1
        if not self.before and self.watcher is not None:
            self.watcher()
        permit = await self.slots.acquire(self.ENDPOINT)
        try:
            await self.release.wait()
            self.delivered.append(lease.document_id)
            return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)
        finally:
            self.slots.release(permit, ok=True)  # type: ignore[arg-type]


async def until(condition: Any, within: float = 10.0) -> bool:
    for _ in range(int(within / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return bool(condition())


def test_a_lease_that_fills_the_slots_with_jobs_that_will_wait_for_their_endpoint_is_not_said_busy(
    store: SQLDocumentStore,
) -> None:
    # Issue 12 (Workers, busy signal): the worker said busy right after the lease that filled its slots,
    # before the deliveries reached their endpoint's slot; on PostgreSQL the wake-ups meanwhile (and the
    # lease's own hand-on) went to a standby, which sent to the same endpoint.
    ids = [queue_document(store) for _ in range(3)]
    deliverer = OneEndpointDeliverer()
    signal = RecordingSignal()
    worker = make_worker(store, deliverer, poll_interval=60.0, signal=signal, max_in_flight=3)

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        assert await until(lambda: deliverer.before == 3)
        await asyncio.sleep(0.05)
        deliverer.looked_up.set()  # within the grace: one sends, two wait for the endpoint's slot
        assert await until(lambda: deliverer.waiting_for_endpoints() == 2)
        assert await until(lambda: signal.told[-1:] == [False])
        deliverer.release.set()
        assert await until(lambda: len(deliverer.delivered) == 3)
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    asyncio.run(main())
    assert sorted(deliverer.delivered) == sorted(ids)
    assert True not in signal.told, signal.told
    assert len(signal.told) < 20, "a turn of the loop per told change, not a busy loop"


def test_a_full_worker_whose_deliveries_start_waiting_for_their_endpoint_tells_the_signal_at_once(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lookups outlast the grace: the full worker says busy (a slow SMP must not keep its wake-ups from
    # the other workers, and that is no poll to hand on). When two deliveries then wait for the endpoint's
    # slot, it says it is not busy at once: not at the next delivery end or poll (60 s).
    monkeypatch.setattr("gateway.worker.pacing.BEFORE_ENDPOINT_GRACE", 0.1)
    [queue_document(store) for _ in range(3)]
    deliverer = OneEndpointDeliverer()
    signal = RecordingSignal()
    worker = make_worker(store, deliverer, poll_interval=60.0, signal=signal, max_in_flight=3)

    async def main() -> tuple[bool, bool]:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        said_busy = await until(lambda: signal.told[-1:] == [True])
        deliverer.looked_up.set()
        said_free = await until(
            lambda: deliverer.waiting_for_endpoints() == 2 and signal.told[-1:] == [False]
        )
        deliverer.release.set()
        assert await until(lambda: len(deliverer.delivered) == 3)
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        return said_busy, said_free

    assert asyncio.run(main()) == (True, True)
    assert signal.polls_handed_on == 0


# --- review of the busy signal (Workers, busy signal, review pass) -----------------------------------------


class SlowLookups(IdleDeliverer):
    """Each delivery looks its receiver up (counted by ``before_endpoints``) for ``lookup`` seconds and ends
    there (no endpoint reached); the first three are staggered, so one ends every ``lookup / 3`` seconds while
    the others still look up: a full worker whose slots are refilled by each ended delivery."""

    def __init__(self, lookup: float) -> None:
        self.lookup = lookup
        self.before = 0
        self.watcher: Any = None
        self.started = 0
        self.ended = 0

    def before_endpoints(self) -> int:
        return self.before

    def watch_endpoints(self, watcher: Any) -> None:
        self.watcher = watcher

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        self.started += 1
        self.before += 1
        try:
            await asyncio.sleep(self.lookup * min(self.started, 3) / 3)
        finally:
            self.before -= 1
            if not self.before and self.watcher is not None:
                self.watcher()
        self.ended += 1
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


def test_a_full_worker_refilled_while_its_deliveries_look_up_says_busy_once_the_grace_runs_out(
    store: SQLDocumentStore,
) -> None:
    # The grace after the lease that filled the slots is not renewed by the leases that refill them while the
    # tell is put off: a slow SMP (every delivery looking up, one ending every 0.25 s and its slot refilled at
    # once) must not keep a full listener from saying busy for as long as the flow lasts.
    for _ in range(30):
        queue_document(store)
    deliverer = SlowLookups(lookup=0.75)
    signal = RecordingSignal()
    worker = make_worker(store, deliverer, poll_interval=60.0, signal=signal, max_in_flight=3)

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        await until(lambda: True in signal.told or deliverer.ended >= 8, within=5.0)
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    asyncio.run(main())
    assert deliverer.ended >= 3, deliverer.ended  # the slots were refilled meanwhile
    assert True in signal.told, (signal.told, deliverer.ended)


def test_a_worker_without_a_signal_is_not_woken_by_its_deliveries_endpoint_waits(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polling only (no signal): there is nothing to tell, so a full worker's wait is not ended by the
    # deliveries reaching or leaving their endpoint's wait (a turn of the loop each, for nothing).
    import gateway.worker.loop as loop_module

    changed_args: list[Any] = []
    real = loop_module.wait_for_work

    async def recording(stop: Any, flying: Any, timeout: float, signal: Any, changed: Any = None) -> bool:
        changed_args.append(changed)
        return await real(stop, flying, timeout, signal, changed)

    monkeypatch.setattr(loop_module, "wait_for_work", recording)
    [queue_document(store) for _ in range(3)]
    deliverer = OneEndpointDeliverer()
    worker = make_worker(store, deliverer, poll_interval=60.0, max_in_flight=3)

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        assert await until(lambda: deliverer.before == 3)
        deliverer.looked_up.set()
        assert await until(lambda: deliverer.waiting_for_endpoints() == 2)
        deliverer.release.set()
        assert await until(lambda: len(deliverer.delivered) == 3)
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    asyncio.run(main())
    assert changed_args
    assert all(changed is None for changed in changed_args), changed_args


# --- the memory budget: bytes of the documents in flight (``worker.budget``) ------------------------------


class MeasuringDeliverer(IdleDeliverer):
    """Each delivery sends at once and waits ``seconds`` to twice that for its answer (a wait ``long_sends``
    knows, as a real ``Deliverer``'s); records the most deliveries running at once, who ran beside whom,
    and which documents ``preload`` was asked to read."""

    def __init__(self, seconds: float, *, held: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.seconds = seconds
        self.held = held
        self.release = asyncio.Event()
        self.awaited = AwaitedSends(SystemClock())
        self.running: set[str] = set()
        self.most = 0
        self.beside: dict[str, set[str]] = {}
        self.delivered: list[str] = []
        self.read: list[str] = []

    def preload(self, uow: Any, leases: list[DeliveryLease]) -> dict[str, Any]:
        self.read += [lease.document_id for lease in leases]
        return {}

    def long_sends(self, seconds: float) -> tuple[int, float | None]:
        return self.awaited.waited_longer(seconds)

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        doc = lease.document_id
        self.running.add(doc)
        self.most = max(self.most, len(self.running))
        for other in self.running:
            self.beside.setdefault(other, set()).update(self.running - {other})
        token = self.awaited.begin()
        try:
            await asyncio.sleep(self.seconds * (1 + len(self.beside) % 3 / 2))  # they end apart
            if doc in self.held:
                await self.release.wait()
        finally:
            self.awaited.end(token)
            self.running.discard(doc)
        self.delivered.append(doc)
        return DeliveryResult(doc, DeliveryStatus.DELIVERED)


@pytest.mark.parametrize(
    ("budget", "max_in_flight", "slow_send", "most"),
    [
        (2500, 20, None, 2),  # floor(2500 / 1000): the slots would allow 20
        (3000, 20, None, 3),  # within the budget is up to it
        (3500, 2, 0.01, 3),  # sends set aside hold their documents: 2 slots + 2 set aside would be 4
        (999, 20, None, 1),  # each document is larger than the budget: one at a time
    ],
)
def test_the_memory_budget_bounds_the_documents_in_flight_and_all_are_delivered(
    store: SQLDocumentStore, budget: int, max_in_flight: int, slow_send: float | None, most: int
) -> None:
    clock = SettableClock()
    ids = [queue_document(store, at=clock.now(), body=b"x" * 1000) for _ in range(8)]
    deliverer = MeasuringDeliverer(0.15)
    worker = make_worker(
        store,
        deliverer,
        clock=clock,
        poll_interval=0.01,
        max_in_flight=max_in_flight,
        slow_send=slow_send,
        max_in_flight_bytes=budget,
    )
    stats = asyncio.run(asyncio.wait_for(worker.run(max_jobs=len(ids)), timeout=30))
    assert deliverer.most == most
    assert sorted(deliverer.delivered) == sorted(ids)
    assert stats.processed == len(ids)


def test_a_document_larger_than_the_budget_is_delivered_alone(store: SQLDocumentStore) -> None:
    clock = SettableClock()
    small = [queue_document(store, at=clock.now() - timedelta(seconds=2), body=b"s" * 100) for _ in range(3)]
    large = queue_document(store, at=clock.now() - timedelta(seconds=1), body=b"L" * 5000)
    later = [queue_document(store, at=clock.now(), body=b"s" * 100) for _ in range(3)]
    deliverer = MeasuringDeliverer(0.1)
    worker = make_worker(store, deliverer, clock=clock, poll_interval=0.01, max_in_flight_bytes=1000)
    stats = asyncio.run(asyncio.wait_for(worker.run(max_jobs=7), timeout=30))
    assert sorted(deliverer.delivered) == sorted([*small, large, *later])
    assert stats.processed == 7
    assert deliverer.beside.get(large, set()) == set()  # nothing ran beside it
    assert deliverer.most == 3  # the small ones went together (300 bytes)


def test_jobs_beyond_the_budget_are_handed_back_unread_keeping_their_attempts(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SettableClock()
    first = queue_document(store, at=clock.now() - timedelta(seconds=1), body=b"x" * 1000)
    queued = clock.now() - timedelta(seconds=0.5)
    rest = [queue_document(store, at=queued, body=b"x" * 1000) for _ in range(2)]
    deliverer = MeasuringDeliverer(0.0, held={first})
    worker = make_worker(store, deliverer, clock=clock, poll_interval=0.01, max_in_flight_bytes=1500)

    def jobs() -> list[Any]:
        with store.unit_of_work(read_only=True) as uow:
            return [uow.jobs.get(doc) for doc in rest]

    async def main() -> list[Any]:
        running = asyncio.create_task(worker.run(max_jobs=3))
        assert await until(lambda: first in deliverer.running)
        await asyncio.sleep(0.2)  # twenty polls with the held delivery in flight
        held_back = await asyncio.to_thread(jobs)
        deliverer.release.set()
        await asyncio.wait_for(running, timeout=10)
        return held_back

    with caplog.at_level(logging.INFO, logger="gateway.worker"):
        held_back = asyncio.run(main())
    for job in held_back:
        assert job is not None
        # Not an attempt; due when it was (at once, in its place in the queue).
        assert (job.attempts, job.lease_token, job.due_at) == (0, None, queued)
        assert job.last_error == "worker memory budget: 1 deliveries with 1000 bytes in flight of 1500 bytes"
    assert deliverer.read[0] == first  # the others were not read with the first lease
    assert sorted(deliverer.read) == sorted([first, *rest])  # each read once, when leased to be delivered
    assert sorted(deliverer.delivered) == sorted([first, *rest])
    logged = [r for r in caplog.records if "memory budget" in r.getMessage()]
    assert logged[0].levelno == logging.INFO
    assert logged[0].getMessage() == (
        "worker memory budget: 2 leased job(s) of 2000 bytes handed back; 1 deliveries with 1000 bytes in "
        "flight of 1500 bytes"
    )
    assert len(logged) <= 2  # once per hold-back: none while the held delivery ran (twenty polls)


@pytest.mark.parametrize("with_signal", [True, False])
def test_a_worker_whose_budget_is_taken_leases_nothing_until_a_delivery_ends(
    store: SQLDocumentStore, with_signal: bool
) -> None:
    """Full by bytes (the next due document does not fit), the worker does not poll - each look would hand
    the job back again - nor wait for the poll once a delivery ends: it leases when one ends, and tells
    its signal it is busy meanwhile (on PostgreSQL the wake-ups go to the other workers)."""
    clock = SettableClock()
    first = queue_document(store, at=clock.now() - timedelta(seconds=1), body=b"x" * 600)
    rest = [queue_document(store, at=clock.now(), body=b"x" * 600) for _ in range(2)]
    deliverer = MeasuringDeliverer(0.0, held={first})
    signal = RecordingSignal() if with_signal else None
    # With the signal no poll comes within the test (60 s); without, one every 0.02 s.
    worker = make_worker(
        store,
        deliverer,
        kind=CountingLeases,
        clock=clock,
        poll_interval=60.0 if with_signal else 0.02,
        signal=signal,
        max_in_flight_bytes=1000,
    )

    async def main() -> int:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        assert await until(lambda: first in deliverer.running)
        await asyncio.sleep(0.3)  # fifteen poll intervals without the signal
        leases = worker.leases
        deliverer.release.set()
        assert await until(lambda: len(deliverer.delivered) == 3)  # with the signal: not after the 60 s poll
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        return leases

    assert asyncio.run(main()) == 1  # while the held delivery ran: its lease only
    assert sorted(deliverer.delivered) == sorted([first, *rest])
    if signal is not None:
        assert signal.told[:1] == [True]  # busy once the lease was held back
        assert len(signal.told) < 20, "a turn of the loop per delivery end, not a busy loop"
