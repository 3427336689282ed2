"""The lease heartbeat against a full thread pool: its beats never wait behind the delivery steps.

The delivery steps run in threads through anyio's default limiter (40 threads); with ``max_in_flight`` near
that, or many steps waiting for SQLite's write lock (30 s each), all its tokens are taken. A beat queued
behind them lets the 50 s lease of a send in flight run out, and another worker sends the document again.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import anyio.to_thread
from delivery_support import SettableClock, queue_document

from gateway.store import SQLDocumentStore
from gateway.worker.heartbeat import LeaseKeeper

LEASE = timedelta(seconds=50)


def test_a_beat_renews_while_every_default_thread_is_taken(store: SQLDocumentStore) -> None:
    clock = SettableClock()
    doc_id = queue_document(store, at=clock.now())
    with store.unit_of_work() as uow:
        (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=LEASE, token="t")
        uow.commit()
    clock.advance(seconds=30)  # most of the lease is gone: only a renewal keeps it
    every = 0.05
    keeper = LeaseKeeper(store=store, clock=clock, lease_for=LEASE, every=every)
    keeper.hold(lease)
    release = threading.Event()

    async def main() -> int:
        limiter = anyio.to_thread.current_default_thread_limiter()
        # Delivery steps blocked in their threads (a lock wait): every token of the default limiter taken.
        steps = [
            asyncio.create_task(anyio.to_thread.run_sync(release.wait, 10))
            for _ in range(int(limiter.total_tokens))
        ]
        beating: asyncio.Task[None] | None = None
        try:
            while limiter.available_tokens:
                await asyncio.sleep(0.01)
            beating = asyncio.create_task(keeper.run())
            for _ in range(40):  # 2 s: 40 intervals
                if keeper.beats:
                    break
                await asyncio.sleep(every)
            return keeper.beats
        finally:
            release.set()
            if beating is not None:
                beating.cancel()
            await asyncio.gather(*steps, *([beating] if beating else []), return_exceptions=True)

    beats = asyncio.run(main())
    assert beats >= 1, "the heartbeat waited behind the delivery steps for a thread"
    with store.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get(doc_id)
    assert job is not None
    assert job.lease_token == "t"
    assert job.leased_until == clock.now() + LEASE
