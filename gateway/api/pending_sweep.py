"""The timer of ``gateway serve`` that validates received documents left awaiting their verdict (the store
failed through every try after the receipt) once they are older than ``as4.pending_sweep_age_seconds``, so
they do not wait for the next start-up. Small batches, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import anyio.to_thread

from gateway.bootstrap import Services
from gateway.errors import StoreError

log = logging.getLogger("gateway.api.pending_sweep")


def sweep_pending_once(services: Services) -> int:
    """Validate the pending received documents older than the configured age (none without a receiver).

    Raises:
        StoreError: the store failed.
    """
    receiver = services.receiver
    if receiver is None:
        return 0
    age = timedelta(seconds=services.settings.as4.pending_sweep_age_seconds)
    return receiver.sweep_pending(older_than=age)


async def run_pending_sweep(services: Services) -> None:
    """Sweep every ``as4.pending_sweep_interval_seconds`` (until cancelled); the first sweep comes one
    interval after start-up (start-up recovery has just run). A failing store is logged and retried at
    the next tick."""
    interval = services.settings.as4.pending_sweep_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            swept = await anyio.to_thread.run_sync(sweep_pending_once, services)
        except StoreError as exc:
            log.warning("sweep of received documents awaiting validation skipped: %s", exc)
        except Exception:  # a bug: logged, the timer keeps running
            log.exception("sweep of received documents awaiting validation failed")
        else:
            if swept:
                log.warning("validated %d received documents left awaiting their verdict", swept)
