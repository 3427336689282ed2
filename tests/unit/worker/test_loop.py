"""The delivery worker loop: it outlives transient store failures (bounded backoff, one log line each),
still stops promptly, and its lease margin covers a database lock wait."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from delivery_support import SettableClock, UUIDs, queue_document

from gateway.config import LEASE_MARGIN_SECONDS
from gateway.errors import StoreError
from gateway.model.message import DeliveryStatus
from gateway.services.deliver import DeliveryResult
from gateway.services.ports import DeliveryLease
from gateway.store import DEFAULT_BUSY_TIMEOUT, SQLDocumentStore, make_engine, upgrade_database
from gateway.worker.loop import MAX_STORE_RETRY_DELAY, DeliveryWorker

LEASE = timedelta(minutes=5)


class OutageStore:
    """A real store whose next ``failures`` units of work fail like a locked or restarting database."""

    def __init__(self, inner: SQLDocumentStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.attempts = 0

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise StoreError("begin transaction: OperationalError (database is locked)")
        return self.inner.unit_of_work(read_only=read_only)

    def close(self) -> None:
        self.inner.close()


class RecordingDeliverer:
    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def deliver_one(self, lease: DeliveryLease) -> DeliveryResult:
        self.delivered.append(lease.document_id)
        return DeliveryResult(lease.document_id, DeliveryStatus.DELIVERED)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    s = SQLDocumentStore(make_engine(url))
    yield s
    s.close()


def make_worker(store: Any, deliverer: RecordingDeliverer, poll_interval: float) -> DeliveryWorker:
    return DeliveryWorker(
        deliverer,  # type: ignore[arg-type]
        store=store,
        clock=SettableClock(),
        ids=UUIDs(),
        lease_for=LEASE,
        poll_interval=poll_interval,
    )


def test_the_worker_survives_transient_store_failures(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    doc_id = queue_document(store)
    outage = OutageStore(store, failures=3)
    deliverer = RecordingDeliverer()
    worker = make_worker(outage, deliverer, poll_interval=0.001)
    with caplog.at_level(logging.ERROR, logger="gateway.worker"):
        stats = asyncio.run(worker.run(max_jobs=1))
    assert deliverer.delivered == [doc_id]
    assert stats.processed == 1
    assert outage.attempts == 4
    failures = [r for r in caplog.records if r.name == "gateway.worker"]
    assert len(failures) == 3
    assert all(r.levelno == logging.ERROR and r.exc_info is None for r in failures)  # one line, no trace
    assert "database is locked" in failures[0].getMessage()


def test_a_stop_request_ends_the_wait_after_a_store_failure() -> None:
    class DownStore:
        def unit_of_work(self, *, read_only: bool = False) -> Any:
            stop.set()  # the operator stops the worker while the database is down
            raise StoreError("begin transaction: OperationalError")

        def close(self) -> None:
            pass

    async def main() -> int:
        worker = make_worker(DownStore(), RecordingDeliverer(), poll_interval=3600)
        # The retry wait would be an hour: only the stop request can end run() within the guard.
        stats = await asyncio.wait_for(worker.run(stop=stop), timeout=30)
        return stats.processed

    stop = asyncio.Event()
    assert asyncio.run(main()) == 0


def test_a_single_pass_reports_the_store_failure() -> None:
    class DownStore:
        def unit_of_work(self, *, read_only: bool = False) -> Any:
            raise StoreError("begin transaction: OperationalError")

        def close(self) -> None:
            pass

    worker = make_worker(DownStore(), RecordingDeliverer(), poll_interval=0.001)
    with pytest.raises(StoreError):
        asyncio.run(worker.run(once=True))


def test_the_store_retry_delay_backs_off_within_bounds() -> None:
    worker = make_worker(None, RecordingDeliverer(), poll_interval=1.0)
    delays = [worker.store_retry_delay(n) for n in range(1, 9)]
    assert delays == [1.0, 2.0, 4.0, MAX_STORE_RETRY_DELAY, 5.0, 5.0, 5.0, 5.0]
    assert worker.store_retry_delay(10_000) == MAX_STORE_RETRY_DELAY
    slow = make_worker(None, RecordingDeliverer(), poll_interval=120.0)
    assert slow.store_retry_delay(5) == 120.0  # never shorter than the poll interval


def test_the_lease_margin_outlasts_a_database_lock_wait() -> None:
    # A heartbeat renews the leases in a unit of work that may first wait the SQLite busy timeout for the
    # write lock: the lease must still run when that renewal lands.
    assert DEFAULT_BUSY_TIMEOUT + 10 <= LEASE_MARGIN_SECONDS
