"""The webhook loop: dispatch the outbox batch after batch, beside the delivery worker, until stopped.

Stopping is graceful: ``stop()`` ends the wait between batches at once, and a batch in flight finishes
(its attempts are bounded by the sender's timeout) so no entry is left leased without its result.
"""

from __future__ import annotations

import logging

import anyio

from gateway.errors import StoreError
from gateway.services.webhooks import WebhookDispatcher

log = logging.getLogger("gateway.worker.webhooks")


class WebhookWorker:
    """Runs a WebhookDispatcher in a loop.

    A full batch is followed by the next one at once (a backlog drains at full speed); otherwise the
    loop waits ``poll_interval`` seconds. A store failure is logged and retried after the interval.

    Args:
        dispatcher: the dispatch recipe.
        poll_interval: seconds between polls when the outbox has nothing more due.
    """

    def __init__(self, dispatcher: WebhookDispatcher, *, poll_interval: float = 1.0) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._dispatcher = dispatcher
        self._poll_interval = poll_interval
        self._stop_requested = False
        self._wakeup: anyio.Event | None = None  # made in run(): an anyio Event needs a running loop

    def stop(self) -> None:
        """Ask the loop to end after the batch in flight (call it from the loop's thread, e.g. a signal
        handler task; before ``run()`` it makes ``run()`` return at once)."""
        self._stop_requested = True
        if self._wakeup is not None:
            self._wakeup.set()

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop_requested

    async def run_once(self) -> int:
        """Dispatch one batch; return how many entries were attempted (0 after a store failure)."""
        try:
            return len(await self._dispatcher.dispatch_due())
        except StoreError as exc:
            # Transient (database locked or restarting): one line, no traceback (an outage would flood
            # the log); the next poll tries again.
            log.error("webhook dispatch failed (%s); retrying after the poll interval", exc)
            return 0

    async def run(self) -> None:
        """Loop until ``stop()``."""
        self._wakeup = anyio.Event()
        if self._stop_requested:
            return
        log.info("webhook worker started")
        while not self._stop_requested:
            # Shielded: a cancellation (e.g. SIGTERM handling) waits for the batch's results to be stored.
            with anyio.CancelScope(shield=True):
                attempted = await self.run_once()
            if attempted >= self._dispatcher.batch_size:
                continue
            with anyio.move_on_after(self._poll_interval):
                await self._wakeup.wait()
        log.info("webhook worker stopped")
