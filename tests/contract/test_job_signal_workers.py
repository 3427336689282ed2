"""Contract (PostgreSQL): several delivery workers on one database. One worker's signal listens to every
job's notification (it holds the listener lock); the others are woken only when that worker has no free
slot, so a second worker does not lease nothing once per job; a listener that dies is replaced within
the takeover interval; and no job waits for the poll while a worker has a free slot."""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text
from store_builders import at, content, outbound

from gateway.bootstrap.adapters import SystemClock
from gateway.errors import StoreError
from gateway.model.message import DeliveryStatus
from gateway.services.circuit_breaker import BreakerPolicy
from gateway.services.deliver import DeliveryResult
from gateway.services.delivery_attempt import PreparedDocument
from gateway.services.endpoint_gate import EndpointGate, SendPermit
from gateway.services.endpoint_slots import EndpointSlots
from gateway.services.ports import DeliveryLease
from gateway.store import SQLDocumentStore, make_engine
from gateway.store import job_signal as job_signal_module
from gateway.store.job_signal import LISTENER_LOCK, OVERFLOW_CHANNEL, PostgresJobSignal
from gateway.store.tables import delivery_jobs
from gateway.worker.loop import DeliveryWorker
from gateway.worker.store_faults import STORE_RELEASE_REASON

# Waits that must end: generous (never a timing figure). The workers' poll is longer than any wait here,
# so every lease in these tests was started by a signal (or the worker's first look).
ENDS_WITHIN = 10.0
POLL = 60.0
TAKEOVER = 0.2
JOBS = 20
#: ``RELISTEN_DELAY`` in the tests whose defect was waiting it out: far beyond their ``ENDS_WITHIN`` window,
#: so that window can be generous on a loaded host and still tell "at once" from "after the delay".
SLOW_RELISTEN = 6 * ENDS_WITHIN


@pytest.fixture
def backend() -> str:
    """PostgreSQL only: several workers share a PostgreSQL database (SQLite supports one worker)."""
    return "postgresql"


@pytest.fixture
def pg_store(store: SQLDocumentStore) -> SQLDocumentStore:
    return store


@pytest.fixture
def slow_relisten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_signal_module, "RELISTEN_DELAY", SLOW_RELISTEN)


def enqueue(store: SQLDocumentStore) -> str:
    """Store an outbound document and queue its job due at minute 1, committed (its NOTIFY is sent)."""
    document = outbound(created_at=at(0))
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.jobs.enqueue(document.id, due_at=at(1))
        uow.commit()
    return document.id


class Deliveries:
    """Delivers at once, except while ``held`` is set: then each delivery waits for ``release``."""

    def __init__(self, *, held: bool = False) -> None:
        self.held = held
        self.release = asyncio.Event()
        self.delivered: list[str] = []

    def preload(self, uow: Any, leases: list[DeliveryLease]) -> dict[str, PreparedDocument]:
        return {}

    def waiting_for_endpoints(self) -> int:
        return 0

    def before_endpoints(self) -> int:
        return 0

    def watch_endpoints(self, watcher: Any) -> None:
        pass

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        if self.held:
            await self.release.wait()
        self.delivered.append(lease.document_id)
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


class OneEndpoint(Deliveries):
    """Sends every job to one endpoint through the worker's real per-endpoint slots (limit 1): while the
    send in flight is held, the other deliveries wait in the process for the endpoint's slot."""

    ENDPOINT = "https://ap.example/as4"

    def __init__(self, *, held: bool = False) -> None:
        super().__init__(held=held)
        gate = EndpointGate(
            per_endpoint=1, breaker=BreakerPolicy(), clock=SystemClock(), initial_send_seconds=0.01
        )
        # A send to the endpoint has been answered already: only a measured endpoint has jobs wait for it.
        first = gate.acquire(self.ENDPOINT)
        assert isinstance(first, SendPermit), first
        gate.release(first, ok=True)
        self.slots = EndpointSlots(gate, max_wait=POLL)  # the waits outlast the test: they never give up

    def waiting_for_endpoints(self) -> int:
        return self.slots.waiting_in_all()

    def watch_endpoints(self, watcher: Any) -> None:
        self.slots.watch(watcher)

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        permit = await self.slots.acquire(self.ENDPOINT)
        assert isinstance(permit, SendPermit), permit
        try:
            return await super().deliver_one(lease, prepared)
        finally:
            self.slots.release(permit, ok=True)


