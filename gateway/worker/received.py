"""The received documents' work after the receipt in ``gateway worker``
(``GATEWAY_AS4__AFTER_RECEIPT=worker``): ``POST /as4`` answers the receipt and queues nothing, each document
staying pending (committed with its receipt), and every worker process finishes them here, beside its
deliveries: validation, verdict, MLS and expense draft (``AS4Receiver.finish_next_pending``, the recovery
path of the pending sweep: one verdict, one MLS, one draft per document), oldest first, one document at a
time, off the event loop.

Each document is claimed before its validation starts (``InboundRepository.claim_pending``, a conditional
update committed on its own, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two workers never both spend the
validation on it. A worker that dies mid-validation leaves its document pending: another worker claims it
once its claim is older than ``CLAIM_FOR``, and the pending sweep of ``gateway serve``
(``GATEWAY_AS4__PENDING_SWEEP_*``) finishes it meanwhile as before, with or without workers; a verdict is
recorded once whoever validates.

Woken within milliseconds of a receipt by the worker's job signal (``store.job_signal.received_signal``:
SQLite's ``PRAGMA data_version``, PostgreSQL's ``NOTIFY`` on ``RECEIVED_CHANNEL``), and at least every
``GATEWAY_WORKER__POLL_INTERVAL_SECONDS`` (a claim that ran out sends no wake-up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio.to_thread

from gateway.errors import StoreError
from gateway.services.receive import AS4Receiver
from gateway.services.receive_recovery import CLAIM_FOR
from gateway.store.job_signal import JobSignal
from gateway.worker.pacing import wait_for_work
from gateway.worker.store_faults import store_retry_delay

log = logging.getLogger("gateway.worker.received")


class ReceivedDocumentsWorker:
    """Finishes the received documents left pending by ``POST /as4``, until told to stop.

    Args:
        receiver: the receive use case (``Services.receiver``).
        signal: wakes the loop when a document may be up for a claim (``received_signal``); None: it polls.
        poll_interval: seconds between two looks when nothing wakes it.
        warm_up: compiles the validation stylesheets, run off the event loop before the first claim (as
            ``gateway serve`` does at start-up): otherwise the first document received after a start waits
            for the compile (2.1 s in ``make demo``). A failure is logged; the loop goes on.
    """

    def __init__(
        self,
        receiver: AS4Receiver,
        *,
        signal: JobSignal | None,
        poll_interval: float,
        warm_up: Callable[[], object] = lambda: None,
    ) -> None:
        self._receiver = receiver
        self._signal = signal
        self._poll_interval = poll_interval
        self._warm_up = warm_up

    def _next(self) -> bool:
        return self._receiver.finish_next_pending(claim_for=CLAIM_FOR)

    async def run(self, stop: asyncio.Event | None = None, *, once: bool = False) -> int:
        """Claim and finish documents until ``stop`` is set (the document in hand is finished first), or
        with ``once`` until none is left to claim. A failing store is logged and retried after
        ``store_retry_delay``; a bug is logged and the loop goes on.

        Returns:
            The documents claimed.
        """
        stop = stop or asyncio.Event()
        claimed = failures = 0
        try:
            try:
                await anyio.to_thread.run_sync(self._warm_up)
            except Exception:  # the documents' own validation says what is wrong, and they stay pending
                log.exception("compiling the validation stylesheets at start-up failed")
            while not stop.is_set():
                try:
                    took = await anyio.to_thread.run_sync(self._next)
                except StoreError as exc:
                    failures += 1
                    log.warning("finishing received documents: the store failed (%s); retrying", exc)
                    if once:
                        raise
                    await wait_for_work(stop, {}, store_retry_delay(self._poll_interval, failures), None)
                    continue
                except Exception:  # a bug: the document stays pending (claimable again later, and swept)
                    log.exception("finishing a received document failed")
                    if once:
                        raise
                    await wait_for_work(stop, {}, self._poll_interval, None)
                    continue
                failures = 0
                if took:
                    claimed += 1
                elif once:
                    break
                else:
                    await wait_for_work(stop, {}, self._poll_interval, self._signal)
        finally:
            if self._signal is not None:
                await self._signal.aclose()
        return claimed
