"""The delivery worker: a continuous pipeline of up to ``max_in_flight`` deliveries, until told to stop.

Jobs are leased as slots free up - there is no batch barrier, so a receiver that answers after 10 s (or
never) holds one slot, not the worker. The per-endpoint limit and circuit breaker of
``services.endpoint_gate`` (applied by the Deliverer once the receiver's endpoint is known) keep one receiver
from taking all the slots: its surplus jobs are handed back, not counted as attempts, while the other
receivers are served; and a send that has waited ``slow_send`` seconds for its answer stops holding a slot
at all (``services.awaited_sends``; at most ``max_in_flight`` such sends). A memory budget bounds the bytes
of the documents in flight besides (``worker.budget``): leases beyond it are handed back unread, and a
worker whose budget is taken leases nothing until a delivery ends. The leases of deliveries in
flight are renewed by a heartbeat (``worker.heartbeat``), so a lease can be short and a dead worker's
documents are taken over within a minute.

Several worker processes may share one PostgreSQL database (``FOR UPDATE SKIP LOCKED`` leases hand each
disjoint jobs); on SQLite run one worker. A worker that dies loses nothing: its leases expire and the jobs
become due again (see ``gateway.services.deliver`` for why a resend is safe). A delivery that fails on the
store (connection lost, database restarting) hands its lease back as soon as the store answers again, so
the job resumes within seconds of the database coming back instead of after the lease
(``worker.store_faults``). When the pipeline looks for due jobs and what wakes it up: ``worker.pacing``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import anyio.to_thread

from gateway.bootstrap import Services
from gateway.errors import StoreError
from gateway.services.deliver import Deliverer, DeliveryResult
from gateway.services.delivery_attempt import PreparedDocument
from gateway.services.ports import Clock, DeliveryLease, DocumentStore, IDFactory
from gateway.services.receive_recovery import CLAIM_FOR
from gateway.store import SQLDocumentStore
from gateway.store.job_signal import JobSignal, job_signal, received_signal
from gateway.worker.budget import MIB, Admission, amount, bytes_in_flight
from gateway.worker.heartbeat import LeaseKeeper
from gateway.worker.pacing import LeasePacing, wait_for_work
from gateway.worker.received import ReceivedDocumentsWorker
from gateway.worker.stats import WorkerStats as WorkerStats  # re-exported: `gateway worker` prints it
from gateway.worker.store_faults import InterruptedLeases, store_retry_delay

log = logging.getLogger("gateway.worker")

#: Default seconds between two lease renewals of the deliveries in flight.
DEFAULT_RENEW_EVERY = 10.0


class DeliveryWorker:
    """Drives ``Deliverer.deliver_one`` over leased jobs.

    Args:
        deliverer: the delivery recipe.
        store: the document store (leases are taken in their own short unit of work).
        clock / ids: time and lease tokens.
        lease_for: lease duration; longer than ``renew_every`` plus a lock wait (the heartbeat renews it).
        batch_size: most jobs leased by one query (and delivered concurrently by ``run_batch``).
        poll_interval: seconds to wait when no job is due.
        max_in_flight: deliveries in flight at most in ``run`` (the pipeline's slots), not counting up to as
            many sends that have waited longer than ``slow_send`` for their answer.
        renew_every: seconds between two lease renewals of the deliveries in flight.
        signal: wakes the worker when a job is due (``store.job_signal``) while it has free slots; the poll
            stays as the fallback. None: polling only. Told when the slots are full (``busy``), so that on
            PostgreSQL the wake-ups this worker cannot take go to the other workers; closed on a stop.
            A PostgreSQL standby does not poll while it stands by (``JobSignal.poll_interval``).
        slow_send: seconds after which a send waiting for its answer no longer holds a slot
            (``gateway.services.awaited_sends``); None: every delivery holds its slot to the end.
        max_in_flight_bytes: the memory budget of ``run``, bytes of the documents of its deliveries in
            flight, set-aside sends included (``worker.budget``); None: no budget.
    """

    def __init__(
        self,
        deliverer: Deliverer,
        *,
        store: DocumentStore,
        clock: Clock,
        ids: IDFactory,
        lease_for: timedelta,
        batch_size: int = 10,
        poll_interval: float = 1.0,
        max_in_flight: int = 20,
        renew_every: float = DEFAULT_RENEW_EVERY,
        signal: JobSignal | None = None,
        slow_send: float | None = None,
        max_in_flight_bytes: int | None = None,
    ) -> None:
        if batch_size < 1 or max_in_flight < 1:
            raise ValueError("batch_size and max_in_flight must be at least 1")
        if max_in_flight_bytes is not None and max_in_flight_bytes < 1:
            raise ValueError("max_in_flight_bytes must be at least 1")
        self._deliverer = deliverer
        self._store = store
        self._clock = clock
        self._ids = ids
        self._lease_for = lease_for
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_in_flight = max_in_flight
        self._renew_every = renew_every
        self._slow_send = slow_send
        self._max_bytes = max_in_flight_bytes
        self._pacing = LeasePacing(
            poll_interval=poll_interval, signal=signal, batch_size=batch_size, max_in_flight=max_in_flight
        )
        self._interrupted = InterruptedLeases(store=store, clock=clock, retry_delay=self.store_retry_delay)

    def _lease(
        self, limit: int, admission: Admission | None = None
    ) -> tuple[list[DeliveryLease], dict[str, PreparedDocument]]:
        """Lease up to ``limit`` due jobs, commit, then read their documents in a read-only unit of work
        of the same thread hop (``Deliverer.preload``): one read transaction and hop per batch instead of
        one per document, and the lease's write transaction (on SQLite, the database's write lock that the
        API's writes wait for) holds only the lease query.

        ``admission``: the memory budget (``worker.budget``); the leases it does not keep are handed back
        in the lease's unit of work, so their documents are never read: not counted as attempts, and due
        when they were (at once, in their place in the queue: due ``now`` they would go behind every job due
        meanwhile, and a large document could be put off again and again).
        """
        with self._store.unit_of_work() as uow:
            # The time once the transaction holds the write lock (SQLite) or a pooled connection, as the
            # lease always took it: read before, a lock wait of up to the busy timeout would come off the
            # lease (``leased_until``) and eat the margin its first renewal lands in (LEASE_MARGIN_SECONDS).
            now = self._clock.now()
            leases = uow.jobs.lease(now=now, limit=limit, lease_for=self._lease_for, token=self._ids.new_id())
            if admission is not None and leases:
                kept = admission.admit(leases)
                if admission.held_back:
                    reason = admission.reason()
                    for lease in leases[kept:]:
                        due_at = now if lease.due_at is None else min(lease.due_at, now)
                        uow.jobs.hand_back(lease.document_id, lease.token, due_at=due_at, error=reason)
                    leases = leases[:kept]
            uow.commit()
        if admission is not None and admission.held_back:
            log.info(
                "worker memory budget: %d leased job(s) of %s handed back; %d deliveries with %s in flight "
                "of %s",
                admission.held_back,
                amount(admission.held_back_bytes),
                admission.in_flight,
                amount(admission.in_flight_bytes),
                amount(admission.budget),
            )
        return leases, self._preload(leases) if leases else {}

    def _preload(self, leases: list[DeliveryLease]) -> dict[str, PreparedDocument]:
        """The documents of the committed ``leases``; none if the store fails (each attempt then reads its
        own document, and fails on the store like any step): the leases are taken and stay delivered."""
        try:
            with self._store.unit_of_work(read_only=True) as uow:
                return self._deliverer.preload(uow, leases)
        except StoreError as exc:
            log.error("reading %d leased documents failed (%s): each attempt reads its own", len(leases), exc)
            return {}

    async def _take(
        self, limit: int, admission: Admission | None = None
    ) -> tuple[list[DeliveryLease], dict[str, PreparedDocument]]:
        """Hand back the leases of interrupted deliveries first, then lease up to ``limit`` due jobs
        (``admission``: within the memory budget, ``_lease``).

        Raises:
            StoreError: leases of earlier failed deliveries cannot be handed back yet, or leasing failed.
        """
        if self._interrupted.pending:
            await self._interrupted.hand_back()
            if self._interrupted.pending:
                raise StoreError(
                    f"{self._interrupted.pending} lease(s) of interrupted deliveries not handed back"
                )
        return await anyio.to_thread.run_sync(self._lease, limit, admission)

    async def run_batch(self, limit: int | None = None) -> list[DeliveryResult | BaseException]:
        """One round (for tests and tools; ``run`` pipelines): lease up to ``limit`` (default: the batch
        size) due jobs, deliver them concurrently and wait for all of them. The memory budget is not applied
        (``max_in_flight_bytes`` bounds ``run`` only): a round holds at most ``limit`` documents.

        Deliveries that raised StoreError have their leases handed back (``worker.store_faults``); leases
        the store could not take back are retried first on the next call.

        Returns:
            One result per lease: the DeliveryResult, or the exception a delivery raised (logged).

        Raises:
            StoreError: leases of earlier failed deliveries cannot be handed back yet, or leasing failed.
        """
        size = min(self._batch_size, limit) if limit is not None else self._batch_size
        leases, prepared = await self._take(size)
        if not leases:
            return []
        results = await asyncio.gather(
            *(self._deliverer.deliver_one(lease, prepared.get(lease.document_id)) for lease in leases),
            return_exceptions=True,
        )
        self._interrupted.settle(leases, list(results))
        if self._interrupted.pending:
            await self._interrupted.hand_back()
        return list(results)

    def store_retry_delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive store failures: the poll interval, doubled per
        further failure, capped at MAX_STORE_RETRY_DELAY (or the poll interval if that is longer)."""
        return store_retry_delay(self._poll_interval, failures)

    async def run(
        self, *, stop: asyncio.Event | None = None, once: bool = False, max_jobs: int | None = None
    ) -> WorkerStats:
        """Deliver until ``stop`` is set, or - with ``once`` - until no job is due and none is in flight, or
        ``max_jobs`` are done.

        A stop request ends the leasing and lets the deliveries in flight finish (each send is bounded by
        the transport timeouts), so SIGTERM never interrupts a send; a second signal may cancel the task:
        the deliveries in flight are cancelled, their leases expire and the jobs are picked up again. A
        StoreError while leasing is logged and retried after ``store_retry_delay`` (a stop request ends
        that wait at once); with ``once`` it propagates once the deliveries in flight have ended. The run
        ends once the wake-up signal is closed (``JobSignal.aclose``: on PostgreSQL a listening worker has
        handed the role on).
        """
        stop = stop or asyncio.Event()
        stats = WorkerStats()
        keeper = LeaseKeeper(
            store=self._store, clock=self._clock, lease_for=self._lease_for, every=self._renew_every
        )
        beating = asyncio.create_task(keeper.run(), name="lease-heartbeat")
        flying: dict[asyncio.Task[DeliveryResult], DeliveryLease] = {}
        pacing = self._pacing
        pacing.start()
        store_failures = 0
        waited_out = True
        # A lease was held back for the memory budget since the last delivery ended: the next due document
        # does not fit, so the worker leases nothing until a delivery ends (a poll would only hand it back
        # again; ``_full_by_bytes``).
        held_back = False
        # Set when the deliveries' waits for their endpoints change (``Deliverer.watch_endpoints``): a full
        # worker then tells its signal again (busy or not: ``LeasePacing.tell_signal``).
        endpoints_changed = asyncio.Event()
        self._deliverer.watch_endpoints(endpoints_changed.set)
        try:
            while True:
                budget = None if max_jobs is None else max_jobs - stats.processed - len(flying)
                # Sends waiting long for their answer hold no slot (``gateway.services.awaited_sends``).
                aside, next_aside = self._set_aside()
                room = self._max_in_flight - (len(flying) - aside)
                if budget is not None:
                    room = min(room, budget)
                if self._full_by_bytes(flying, held_back):
                    room = 0  # the memory budget is taken: wait for a delivery to end
                worth_it = pacing.worth_leasing(
                    room=room, budget=budget, in_flight=len(flying), once=once, waited_out=waited_out
                )
                leased = 0
                if room > 0 and worth_it and not stop.is_set():
                    pacing.looking()
                    admission = self._admission(flying)
                    try:
                        leases, prepared = await self._take(min(room, self._batch_size), admission)
                    except StoreError as exc:
                        if once:
                            # A single pass reports the failure to its caller - once its deliveries in
                            # flight have ended: like a stop request, it does not cut a send off.
                            if flying:
                                await asyncio.wait(flying)
                                self._collect(flying, keeper, stats)
                            raise
                        # Transient (SQLite "database is locked", PostgreSQL restart, pool timeout): the
                        # worker outlives it. One line per failure, no traceback: an outage would flood
                        # the log. Deliveries in flight go on meanwhile.
                        store_failures += 1
                        delay = self.store_retry_delay(store_failures)
                        log.error("leasing delivery jobs failed (%s); retrying in %.3g s", exc, delay)
                        waited_out = await wait_for_work(stop, flying, delay, signal=None)
                        if self._collect(flying, keeper, stats):
                            held_back = False
                        continue
                    store_failures = 0
                    for lease in leases:
                        keeper.hold(lease)
                        delivery = self._deliverer.deliver_one(lease, prepared.get(lease.document_id))
                        flying[asyncio.create_task(delivery)] = lease
                    leased = len(leases)
                    if admission is not None and admission.held_back:
                        # Due again now, without a commit or a notification: an ended delivery leases.
                        held_back = True
                        pacing.handed_back()
                    got = leased + (admission.held_back if admission is not None else 0)
                    pacing.leased(got, min(room, self._batch_size))
                    if leased and len(flying) - aside >= self._max_in_flight:
                        # The slots are full: let the new deliveries run their first step (up to their
                        # endpoint's slot, or counted as not there yet) before telling the signal.
                        await asyncio.sleep(0)
                endpoints_changed.clear()
                taken = len(flying) - aside  # the slots taken
                full_by_bytes = self._full_by_bytes(flying, held_back)
                pacing.tell_signal(
                    stopping=stop.is_set(),
                    in_flight=taken,
                    waiting=self._deliverer.waiting_for_endpoints(),
                    before_endpoint=self._deliverer.before_endpoints(),
                    full_by_bytes=full_by_bytes,
                )
                if not flying:
                    if stop.is_set() or (budget is not None and budget <= 0) or (once and not leased):
                        break
                    if not leased:
                        timeout = self._owed_look(pacing.until_look())
                        waited_out = await wait_for_work(stop, flying, timeout, pacing.signal)
                    continue
                if leased and taken < self._max_in_flight and leased == min(room, self._batch_size):
                    await asyncio.sleep(0)  # more may be due: let these start, then lease again
                    waited_out = True
                else:
                    # Full, or nothing more due: wait for a delivery to end, a job to become due (if a slot
                    # is free) or the poll interval to look.
                    free = (
                        taken < self._max_in_flight
                        and (budget is None or budget > len(flying))
                        and not full_by_bytes
                    )
                    timeout = self._owed_look(pacing.wait_timeout(looks=free and not stop.is_set()))
                    # Full: a slot also frees when the next send has waited long (``_set_aside``) - but no
                    # bytes: a send set aside still holds its document.
                    aside_due = (
                        not free and not full_by_bytes and next_aside is not None and next_aside < timeout
                    )
                    if aside_due and next_aside is not None:
                        timeout = next_aside
                    # A tell put off for deliveries not yet at their endpoint is made when they get there
                    # (``endpoints_changed``) or when its grace runs out - a wake-up, not a poll.
                    put_off = pacing.put_off_for()
                    graced = put_off is not None and put_off < timeout
                    waited_out = await wait_for_work(
                        stop,
                        flying,
                        put_off if graced and put_off is not None else timeout,
                        pacing.signal if free else None,
                        # Without a signal there is nothing to tell: no turn of the loop for a change.
                        None if free or pacing.signal is None else endpoints_changed,
                    )
                    waited_out = waited_out and not graced
                    if not (aside_due and waited_out):  # a slot set aside is no poll to hand on
                        pacing.waited_while_busy(waited_out, free)
                if self._collect(flying, keeper, stats):
                    held_back = False
        finally:
            self._deliverer.watch_endpoints(None)
            beating.cancel()
            for task in flying:
                task.cancel()  # only on cancellation or a raised StoreError: their leases expire
            # The signal's tasks end before the run does (``LeasePacing.aclose``, bounded): the event loop of
            # ``gateway worker`` ends with it and would cancel them again, cutting a listener's hand-over of
            # the role to the standbys and interrupting psycopg's cancellation of a statement (a warning).
            ended = await asyncio.gather(beating, *flying, pacing.aclose(), return_exceptions=True)
            if isinstance(ended[-1], Exception):  # not swallowed with the cancelled deliveries' errors
                log.warning("closing the job wake-up signal failed: %r", ended[-1])
        return stats

    def _set_aside(self) -> tuple[int, float | None]:
        """The deliveries in flight that hold no slot (sends that waited longer than ``slow_send`` for their
        answer, at most ``max_in_flight`` of them: the worker's deliveries stay bounded, at twice its slots),
        and the seconds until another one does (None: no other, or no more may be set aside)."""
        if self._slow_send is None:
            return 0, None
        longer, next_in = self._deliverer.long_sends(self._slow_send)
        if longer >= self._max_in_flight:
            return self._max_in_flight, None
        return longer, next_in

    def _admission(self, flying: dict[asyncio.Task[DeliveryResult], DeliveryLease]) -> Admission | None:
        """The memory budget's admission of the next lease's jobs (None: no budget)."""
        if self._max_bytes is None:
            return None
        return Admission(self._max_bytes, bytes_in_flight(flying.values()), len(flying))

    def _full_by_bytes(
        self, flying: dict[asyncio.Task[DeliveryResult], DeliveryLease], held_back: bool
    ) -> bool:
        """Whether the memory budget leaves no room for a lease: the documents in flight (set-aside sends
        included) take it, or a lease was held back since the last delivery ended (``held_back``)."""
        if self._max_bytes is None:
            return False
        return held_back or bytes_in_flight(flying.values()) >= self._max_bytes

    def _owed_look(self, timeout: float) -> float:
        """``timeout``, at most the poll interval while leases of interrupted deliveries wait to be handed
        back (by the next look, ``_take``): a PostgreSQL standby, which does not poll, would otherwise keep
        them until they expire (``lease_for``) instead of handing them back once the store answers."""
        return min(timeout, self._poll_interval) if self._interrupted.pending else timeout

    def _collect(
        self,
        flying: dict[asyncio.Task[DeliveryResult], DeliveryLease],
        keeper: LeaseKeeper,
        stats: WorkerStats,
    ) -> int:
        """Take the ended deliveries out of the pipeline (their documents' bytes with them): stats, logs,
        leases to hand back. Returns how many ended."""
        done = [task for task in flying if task.done()]
        if not done:
            return 0
        leases = [keeper.drop(flying.pop(task)) for task in done]
        results: list[DeliveryResult | BaseException] = [
            task.exception() or task.result() if not task.cancelled() else asyncio.CancelledError()
            for task in done
        ]
        self._interrupted.settle(leases, results)
        for result in results:
            stats.count(result)
            if isinstance(result, DeliveryResult) and result.deferred:
                self._pacing.handed_back()
        return len(done)

    @property
    def max_in_flight(self) -> int:
        """The pipeline's slots."""
        return self._max_in_flight

    @property
    def batch_size(self) -> int:
        """Most jobs leased by one query."""
        return self._batch_size

    @property
    def poll_interval(self) -> float:
        """Seconds to wait when no job is due."""
        return self._poll_interval


def build_delivery_worker(services: Services) -> DeliveryWorker:
    """The delivery loop over the process's ``Deliverer`` (``services.deliverer``, wired in bootstrap).

    Raises:
        ConfigurationError: no AP key, no trust store or no participant directory is configured.
    """
    worker = services.settings.worker
    return DeliveryWorker(
        services.deliverer,
        store=services.store,
        clock=services.clock,
        ids=services.ids,
        lease_for=services.lease_for,
        batch_size=worker.batch_size,
        poll_interval=worker.poll_interval_seconds,
        max_in_flight=worker.max_in_flight,
        renew_every=worker.lease_renew_seconds,
        slow_send=worker.slow_send_seconds,
        max_in_flight_bytes=worker.max_in_flight_mib * MIB,
        signal=(
            job_signal(services.store.engine, now=services.clock.now)
            if isinstance(services.store, SQLDocumentStore)
            else None
        ),
    )


def build_received_worker(services: Services) -> ReceivedDocumentsWorker | None:
    """The finishing of received documents in this worker (``worker.received``), or None: the work after a
    receipt runs in ``gateway serve`` (``GATEWAY_AS4__AFTER_RECEIPT=serve``) or nothing is received here (no
    AP key or trust store)."""
    receiver = services.receiver
    if services.settings.as4.after_receipt != "worker" or receiver is None:
        return None
    store = services.store
    return ReceivedDocumentsWorker(
        receiver,
        signal=(
            received_signal(store.engine, claims=CLAIM_FOR, now=services.clock.now)
            if isinstance(store, SQLDocumentStore)
            else None
        ),
        poll_interval=services.settings.worker.poll_interval_seconds,
        warm_up=services.validation.warm_up,
    )


async def recover_held_answers(services: Services) -> int:
    """Start-up pass: apply received MLS / Invoice Responses still held although the receipt of the
    document they answer is recorded by now (``ReceivedAnswers.recover``). A store failure is logged and
    skipped (the next start-up tries again); deliveries are not held up by it.

    Returns:
        The number of answers applied.
    """
    try:
        applied = await anyio.to_thread.run_sync(services.received_answers.recover)
    except StoreError as exc:
        log.error("recovery of held answers skipped: %s", exc)
        return 0
    if applied:
        log.warning("applied %d received answers left held by an earlier stop", applied)
    return applied