class CountingWorker(DeliveryWorker):
    """A delivery worker that counts its lease units of work and those that leased nothing."""

    def __init__(
        self,
        store: SQLDocumentStore,
        deliveries: Deliveries,
        *,
        poll_interval: float = POLL,
        takeover: float = TAKEOVER,
        signal: PostgresJobSignal | None = None,
        **kw: Any,
    ) -> None:
        self.signal = signal or PostgresJobSignal(store.engine, takeover_interval=takeover)
        super().__init__(
            deliveries,  # type: ignore[arg-type]
            store=store,
            clock=_Clock(),
            ids=_IDs(),
            lease_for=timedelta(minutes=5),
            poll_interval=poll_interval,
            signal=self.signal,
            **kw,
        )
        self.deliveries = deliveries
        self.leases = 0
        self.empty = 0

    def took_a_job(self) -> bool:
        """A lease after the first (start-up) one, and one of them leased something."""
        return self.leases > 1 and self.empty < self.leases

    def _lease(
        self, limit: int, admission: Any = None
    ) -> tuple[list[DeliveryLease], dict[str, PreparedDocument]]:
        leases, prepared = super()._lease(limit, admission)
        self.leases += 1
        self.empty += not leases
        return leases, prepared


class _Clock:
    def now(self) -> datetime:
        return at(10)


class _IDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


