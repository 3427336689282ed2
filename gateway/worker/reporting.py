"""The reporting scheduler of ``gateway worker``: on days 1..15 of a month (from a day after the previous
month's end, ``SETTLING_TIME``) it creates, stores and queues the
previous month's TSR and EUSR (peppol-as4.md §11), and remakes one of them stored ``invalid`` at most once a
day (``PeppolReporter.run_scheduled``). Every worker may run it: the unique (month, kind) of the stored
reports makes the work happen exactly once, whichever worker gets there first."""

from __future__ import annotations

import asyncio
import logging

import anyio

from gateway.errors import GatewayError
from gateway.model.report import StoredReport
from gateway.services.reporting import PeppolReporter

log = logging.getLogger(__name__)

#: How often the scheduler looks (the reports are due for 15 days; an hour is plenty).
DEFAULT_INTERVAL_SECONDS = 3600.0


class ReportScheduler:
    """Runs ``PeppolReporter.run_scheduled`` now and then every ``interval`` seconds until stopped."""

    def __init__(self, reporter: PeppolReporter, *, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self._reporter = reporter
        self._interval = interval
        self._stop = asyncio.Event()

    async def run_once(self) -> list[StoredReport]:
        """One look: the reports created or remade now (none when not due or already made). Errors are
        logged."""
        try:
            return await anyio.to_thread.run_sync(self._reporter.run_scheduled)
        except GatewayError as exc:
            # A store or artefact problem: the next look tries again (the month stays due until day 15).
            log.error("Peppol reporting: %s", exc)
            return []
        except Exception:
            # Never let reporting stop the deliveries beside it; the next look tries again.
            log.exception("Peppol reporting failed")
            return []

    async def run(self) -> None:
        """Look until ``stop()``."""
        while not self._stop.is_set():
            await self.run_once()
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)
            except TimeoutError:
                continue

    def stop(self) -> None:
        """Make ``run`` return after its current look."""
        self._stop.set()
