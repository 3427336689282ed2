"""Contract: the wake-up signal of an idle worker (``store.job_signal``) ends its wait when a delivery job is
committed due - from another connection, as the API does - and not for writes that make no job due (SQLite:
the worker's own steps, a job due later; PostgreSQL: a rolled-back enqueue)."""

from __future__ import annotations

import asyncio

import pytest
from store_builders import at, content, outbound

from gateway.store import SQLDocumentStore
from gateway.store.job_signal import job_signal

# Waits that must end: generous (never a timing figure); waits that must not: short.
ENDS_WITHIN = 10.0
QUIET_FOR = 0.3


def enqueue(store: SQLDocumentStore, *, due_minute: float, commit: bool = True) -> str:
    document = outbound(created_at=at(0))
    with store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.jobs.enqueue(document.id, due_at=at(due_minute))
        if commit:
            uow.commit()
    return document.id


async def ends(wait: asyncio.Task[None], within: float, *, cancel: bool = True) -> bool:
    """True if ``wait`` ended within ``within`` seconds; else it is cancelled (unless ``cancel`` is False),
    as the worker cancels its wait when a delivery ends first."""
    done, _ = await asyncio.wait({wait}, timeout=within)
    if not done and cancel:
        wait.cancel()
    return bool(done)


def test_a_job_committed_due_ends_the_wait_and_other_writes_do_not(store: SQLDocumentStore) -> None:
    signal = job_signal(store.engine, now=lambda: at(10))

    async def main() -> tuple[bool, bool, bool]:
        # Settle: a fresh signal may report the current state once (PostgreSQL: after LISTEN).
        await ends(asyncio.create_task(signal.wait()), QUIET_FOR)
        quiet = asyncio.create_task(signal.wait())
        await asyncio.to_thread(enqueue, store, due_minute=10, commit=False)  # rolled back
        if store.engine.dialect.name == "sqlite":
            await asyncio.to_thread(enqueue, store, due_minute=60)  # committed, due only later
        woke_for_nothing = await ends(quiet, QUIET_FOR, cancel=False)
        await asyncio.to_thread(enqueue, store, due_minute=5)
        woke = await ends(quiet, ENDS_WITHIN)
        again = asyncio.create_task(signal.wait())
        await asyncio.to_thread(enqueue, store, due_minute=1)
        woke_again = await ends(again, ENDS_WITHIN)
        signal.close()
        return woke_for_nothing, woke, woke_again

    woke_for_nothing, woke, woke_again = asyncio.run(main())
    assert not woke_for_nothing
    assert woke
    assert woke_again


def test_a_job_leased_by_the_worker_is_not_due_any_more(store: SQLDocumentStore, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL is woken by the enqueue's NOTIFY, not by reading the queue")
    enqueue(store, due_minute=1)
    with store.unit_of_work() as uow:
        uow.jobs.lease(now=at(2), limit=10, lease_for=at(30) - at(0), token="w")
        uow.commit()
    signal = job_signal(store.engine, now=lambda: at(2))

    async def main() -> bool:
        woke = await ends(asyncio.create_task(signal.wait()), QUIET_FOR)
        signal.close()
        return woke

    assert not asyncio.run(main())
