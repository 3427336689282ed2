"""The delivery worker: lease a batch of due jobs, deliver them concurrently, repeat until told to stop.

Several worker processes may share one PostgreSQL database (``FOR UPDATE SKIP LOCKED`` leases hand each a
disjoint batch); on SQLite run one worker. A worker that dies mid-batch loses nothing: its leases expire
and the jobs become due again (see ``gateway.services.deliver`` for why a resend is safe). A delivery that
fails on the store (connection lost, database restarting) hands its lease back as soon as the store
answers again, so the job resumes within seconds of the database coming back instead of after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import anyio.to_thread

from gateway.bootstrap import Services
from gateway.errors import LeaseLost, StoreError
from gateway.services.deliver import Deliverer, DeliveryResult
from gateway.services.ports import Clock, DeliveryLease, DocumentStore, IDFactory

log = logging.getLogger("gateway.worker")

#: Longest wait between two attempts to lease while the store keeps failing (bounded backoff).
MAX_STORE_RETRY_DELAY = 5.0
#: Reason recorded on a job handed back after a store failure during its delivery.
STORE_RELEASE_REASON = "store-unavailable: the attempt was interrupted by a database error"


@dataclass
class WorkerStats:
    """What a worker run did (printed by ``gateway worker`` on exit).

    Attributes:
        processed: leases handled.
        by_status: resulting document status -> count (``unchanged`` when the lease was lost/stale).
        errors: deliveries that raised: store failures (their leases are handed back) and bugs (their
            leases expire); either way they are retried.
    """

    processed: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    def as_json(self) -> dict[str, object]:
        """JSON form."""
        return {"processed": self.processed, "by_status": dict(self.by_status), "errors": self.errors}


class DeliveryWorker:
    """Drives ``Deliverer.deliver_one`` over leased jobs.

    Args:
        deliverer: the delivery recipe.
        store: the document store (leases are taken in their own short unit of work).
        clock / ids: time and lease tokens.
        lease_for: lease duration; longer than one attempt (``deliver_one`` renews it at each step).
        batch_size: jobs leased (and delivered concurrently) per round.
        poll_interval: seconds to wait when no job is due.
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
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._deliverer = deliverer
        self._store = store
        self._clock = clock
        self._ids = ids
        self._lease_for = lease_for
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        # Leases of deliveries that failed on the store, still to be handed back (the store was down).
        self._unreleased: list[DeliveryLease] = []
        self._store_faulted_batches = 0

    def _lease(self, limit: int) -> list[DeliveryLease]:
        with self._store.unit_of_work() as uow:
            leases = uow.jobs.lease(
                now=self._clock.now(), limit=limit, lease_for=self._lease_for, token=self._ids.new_id()
            )
            uow.commit()
        return leases

    async def run_batch(self, limit: int | None = None) -> list[DeliveryResult | BaseException]:
        """Lease up to ``limit`` (default: the batch size) due jobs and deliver them concurrently.

        Deliveries that raised StoreError have their leases handed back (``_release``); leases the store
        could not take back are retried first on the next call.

        Returns:
            One result per lease: the DeliveryResult, or the exception a delivery raised (logged).

        Raises:
            StoreError: leases of earlier failed deliveries cannot be handed back yet, or leasing failed.
        """
        size = min(self._batch_size, limit) if limit is not None else self._batch_size
        if self._unreleased:
            self._unreleased = await anyio.to_thread.run_sync(self._release, self._unreleased)
            if self._unreleased:
                raise StoreError(
                    f"{len(self._unreleased)} lease(s) of interrupted deliveries not handed back"
                )
        leases = await anyio.to_thread.run_sync(self._lease, size)
        if not leases:
            return []
        results = await asyncio.gather(
            *(self._deliverer.deliver_one(lease) for lease in leases), return_exceptions=True
        )
        interrupted: list[DeliveryLease] = []
        for lease, result in zip(leases, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, StoreError):
                # The database failed mid-attempt: one line, no trace (an outage would flood the log).
                log.error("delivery of %s interrupted by the store: %s", lease.document_id, result)
                interrupted.append(lease)
            elif isinstance(result, BaseException):
                # A bug: the lease expires and the job is retried; CRASH_ALLOWANCE bounds a job that
                # always fails.
                log.error("delivery of %s raised", lease.document_id, exc_info=result)
        self._store_faulted_batches = self._store_faulted_batches + 1 if interrupted else 0
        if interrupted:
            self._unreleased = await anyio.to_thread.run_sync(self._release, interrupted)
        return list(results)

    def _release(self, leases: list[DeliveryLease]) -> list[DeliveryLease]:
        """Hand the leases of interrupted deliveries back, due after a short bounded delay.

        The next attempt resends the stored message if one was sent (the receiver deduplicates it by
        MessageId), so handing a job back early never delivers a document twice. Each hand-back counts as an
        attempt without an outcome (CRASH_ALLOWANCE bounds a store fault that never heals); the delay grows
        with consecutive faulted batches (``store_retry_delay``) so a flapping database cannot burn them
        within seconds.

        Returns:
            The leases the store could not take back (it is still down); retried before the next lease.
        """
        now = self._clock.now()
        due_at = now + timedelta(seconds=self.store_retry_delay(max(self._store_faulted_batches, 1)))
        pending: list[DeliveryLease] = []
        for lease in leases:
            if lease.leased_until <= now:
                continue  # expired: due again anyway
            if pending:
                pending.append(lease)  # the store is down: keep the rest for the next round
                continue
            try:
                with self._store.unit_of_work() as uow:
                    uow.jobs.reschedule(
                        lease.document_id, lease.token, due_at=due_at, error=STORE_RELEASE_REASON
                    )
                    uow.commit()
            except LeaseLost:
                continue  # another worker holds the job now
            except StoreError as exc:
                log.error("handing back the lease of %s failed: %s", lease.document_id, exc)
                pending.append(lease)
        return pending

    def store_retry_delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive store failures: the poll interval, doubled per
        further failure, capped at MAX_STORE_RETRY_DELAY (or the poll interval if that is longer)."""
        cap = max(self._poll_interval, MAX_STORE_RETRY_DELAY)
        return float(min(cap, self._poll_interval * 2 ** min(failures - 1, 16)))

    async def run(
        self, *, stop: asyncio.Event | None = None, once: bool = False, max_jobs: int | None = None
    ) -> WorkerStats:
        """Deliver until ``stop`` is set, or - with ``once`` - until no job is due, or ``max_jobs`` are done.

        A stop request lets the current batch finish (each send is bounded by the transport timeouts), so
        SIGTERM never interrupts a send; a second signal may cancel the task: leases then expire and the
        jobs are picked up again. A StoreError while leasing is logged and retried after
        ``store_retry_delay`` (a stop request ends that wait at once); with ``once`` it propagates.
        """
        stop = stop or asyncio.Event()
        stats = WorkerStats()
        store_failures = 0
        while not stop.is_set():
            remaining = None if max_jobs is None else max_jobs - stats.processed
            if remaining is not None and remaining <= 0:
                break
            try:
                results = await self.run_batch(remaining)
            except StoreError as exc:
                if once:
                    raise  # a single pass reports the failure to its caller
                # Transient (SQLite "database is locked", PostgreSQL restart, pool timeout): the worker
                # outlives it. One line per failure, no traceback: an outage would flood the log.
                store_failures += 1
                delay = self.store_retry_delay(store_failures)
                log.error("leasing delivery jobs failed (%s); retrying in %.3g s", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                continue
            store_failures = 0
            for result in results:
                stats.processed += 1
                if isinstance(result, BaseException):
                    stats.errors += 1
                else:
                    stats.by_status[result.status.value if result.status else "unchanged"] += 1
            if results:
                continue
            if once:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._poll_interval)
        return stats


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
