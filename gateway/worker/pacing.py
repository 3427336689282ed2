"""Lease pacing of the delivery worker: when the pipeline looks for due jobs, how long it waits between
two looks, and what wakes it up (an ended delivery, the wake-up signal, the poll interval, a stop).

Every look is a lease query: a thread hop and a write transaction (on SQLite the database's write lock,
which the API's writes wait for). So a freed slot alone is no reason to look when a wake-up signal says
when a job is due; without a signal the worker looks once a few slots are free. Whatever happens, with a
free slot it looks again at least every poll interval: a retry, an expired lease or an old hand-back
becomes due without a commit or a notification, and only a look finds it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gateway.services.deliver import DeliveryResult
from gateway.services.ports import DeliveryLease
from gateway.store.job_signal import JobSignal

#: Seconds after this worker handed a job back (endpoint busy, circuit open) during which every ended
#: delivery is followed by a lease even with a wake-up signal: a handed-back job becomes due without a
#: commit or ``NOTIFY``, at about the time a slot of its endpoint frees.
HANDED_BACK_WINDOW = 30.0

#: Longest time, in seconds after a lease, that a worker whose slots it filled waits for the new deliveries
#: to reach their endpoint's slot before it tells the signal it is busy (``tell_signal``): a cold receiver
#: lookup (an SMP answering slowly) must not keep a full listener's wake-ups from the other workers.
BEFORE_ENDPOINT_GRACE = 0.5


class LeasePacing:
    """When the worker's pipeline looks for due jobs (one per worker; ``start`` begins a run).

    Args:
        poll_interval: seconds to wait when no job is due.
        signal: the wake-up signal (``store.job_signal``), or None: polling only.
        batch_size / max_in_flight: the worker's lease size and slots.
    """

    def __init__(
        self, *, poll_interval: float, signal: JobSignal | None, batch_size: int, max_in_flight: int
    ) -> None:
        self._poll_interval = poll_interval
        self._signal = signal
        self._max_in_flight = max_in_flight
        # Without a wake-up signal, lease again once this many slots are free (or a wait ran out): one lease
        # query per few ended deliveries rather than one per delivery. With a signal a freed slot alone is
        # no reason to lease (``_lease_after_ends``): the signal says when a job is due, and a job that came
        # while the slots were full ends the next wait at once.
        self._low_water = max(1, min(batch_size, max_in_flight) // 2)
        # When this worker last looked for due jobs (monotonic): with a free slot it looks again at least
        # every poll interval, however often deliveries end meanwhile.
        self._looked_at = time.monotonic()
        # Whether the last lease got all it asked for (due jobs may be left behind).
        self._more_due = True
        # Until when (monotonic) an ended delivery is a reason to lease even with a signal (a job was
        # handed back: ``HANDED_BACK_WINDOW``).
        self._lease_after_ends_until = 0.0
        # Until when (monotonic) a full worker's deliveries not yet at their endpoint keep it from saying
        # busy (``BEFORE_ENDPOINT_GRACE`` after a lease), and whether its last tell was put off for them.
        self._before_endpoint_until = 0.0
        self._put_off = False

    def start(self) -> None:
        """Begin a run: it looks at once."""
        self._looked_at = time.monotonic()
        self._more_due = True

    def worth_leasing(
        self, *, room: int, budget: int | None, in_flight: int, once: bool, waited_out: bool
    ) -> bool:
        """Whether to look for due jobs now, with ``room`` free slots (within the ``budget`` of jobs still
        to start, if any) and ``in_flight`` deliveries; ``waited_out``: the last wait ran out or the signal
        said a job is due."""
        ended = self._more_due or self._lease_after_ends()  # ended deliveries are a reason to lease
        return (
            waited_out
            or time.monotonic() - self._looked_at >= self.poll()
            or room == budget
            or (not in_flight and (once or ended))
            or (room >= self._low_water and ended)
        )

    def looking(self) -> None:
        """A look for due jobs starts now."""
        self._looked_at = time.monotonic()

    def leased(self, got: int, asked: int) -> None:
        """A lease that asked for ``asked`` jobs got ``got``. One that got all it asked for may have left
        due jobs behind: their wake-up may be spent already (PostgreSQL folds notifications), so a freed
        slot leases again."""
        self._more_due = got == asked
        if got and not self._put_off:
            # The grace runs from the lease that filled the slots: leases that refill them while the tell is
            # put off do not renew it (a full worker refilled faster than the grace would never say busy).
            self._before_endpoint_until = time.monotonic() + BEFORE_ENDPOINT_GRACE

    def handed_back(self) -> None:
        """A delivery ended with its job handed back (deferred): for ``HANDED_BACK_WINDOW`` every ended
        delivery is a reason to lease."""
        self._lease_after_ends_until = time.monotonic() + HANDED_BACK_WINDOW

    def tell_signal(
        self,
        *,
        stopping: bool,
        in_flight: int,
        waiting: int = 0,
        before_endpoint: int = 0,
        full_by_bytes: bool = False,
    ) -> None:
        """Tell the wake-up signal whether this worker can take a job: its slots full (``busy``), so that on
        PostgreSQL the wake-ups go to the other workers, or leasing no more (closed).

        ``waiting``: deliveries in flight that wait for a slot of a busy endpoint (``EndpointSlots``). Full
        with some of them, the worker is not busy for the signal: what holds its slots is an endpoint at
        its per-endpoint limit, not the worker, and a slot frees when a send to that endpoint ends (such
        waits are only taken for an expected wait of at most ``DEFAULT_MAX_SLOT_WAIT``; the listener
        stays woken and leases then). Handed on, the next jobs - in due order, most likely for the same
        endpoint - went to another worker, which sent ``per_endpoint`` more to it (issue 12, *End to end,
        tenth pass*: two workers 8 sends to the bench's one receiver, on the same two cores).

        ``before_endpoint``: deliveries in flight that have not reached their endpoint's slot yet. Full, none
        waiting but some of these, within ``BEFORE_ENDPOINT_GRACE`` of the last lease, the worker tells
        nothing (the signal keeps what it was told before): a lease that filled the slots is not said busy
        before its deliveries could start waiting for their endpoint (*Workers, busy signal*: the wake-ups
        meanwhile went to a standby, which sent to the same endpoint). The worker tells again when they got
        there (``Deliverer.watch_endpoints``) or the grace ends (``put_off_for``).

        ``full_by_bytes``: the worker's memory budget leaves no room for the next due document
        (``worker.budget``); it is busy whatever its slots, until a delivery ends: another worker, with
        its own budget, takes the wake-ups meanwhile."""
        self._put_off = False
        if self._signal is None:
            return
        if stopping:
            # Leasing no more: another worker listens in its place. Synchronous: the signal's tasks end in
            # the background (the deliveries in flight finish meanwhile); ``aclose`` awaits them at the end.
            self._signal.close()
            return
        if full_by_bytes:
            self._signal.busy(True)
            return
        full = in_flight >= self._max_in_flight
        if full and not waiting and before_endpoint and time.monotonic() < self._before_endpoint_until:
            self._put_off = True
            return
        self._signal.busy(full and not waiting)

    def put_off_for(self) -> float | None:
        """Seconds until the grace of a tell put off for deliveries not yet at their endpoint runs out (the
        worker then tells after all); None when the last tell was not put off."""
        if not self._put_off:
            return None
        return max(0.0, self._before_endpoint_until - time.monotonic())

    @property
    def signal(self) -> JobSignal | None:
        """The wake-up signal to wait for while a slot is free (None: polling only)."""
        return self._signal

    def wait_timeout(self, *, looks: bool) -> float:
        """Seconds to wait: until the next look is due while one can be taken (``looks``); stopping (no
        more leases) or full, the poll interval as before (an overdue look would make every wait zero
        seconds)."""
        return self.until_look() if looks else self.poll()

    def waited_while_busy(self, waited_out: bool, free: bool) -> None:
        """After a wait with the slots full: a wait that ran out hands the poll on (jobs due later send no
        ``NOTIFY``)."""
        if waited_out and not free and self._signal is not None:
            self._signal.polled_while_busy()

    async def aclose(self) -> None:
        """The run ends: the signal is closed, and its tasks ended within their bound
        (``JobSignal.aclose``: another worker listens in this one's place, told so by this one before the
        run - and the event loop of ``gateway worker`` - ends)."""
        if self._signal is not None:
            await self._signal.aclose()

    def _lease_after_ends(self) -> bool:
        """Whether deliveries that ended are a reason to lease now: without a signal (polling only), or
        within ``HANDED_BACK_WINDOW`` of this worker handing a job back (due again without a wake-up).

        With a signal, leasing after every ended delivery found nothing about once per document (issue 12,
        *End to end, eighth pass*: 1.08 empty leases per job), each a thread hop and a write transaction -
        on SQLite the database's write lock, which the API's writes wait for."""
        return self._signal is None or time.monotonic() < self._lease_after_ends_until

    def until_look(self) -> float:
        """Seconds until the next look is due."""
        return max(0.0, self._looked_at + self.poll() - time.monotonic())

    def poll(self) -> float:
        """Seconds until the next look when no job is due: the poll interval; none for a PostgreSQL standby
        (``JobSignal.poll_interval``: the listening worker polls and hands on what it cannot take)."""
        if self._signal is None:
            return self._poll_interval
        return self._signal.poll_interval(self._poll_interval)


async def wait_for_work(
    stop: asyncio.Event,
    flying: dict[asyncio.Task[DeliveryResult], DeliveryLease],
    timeout: float,
    signal: JobSignal | None,
    changed: asyncio.Event | None = None,
) -> bool:
    """Wait until a delivery ends, ``stop`` is set, ``signal`` says a job is due, ``changed`` is set (the
    deliveries' waits for their endpoints changed: tell the signal again) or ``timeout`` seconds passed;
    True on the timeout or the signal (time to lease). Once stopping, only the deliveries are waited for."""
    stopping = None if stop.is_set() else asyncio.ensure_future(stop.wait())
    due = asyncio.ensure_future(signal.wait()) if signal is not None and stopping is not None else None
    told = asyncio.ensure_future(changed.wait()) if changed is not None and stopping is not None else None
    extra = [future for future in (stopping, due, told) if future is not None]
    waited: list[asyncio.Future[Any]] = [*flying, *extra]
    if not waited:
        return True
    try:
        done, _ = await asyncio.wait(waited, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in extra:
            future.cancel()
    return not done or (due is not None and due in done)
