"""Lease renewal while deliveries are in flight: a heartbeat that extends every held lease periodically.

A delivery lease is short (``GATEWAY_WORKER__LEASE_SECONDS``, 50 s by default) so that the documents of a
worker that died are taken over within a minute; a live worker keeps its leases however long a send takes
(a receiver may answer after two minutes) because this heartbeat renews them every
``GATEWAY_WORKER__LEASE_RENEW_SECONDS``. All renewals of one beat share one short unit of work; a lease
that another worker took over meanwhile (LeaseLost) is simply dropped - the delivery's own next step gets
LeaseLost too and abandons the attempt. A beat that fails on the store is logged and tried again at the
next beat; the lease margin (``gateway.config.LEASE_MARGIN_SECONDS``) covers one missed beat plus a
database lock wait.

A beat runs in a thread of its own limiter, not anyio's default one (40 threads) that the delivery steps
share: with that many steps in threads (each may wait 30 s for SQLite's write lock) a beat queued for a
thread behind them would let the leases of the sends in flight run out. The limiter covers the thread only;
in it the beat still waits, as any unit of work does, for:

- the write lock: on SQLite the process's ``SQLiteWriteLock`` (then its flock, shared with ``serve``), in
  turn with the delivery steps' and the lease's writes - one short transaction each, or up to the busy
  timeout when a writer outside the lock holds SQLite's; on PostgreSQL the row locks of the jobs it renews
  (``lock_timeout``). That is the "database lock wait" of the margin.
- a pooled connection. On PostgreSQL the worker's pool is ``worker.max_in_flight`` + 2 (a connection for
  every step in flight, the lease and the beat) plus 5 overflow. On SQLite it is 5 + 10, fewer than the
  default 20 deliveries in flight, but a writer takes the write lock before a connection
  (``SQLUnitOfWork``), so the steps queued for the lock hold none: the connections are held by reading
  units of work (no lock wait in them) and the one writer, each for one transaction, and the beat (holding
  the lock by then) waits for one of them to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import timedelta

import anyio
import anyio.to_thread

from gateway.errors import LeaseLost, StoreError
from gateway.services.ports import Clock, DeliveryLease, DocumentStore

log = logging.getLogger("gateway.worker")


class LeaseKeeper:
    """The leases a worker holds, renewed every ``every`` seconds while ``run`` is running.

    Args:
        store: the document store.
        clock: the time.
        lease_for: the length of a renewed lease.
        every: seconds between two beats.
    """

    def __init__(self, *, store: DocumentStore, clock: Clock, lease_for: timedelta, every: float) -> None:
        if every <= 0:
            raise ValueError("the renewal interval must be positive")
        self._store = store
        self._clock = clock
        self._lease_for = lease_for
        self._every = every
        self._held: dict[str, DeliveryLease] = {}
        self.beats = 0
        # One thread: beats never overlap (``run`` awaits each), and none waits for the delivery steps'.
        self._limiter = anyio.CapacityLimiter(1)

    def hold(self, lease: DeliveryLease) -> None:
        """Keep ``lease`` renewed until ``drop``."""
        self._held[lease.document_id] = lease

    def drop(self, lease: DeliveryLease) -> DeliveryLease:
        """Stop renewing ``lease``; returns it with the expiry of its latest renewal.

        Only ``lease`` itself (its token): a delivery whose lease ran out (renewals failed) may end after the
        worker leased its job again, and the new lease must stay renewed during its own send."""
        held = self._held.get(lease.document_id)
        if held is None or held.token != lease.token:
            return lease
        return self._held.pop(lease.document_id)

    @property
    def held(self) -> int:
        """Leases held now."""
        return len(self._held)

    async def run(self) -> None:
        """Beat every ``every`` seconds until cancelled, on a fixed schedule: a beat that took longer than
        ``every`` (a lock wait) is followed by the next one at once, not ``every`` seconds after it ended.

        A beat that fails on SQLite does so after the busy timeout (30 s): with a pause of ``every`` after
        it, the next beat came one lock wait plus two intervals after the last renewal - 50 s, the whole
        lease - so one lost beat let the lease of a send in flight run out. On the schedule the retry comes
        one lock wait plus one interval after it, within the margin (``LEASE_MARGIN_SECONDS``)."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += self._every
            await asyncio.sleep(max(0.0, due - loop.time()))
            due = max(due, loop.time())  # a late beat moves the schedule; no burst of beats to catch up
            if not self._held:
                continue
            try:
                renewed = await anyio.to_thread.run_sync(
                    self._renew, list(self._held.values()), limiter=self._limiter
                )
            except StoreError as exc:
                log.error("renewing %d delivery lease(s) failed: %s", len(self._held), exc)
                continue
            self.beats += 1
            for lease in renewed:
                # Only a lease still held: one dropped while the beat was out (its delivery ended) must not
                # be taken up again - renewed for good, the job of a delivery that raised would never
                # expire, and every beat would write for it as long as the worker runs.
                held = self._held.get(lease.document_id)
                if held is not None and held.token == lease.token:
                    self._held[lease.document_id] = lease

    def _renew(self, leases: list[DeliveryLease]) -> list[DeliveryLease]:
        """Renew every lease still held by its token, in one unit of work; returns the renewed ones. The
        renewed leases run from when the unit of work got the write lock (on SQLite it may first wait the
        busy timeout for it), not from before that wait."""
        renewed: list[DeliveryLease] = []
        with self._store.unit_of_work() as uow:
            now = self._clock.now()
            for lease in sorted(leases, key=lambda held: held.document_id):  # one lock order for every beat
                with contextlib.suppress(LeaseLost):  # completed, handed back or taken over meanwhile
                    until = uow.jobs.renew(lease.document_id, lease.token, now=now, lease_for=self._lease_for)
                    renewed.append(replace(lease, leased_until=until))
            uow.commit()
        return renewed
