"""The retention timer of ``gateway worker``: purges expired idempotency keys (outbound, and of expense
actions that changed nothing) and delivered webhook rows in small batches, off the event loop, every
``retention.interval_seconds``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import anyio.to_thread

from gateway.bootstrap import Services
from gateway.errors import StoreError
from gateway.services.retention import PurgeCounts, RetentionPolicy, purge_working_tables
from gateway.store import SQLDocumentStore
from gateway.store.retention import SQLWorkingTablePurge

log = logging.getLogger("gateway.worker.retention")


def retention_policy(services: Services) -> RetentionPolicy:
    """The policy of the settings (``GATEWAY_RETENTION__…``)."""
    settings = services.settings.retention
    return RetentionPolicy(
        idempotency=timedelta(days=settings.idempotency_days),
        delivered_webhooks=timedelta(days=settings.delivered_webhook_days),
        batch_size=settings.batch_size,
    )


def purge_once(services: Services) -> PurgeCounts:
    """One purge pass. Raises StoreError."""
    if not isinstance(services.store, SQLDocumentStore):
        return PurgeCounts()  # another store adapter: nothing to purge here
    purge = SQLWorkingTablePurge(services.store)
    return purge_working_tables(purge, now=services.clock.now(), policy=retention_policy(services))


async def run_retention(services: Services, stop: asyncio.Event) -> None:
    """Purge now and every interval until ``stop``; a failing store is logged and retried next tick."""
    while not stop.is_set():
        try:
            counts = await anyio.to_thread.run_sync(purge_once, services)
        except StoreError as exc:
            log.warning("retention purge skipped: %s", exc)
        else:
            if counts.idempotency_keys or counts.delivered_webhooks or counts.expense_action_keys:
                log.info(
                    "purged %d idempotency keys, %d expense action keys and %d delivered webhooks",
                    counts.idempotency_keys,
                    counts.expense_action_keys,
                    counts.delivered_webhooks,
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=services.settings.retention.interval_seconds)
