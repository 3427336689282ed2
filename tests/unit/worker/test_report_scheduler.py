"""The reporting scheduler looks at once, then every interval; it survives failing looks and stops."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from gateway.errors import StoreError
from gateway.services.reporting import PeppolReporter
from gateway.worker.reporting import ReportScheduler


class _Reporter:
    def __init__(self) -> None:
        self.calls = 0

    def run_scheduled(self) -> list[Any]:
        self.calls += 1
        if self.calls == 1:
            raise StoreError("database is locked")
        if self.calls == 2:
            raise RuntimeError("unexpected")
        return []


def test_the_scheduler_keeps_looking_after_failures_and_stops() -> None:
    reporter = _Reporter()
    scheduler = ReportScheduler(cast(PeppolReporter, reporter), interval=0.01)

    async def go() -> None:
        task = asyncio.create_task(scheduler.run())
        while reporter.calls < 3:
            await asyncio.sleep(0.01)
        scheduler.stop()
        await asyncio.wait_for(task, 2)

    asyncio.run(go())
    assert reporter.calls >= 3
