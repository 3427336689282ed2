"""What the delivery worker does when the store fails: the leases of deliveries a store failure
interrupted are handed back as soon as the store answers again (due after a short bounded delay), so the
job resumes within seconds of the database coming back instead of after the lease; waits between attempts
grow with consecutive failures (``store_retry_delay``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import anyio.to_thread

from gateway.errors import LeaseLost, StoreError
from gateway.services.deliver import DeliveryResult
from gateway.services.ports import Clock, DeliveryLease, DocumentStore

log = logging.getLogger("gateway.worker")

#: Longest wait between two attempts to lease while the store keeps failing (bounded backoff).
MAX_STORE_RETRY_DELAY = 5.0
#: Reason recorded on a job handed back after a store failure during its delivery.
STORE_RELEASE_REASON = "store-unavailable: the attempt was interrupted by a database error"


def store_retry_delay(poll_interval: float, failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive store failures: the poll interval, doubled per
    further failure, capped at MAX_STORE_RETRY_DELAY (or the poll interval if that is longer)."""
    cap = max(poll_interval, MAX_STORE_RETRY_DELAY)
    return float(min(cap, poll_interval * 2 ** min(failures - 1, 16)))


class InterruptedLeases:
    """The leases of deliveries that failed on the store, until they are handed back.

    Args:
        store: the document store (each hand-back in its own short unit of work).
        clock: the time a handed-back job becomes due is counted from.
        retry_delay: seconds to wait after a number of consecutive store failures.
    """

    def __init__(self, *, store: DocumentStore, clock: Clock, retry_delay: Callable[[int], float]) -> None:
        self._store = store
        self._clock = clock
        self._retry_delay = retry_delay
        # Leases of deliveries that failed on the store, still to be handed back (the store was down).
        self._unreleased: list[DeliveryLease] = []
        self._store_faulted_batches = 0

    @property
    def pending(self) -> int:
        """How many leases are still to be handed back."""
        return len(self._unreleased)

    def settle(self, leases: list[DeliveryLease], results: list[DeliveryResult | BaseException]) -> None:
        """Log what raised and queue the leases of store-interrupted deliveries for handing back."""
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
        self._unreleased.extend(interrupted)

    async def hand_back(self) -> None:
        """Hand the queued leases back (``_release``, off the event loop); those the store could not take
        back stay queued."""
        self._unreleased = await anyio.to_thread.run_sync(self._release, self._unreleased)

    def _release(self, leases: list[DeliveryLease]) -> list[DeliveryLease]:
        """Hand the leases of interrupted deliveries back, due after a short bounded delay.

        The next attempt resends the stored message if one was sent (the receiver deduplicates it by
        MessageId), so handing a job back early never delivers a document twice. Each hand-back counts as an
        attempt without an outcome (CRASH_ALLOWANCE bounds a store fault that never heals); the delay grows
        with consecutive faulted deliveries (``store_retry_delay``) so a flapping database cannot burn them
        within seconds.

        Returns:
            The leases the store could not take back (it is still down); retried before the next lease.
        """
        now = self._clock.now()
        due_at = now + timedelta(seconds=self._retry_delay(max(self._store_faulted_batches, 1)))
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
