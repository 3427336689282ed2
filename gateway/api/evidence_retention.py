"""The timer that purges expired evidence of rejected ``/as4`` requests in the ``gateway serve`` process
(the process that writes it), in small batches off the event loop."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import anyio.to_thread

from gateway.bootstrap import Services
from gateway.errors import StoreError
from gateway.services.rejected_evidence import purge_rejected_evidence

log = logging.getLogger("gateway.api.retention")


def purge_expired_once(services: Services) -> int:
    """Delete the rejected-request evidence older than ``as4.rejected_evidence_retention_days``.

    Raises:
        StoreError: the store failed.
    """
    days = services.settings.as4.rejected_evidence_retention_days
    before = services.clock.now() - timedelta(days=days)
    return purge_rejected_evidence(services.store, before=before)


async def run_evidence_retention(services: Services) -> None:
    """Purge expired rejected-request evidence now and then every ``server.purge_interval_seconds``
    (until cancelled); a failing store is logged and retried at the next tick."""
    interval = services.settings.server.purge_interval_seconds
    while True:
        try:
            deleted = await anyio.to_thread.run_sync(purge_expired_once, services)
        except StoreError as exc:
            log.warning("rejected-evidence purge skipped: %s", exc)
        else:
            if deleted:
                log.info("purged %d expired records of rejected AS4 requests", deleted)
        await asyncio.sleep(interval)