async def until(condition: Any, within: float = ENDS_WITHIN) -> bool:
    """Poll ``condition`` every 10 ms for up to ``within`` seconds."""
    for _ in range(int(within / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return bool(condition())


async def start(*workers: CountingWorker) -> list[tuple[asyncio.Event, asyncio.Task[Any]]]:
    """Start the workers one after the other (the first one listens) and let them settle; returns each
    worker's stop request and task."""
    running = []
    for worker in workers:
        stop = asyncio.Event()
        running.append((stop, asyncio.create_task(worker.run(stop=stop))))
        assert await until(lambda w=worker: w.leases > 0)  # its first look (and its signal started)
        # The first one listens before the next starts: under load the second one's signal could take
        # the lock first (or the previous test's listener session may not have ended yet).
        assert await until(lambda: workers[0].signal.listening)
    assert await until(lambda: sum(w.signal.listening for w in workers) == 1)
    await asyncio.sleep(0.3)  # the standbys' first wake-ups (after their LISTEN) are spent
    return running


async def stop_all(running: list[tuple[asyncio.Event, asyncio.Task[Any]]]) -> None:
    for stop, _ in running:
        stop.set()
    await asyncio.wait_for(asyncio.gather(*(task for _, task in running)), timeout=ENDS_WITHIN)


async def fill_with_waiters(store: SQLDocumentStore, listener: CountingWorker) -> list[str]:
    """Fill the listener's 3 slots with one held send to ``OneEndpoint`` and two deliveries waiting for its
    slot, one job at a time: each is leased once the one before it sends or waits. Queued at once, the
    jobs could be leased together (a loaded loop reads their notifications late): that case has a test of its
    own below."""
    deliveries = listener.deliveries
    assert isinstance(deliveries, OneEndpoint)
    gate = deliveries.slots.gate
    queued = [await asyncio.to_thread(enqueue, store)]
    assert await until(lambda: gate.in_flight(OneEndpoint.ENDPOINT) == 1)  # the held send
    for waiting in (1, 2):
        queued.append(await asyncio.to_thread(enqueue, store))
        assert await until(lambda w=waiting: deliveries.waiting_for_endpoints() == w)
    return queued


def test_a_second_worker_is_not_woken_for_the_jobs_the_listener_takes(pg_store: SQLDocumentStore) -> None:
    # Jobs committed one by one, as the API posts them: the listening worker takes each; the other is not
    # woken (before: every NOTIFY woke both workers and one of them leased nothing, once per job).
    workers = [CountingWorker(pg_store, Deliveries()) for _ in range(2)]

    async def main() -> tuple[bool, int, int, int]:
        running = await start(*workers)
        listener = next(w for w in workers if w.signal.listening)
        standby = next(w for w in workers if w is not listener)
        standby_leases = standby.leases
        queued = []
        for _ in range(JOBS):
            queued.append(await asyncio.to_thread(enqueue, pg_store))
            await asyncio.sleep(0.02)
        delivered = lambda: sorted(d for w in workers for d in w.deliveries.delivered)  # noqa: E731
        assert await until(lambda: len(delivered()) == JOBS)  # no poll within the test: by the signal
        await stop_all(running)
        return (
            sorted(queued) == delivered(),
            len(listener.deliveries.delivered),
            standby.leases - standby_leases,
            listener.signal.handed_on,
        )

    all_delivered, by_listener, standby_leases, handed_on = asyncio.run(main())
    assert all_delivered
    assert by_listener == JOBS
    assert standby_leases == 0, f"the standby leased {standby_leases} times for {JOBS} jobs"
    assert handed_on == 0


def test_a_busy_listener_hands_its_wake_ups_to_a_free_worker(pg_store: SQLDocumentStore) -> None:
    # The listening worker has one slot, held by a delivery that does not end: the jobs after it must go
    # to the other worker at once, not after the poll.
    busy = CountingWorker(pg_store, Deliveries(held=True), max_in_flight=1)
    free = CountingWorker(pg_store, Deliveries())

    async def main() -> tuple[bool, list[str], list[str], int]:
        running = await start(busy, free)
        listening = busy.signal.listening
        first = await asyncio.to_thread(enqueue, pg_store)
        assert await until(busy.took_a_job)  # it took the first one
        later = [await asyncio.to_thread(enqueue, pg_store) for _ in range(3)]
        assert await until(lambda: len(free.deliveries.delivered) == len(later))
        busy.deliveries.release.set()
        assert await until(lambda: busy.deliveries.delivered == [first])
        handed_on = busy.signal.handed_on
        await stop_all(running)
        return listening, sorted(free.deliveries.delivered), sorted(later), handed_on

    listening, by_free, later, handed_on = asyncio.run(main())
    assert listening
    assert by_free == later
    assert handed_on >= 1


def test_a_listener_full_of_jobs_waiting_for_their_endpoint_keeps_its_wake_ups(
    pg_store: SQLDocumentStore,
) -> None:
    # The listener's 3 slots: one send in flight (held) and two jobs waiting for the same endpoint's slot
    # (its limit 1). The next jobs must not go to the other worker, which would send to that endpoint too
    # (twice its limit across the two workers): the listener, woken meanwhile, leases them as its slots
    # free (before: it handed them on and the standby delivered them at once).
    listener = CountingWorker(pg_store, OneEndpoint(held=True), max_in_flight=3)
    # Its own poll would come within the test if a standby polled (before: 10 x 0.1 s) and take them too.
    standby = CountingWorker(pg_store, Deliveries(), poll_interval=0.1)

    async def main() -> tuple[bool, int, int, list[str], list[str], int]:
        running = await start(listener, standby)
        listening = listener.signal.listening
        first = await fill_with_waiters(pg_store, listener)  # slots full
        later = [await asyncio.to_thread(enqueue, pg_store) for _ in range(2)]
        await asyncio.sleep(2.0)  # a hand-on, or a poll every second, would reach the standby within this
        by_standby_meanwhile = len(standby.deliveries.delivered)
        handed_on = listener.signal.handed_on
        listener.deliveries.release.set()
        assert await until(lambda: len(listener.deliveries.delivered) == len(first) + len(later))
        await stop_all(running)
        return (
            listening,
            by_standby_meanwhile,
            handed_on,
            sorted(listener.deliveries.delivered),
            sorted(first + later),
            len(standby.deliveries.delivered),
        )

    listening, by_standby_meanwhile, handed_on, by_listener, queued, by_standby = asyncio.run(main())
    assert listening
    assert by_standby_meanwhile == 0
    assert handed_on == 0
    assert by_listener == queued  # by its signal: the poll (60 s) never came
    assert by_standby == 0


def enqueue_together(store: SQLDocumentStore, count: int) -> list[str]:
    """``count`` jobs committed together (one notification: the listener leases them at once)."""
    documents = [outbound(created_at=at(0)) for _ in range(count)]
    with store.unit_of_work() as uow:
        for document in documents:
            uow.outbound.add(document, content())
            uow.jobs.enqueue(document.id, due_at=at(1))
        uow.commit()
    return [document.id for document in documents]


def test_a_listener_that_fills_its_slots_in_one_lease_with_jobs_that_wait_keeps_its_wake_ups(
    pg_store: SQLDocumentStore,
) -> None:
    # The state of the test above reached in one lease (as under load, or with a backlog): the listener's
    # 3 slots: one send in flight (held), two waiting for the endpoint. Its wake-ups must stay with it
    # (before: it told the signal busy right after that lease, before the deliveries reached the endpoint's
    # slot, and not again until one ended: the lease's hand-on, then the fourth job's, went to the standby).
    listener = CountingWorker(pg_store, OneEndpoint(held=True), max_in_flight=3)
    standby = CountingWorker(pg_store, Deliveries())

    async def main() -> tuple[int, int]:
        running = await start(listener, standby)
        await asyncio.to_thread(enqueue_together, pg_store, 3)
        assert await until(lambda: listener.deliveries.waiting_for_endpoints() == 2)
        await asyncio.to_thread(enqueue, pg_store)
        await asyncio.sleep(0.5)
        handed_on = listener.signal.handed_on
        listener.deliveries.release.set()
        assert await until(
            lambda: len(listener.deliveries.delivered) + len(standby.deliveries.delivered) == 4
        )
        await stop_all(running)
        return handed_on, len(standby.deliveries.delivered)

    assert asyncio.run(main()) == (0, 0)


def queue_silently(store: SQLDocumentStore) -> str:
    """A job that becomes due without a notification (as a retry does when its time comes)."""
    document = outbound(created_at=at(0))
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.commit()
    with store.engine.begin() as connection:
        connection.execute(
            insert(delivery_jobs).values(document_id=document.id, due_at=at(1), attempts=0, created_at=at(0))
        )
    return document.id


def test_a_busy_listener_hands_its_polls_on_and_a_standby_does_not_poll(
    pg_store: SQLDocumentStore,
) -> None:
    # A job due without a NOTIFY is found by a poll. The listener (poll 0.2 s) is full; the standby has no
    # poll of its own: the job reaches it because the busy listener hands its polls on.
    busy = CountingWorker(pg_store, Deliveries(held=True), max_in_flight=1, poll_interval=0.2)
    free = CountingWorker(pg_store, Deliveries())

    async def main() -> tuple[bool, float, float, list[str], list[str]]:
        running = await start(busy, free)
        listening = busy.signal.listening
        intervals = (busy._pacing.poll(), free._pacing.poll())
        await asyncio.to_thread(enqueue, pg_store)  # fills the listener's slot
        assert await until(busy.took_a_job)
        silent = await asyncio.to_thread(queue_silently, pg_store)
        assert await until(lambda: bool(free.deliveries.delivered))
        busy.deliveries.release.set()
        await stop_all(running)
        return listening, *intervals, free.deliveries.delivered, [silent]

    listening, listener_poll, standby_poll, by_free, silent = asyncio.run(main())
    assert listening
    assert (listener_poll, standby_poll) == (0.2, math.inf)
    assert by_free == silent


class StoreFails(Deliveries):
    """Every delivery fails on the store (as when the database went away in the middle of an attempt)."""

    async def deliver_one(self, lease: DeliveryLease, prepared: Any = None) -> DeliveryResult:
        raise StoreError("the database went away")


def _last_error(store: SQLDocumentStore, document_id: str) -> tuple[str | None, bool]:
    with store.engine.begin() as connection:
        row = connection.execute(
            text("SELECT last_error, lease_token IS NULL FROM delivery_jobs WHERE document_id = :id"),
            {"id": document_id},
        ).one()
    return row[0], bool(row[1])


def test_a_standby_hands_back_the_lease_of_a_delivery_the_store_interrupted(
    pg_store: SQLDocumentStore,
) -> None:
    # The standby delivers a job handed on by the busy listener; the delivery fails on the store. Its lease
    # is handed back at the standby's next look (due again shortly): that look must come at its poll
    # interval, not never (a standby does not poll), or the job waits for its lease to expire.
    busy = CountingWorker(pg_store, Deliveries(held=True), max_in_flight=1)
    standby = CountingWorker(pg_store, StoreFails(), poll_interval=0.2)

    async def main() -> tuple[bool, tuple[str | None, bool]]:
        running = await start(busy, standby)
        listening = busy.signal.listening
        await asyncio.to_thread(enqueue, pg_store)
        assert await until(busy.took_a_job)  # the listener's one slot is full
        handed = await asyncio.to_thread(enqueue, pg_store)  # handed on to the standby, which fails on it
        assert await until(lambda: standby.leases > 1 and standby.empty < standby.leases)
        released = lambda: _last_error(pg_store, handed)  # noqa: E731
        for _ in range(30):  # 3 s: many of the standby's polls (0.2 s), far under the lease (5 min)
            if (await asyncio.to_thread(released))[1]:
                break
            await asyncio.sleep(0.1)
        state = await asyncio.to_thread(released)
        busy.deliveries.release.set()
        await stop_all(running)
        return listening, state

    listening, (last_error, unleased) = asyncio.run(main())
    assert listening
    assert unleased
    assert last_error == STORE_RELEASE_REASON


def _terminate(store: SQLDocumentStore, pids_sql: str, **params: Any) -> int:
    """Terminate the sessions whose pids ``pids_sql`` selects, as a crashed worker's connection ends."""
    with store.engine.begin() as connection:
        pids = connection.execute(text(pids_sql), params).scalars().all()
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return len(pids)


def _kill_the_standbys(store: SQLDocumentStore) -> int:
    """Terminate the sessions that try to take the listener lock without holding it (the standbys')."""
    return _terminate(
        store,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND query LIKE '%pg_try_advisory_lock%' AND pid <> pg_backend_pid()"
        " AND pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)",
    )


def test_a_standby_whose_connection_fails_polls_at_once(
    pg_store: SQLDocumentStore, slow_relisten: None
) -> None:
    # A standby has no poll while it stands by; once its connection fails it must poll at the worker's
    # interval at once (its wait, started without a timeout, ends), not after its next reconnection.
    # The listener is full of jobs waiting for their endpoint: it neither leases nor hands on meanwhile.
    listener = CountingWorker(pg_store, OneEndpoint(held=True), max_in_flight=3, poll_interval=0.2)
    standby = CountingWorker(pg_store, Deliveries(), poll_interval=0.2)

    async def main() -> tuple[bool, int, int, list[str], list[str]]:
        running = await start(listener, standby)
        listening = listener.signal.listening
        await fill_with_waiters(pg_store, listener)
        silent = await asyncio.to_thread(queue_silently, pg_store)
        await asyncio.sleep(0.6)
        meanwhile = len(standby.deliveries.delivered)
        killed = await asyncio.to_thread(_kill_the_standbys, pg_store)
        await until(lambda: bool(standby.deliveries.delivered))  # well under RELISTEN_DELAY
        by_standby = list(standby.deliveries.delivered)
        listener.deliveries.release.set()
        await stop_all(running)
        return listening, meanwhile, killed, by_standby, [silent]

    listening, meanwhile, killed, by_standby, silent = asyncio.run(main())
    assert listening
    assert meanwhile == 0
    assert killed == 1
    assert by_standby == silent


class CutAfterTakingTheLock(PostgresJobSignal):
    """A signal whose connection ends right after its first takeover took the lock, before it listens (as
    a server restart or a cut network would end it then)."""

    cut = False

    async def _take_lock(self, connection: Any) -> bool:
        taken = await super()._take_lock(connection)
        if taken and not self.cut:
            self.cut = True
            await asyncio.sleep(0.5)  # its worker waits again meanwhile (with no poll: it stood by)
            with contextlib.suppress(Exception):  # the next statement fails: the connection is gone
                await connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return taken


def test_a_standby_whose_connection_fails_while_taking_over_polls_at_once(
    pg_store: SQLDocumentStore, slow_relisten: None
) -> None:
    # The listener leaves; the standby takes the lock, and its connection ends before it listens. Its
    # worker waited with no poll (it stood by): it must poll at its interval now, not wait until the
    # signal connects again (RELISTEN_DELAY, 5 s; longer while the server refuses the connection).
    leaving = CountingWorker(pg_store, Deliveries())
    cut = CutAfterTakingTheLock(pg_store.engine, takeover_interval=TAKEOVER)
    staying = CountingWorker(pg_store, Deliveries(), poll_interval=0.2, signal=cut)

    async def main() -> tuple[bool, bool, list[str], list[str]]:
        running = await start(leaving, staying)
        was_standing_by = staying.signal.standing_by
        running[0][0].set()  # the listener stops: the standby takes over, and its connection is cut
        assert await until(lambda: cut.cut)
        assert await until(lambda: not cut.standing_by and not cut.listening)
        silent = await asyncio.to_thread(queue_silently, pg_store)
        await until(lambda: bool(staying.deliveries.delivered))  # well under RELISTEN_DELAY
        by_staying = list(staying.deliveries.delivered)
        await stop_all(running)
        return was_standing_by, cut.cut, by_staying, [silent]

    was_standing_by, was_cut, by_staying, silent = asyncio.run(main())
    assert was_standing_by
    assert was_cut
    assert by_staying == silent


def _kill_the_listener(store: SQLDocumentStore) -> int:
    """Terminate the session holding the listener lock, as a crashed worker's connection ends."""
    return _terminate(
        store,
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND ((classid::bigint << 32) | objid::bigint) = :key",
        key=LISTENER_LOCK,
    )


def test_a_standby_takes_over_from_a_dead_listener(pg_store: SQLDocumentStore) -> None:
    first = PostgresJobSignal(pg_store.engine, takeover_interval=TAKEOVER)
    second = PostgresJobSignal(pg_store.engine, takeover_interval=TAKEOVER)

    async def woken(signal: PostgresJobSignal, within: float) -> bool:
        wait = asyncio.create_task(signal.wait())
        done, _ = await asyncio.wait({wait}, timeout=within)
        wait.cancel()
        return bool(done)

    async def main() -> tuple[bool, bool, int, bool, bool, bool]:
        await woken(first, ENDS_WITHIN)  # its first wake-up: it listens (nobody else does)
        assert await until(lambda: first.listening)
        await woken(second, ENDS_WITHIN)  # a standby's first wake-up, after its LISTEN
        standby_quiet = True
        for _ in range(3):  # jobs go to the listener only
            await asyncio.to_thread(enqueue, pg_store)
            standby_quiet &= not await woken(second, 0.3)
        killed = await asyncio.to_thread(_kill_the_listener, pg_store)
        took_over = await until(lambda: second.listening, within=ENDS_WITHIN)
        await woken(second, ENDS_WITHIN)  # a new listener looks at once (notifications went to nobody)
        await asyncio.to_thread(enqueue, pg_store)
        woken_as_listener = await woken(second, ENDS_WITHIN)
        first_listening = first.listening
        first.close()
        second.close()
        return standby_quiet, took_over, killed, woken_as_listener, first_listening, second.listening

    standby_quiet, took_over, killed, woken_as_listener, first_listening, second_listening = asyncio.run(
        main()
    )
    assert standby_quiet
    assert killed == 1
    assert took_over
    assert woken_as_listener
    assert not first_listening
    assert not second_listening  # closed: released


def test_a_stopping_worker_hands_the_listening_over(pg_store: SQLDocumentStore) -> None:
    # A worker told to stop leases no more: it closes its signal, so another worker listens at once
    # instead of its jobs waiting for the poll (its deliveries in flight finish meanwhile).
    leaving = CountingWorker(pg_store, Deliveries(held=True))
    staying = CountingWorker(pg_store, Deliveries())

    async def main() -> tuple[bool, list[str], list[str]]:
        running = await start(leaving, staying)
        was_listening = leaving.signal.listening
        held = await asyncio.to_thread(enqueue, pg_store)
        assert await until(leaving.took_a_job)
        running[0][0].set()  # stop the listening worker; its delivery is still in flight
        assert await until(lambda: staying.signal.listening)
        later = await asyncio.to_thread(enqueue, pg_store)
        assert await until(lambda: staying.deliveries.delivered == [later])
        leaving.deliveries.release.set()
        await stop_all(running)
        return was_listening, leaving.deliveries.delivered, [held]

    was_listening, delivered_by_leaving, held = asyncio.run(main())
    assert was_listening
    assert delivered_by_leaving == held


_HAND_ON_SESSIONS = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name"
    " AND query = :notify AND state = 'idle' AND pid <> pg_backend_pid()"
)


def _hand_on_sessions(store: SQLDocumentStore, application_name: str) -> list[int]:
    """The sessions of ``application_name`` (the listener's signal's) idle after the overflow NOTIFY: its
    hand-on connection. By name: a session of an earlier test, ended but not gone yet from
    ``pg_stat_activity`` on a loaded host (a listener that left also ends on that NOTIFY), is not counted."""
    with store.engine.begin() as connection:
        params = {"name": application_name, "notify": f"NOTIFY {OVERFLOW_CHANNEL}"}
        return list(connection.execute(_HAND_ON_SESSIONS, params).scalars().all())


def _kill_the_hand_on_connection(store: SQLDocumentStore, application_name: str) -> int:
    """Terminate the listener's hand-on session (as a server restart or an idle timeout ends it)."""
    pids = _hand_on_sessions(store, application_name)
    with store.engine.begin() as connection:
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return len(pids)


def test_a_wake_up_handed_on_over_a_broken_connection_is_sent_again_at_once(
    pg_store: SQLDocumentStore, slow_relisten: None
) -> None:
    # The listener's hand-on connection died while idle: the next hand-on fails on it. That wake-up must
    # still reach the free worker at once on a new connection (before: it was dropped, and the hand-on
    # task slept RELISTEN_DELAY; the job waited for the standby's poll, 10 x the worker's).
    name = "gateway-hand-on-broken"
    engine = make_engine(pg_store.engine.url, connect_args={"application_name": name})
    signal = PostgresJobSignal(engine, takeover_interval=TAKEOVER)  # its connections carry the name
    busy = CountingWorker(pg_store, Deliveries(held=True), max_in_flight=1, signal=signal)
    free = CountingWorker(pg_store, Deliveries())

    async def main() -> tuple[bool, int, list[str], list[str]]:
        running = await start(busy, free)
        listening = busy.signal.listening
        await asyncio.to_thread(enqueue, pg_store)  # fills the listener's slot: its first hand-on
        assert await until(busy.took_a_job)
        assert await until(lambda: busy.signal.handed_on >= 1)
        for _ in range(int(ENDS_WITHIN / 0.05)):  # the hand-on connection sent its NOTIFY and idles
            if await asyncio.to_thread(_hand_on_sessions, pg_store, name):
                break
            await asyncio.sleep(0.05)
        killed = await asyncio.to_thread(_kill_the_hand_on_connection, pg_store, name)
        later = await asyncio.to_thread(enqueue, pg_store)
        await until(lambda: bool(free.deliveries.delivered))  # well under RELISTEN_DELAY
        by_free = list(free.deliveries.delivered)
        busy.deliveries.release.set()
        await stop_all(running)
        return listening, killed, by_free, [later]

    try:
        listening, killed, by_free, later = asyncio.run(main())
    finally:
        engine.dispose()
    assert listening
    assert killed == 1
    assert by_free == later


class _Refused(OSError):
    pass


def test_a_signal_outlives_an_error_that_is_not_psycopgs(
    pg_store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An OSError (or a timeout) from the driver ended the listening task for good, silently: the worker
    # never listened again and nothing said so. It must log and listen again after the delay.
    import psycopg

    from gateway.store import job_signal as module

    connect = psycopg.AsyncConnection.connect
    failures = [_Refused("connection refused"), TimeoutError()]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return await connect(*args, **kwargs)

    monkeypatch.setattr(module, "RELISTEN_DELAY", 0.05)
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", flaky)
    signal = PostgresJobSignal(pg_store.engine, takeover_interval=TAKEOVER)

    async def main() -> tuple[bool, bool]:
        wait = asyncio.create_task(signal.wait())
        listened = await until(lambda: signal.listening)
        done, _ = await asyncio.wait({wait}, timeout=ENDS_WITHIN)  # its wake-up on listening
        signal.close()
        wait.cancel()
        return listened, bool(done)

    listened, woken = asyncio.run(main())
    assert listened
    assert woken
    assert not failures


def test_a_stopping_listener_wakes_a_standby_to_listen_at_once(pg_store: SQLDocumentStore) -> None:
    # A worker that stops releases the listener lock and says so on the overflow channel: a standby
    # listens at once, not at its next takeover attempt (0.5 s by default, twice the default poll: the
    # jobs posted meanwhile waited for it). Here the takeover attempts never come within the test.
    leaving = CountingWorker(pg_store, Deliveries(held=True), takeover=POLL)
    staying = CountingWorker(pg_store, Deliveries(), takeover=POLL)

    async def main() -> tuple[bool, bool, list[str], list[str]]:
        running = await start(leaving, staying)
        was_listening = leaving.signal.listening
        await asyncio.to_thread(enqueue, pg_store)
        assert await until(leaving.took_a_job)
        running[0][0].set()  # stop the listening worker; its delivery is still in flight
        took_over = await until(lambda: staying.signal.listening)  # well under its takeover interval
        later = await asyncio.to_thread(enqueue, pg_store)
        await until(lambda: staying.deliveries.delivered == [later])
        by_staying = list(staying.deliveries.delivered)
        leaving.deliveries.release.set()
        await stop_all(running)
        return was_listening, took_over, by_staying, [later]

    was_listening, took_over, by_staying, later = asyncio.run(main())
    assert was_listening
    assert took_over
    assert by_staying == later
