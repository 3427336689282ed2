"""Contract: the wake-up signal of an idle worker (``store.job_signal``) ends its wait when a delivery job is
committed due - from another connection, as the API does - and not for writes that make no job due (SQLite:
the worker's own steps, a job due later; PostgreSQL: a rolled-back enqueue)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, update
from store_builders import at, content, outbound

from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.job_signal import SQLiteJobSignal, job_signal
from gateway.store.tables import delivery_jobs

# Waits that must end: generous (never a timing figure); waits that must not: short.
ENDS_WITHIN = 10.0
QUIET_FOR = 0.3
LEASE = timedelta(minutes=30)


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


# --- the signal's due read is the queue's lease condition ---------------------------------------------------

#: (due minute, leased until minute or None) around "now" = minute 10: every state the two conditions judge.
JOB_STATES = {
    "due before, never leased": (5, None),
    "due now, never leased": (10, None),
    "due later, never leased": (15, None),
    "due before, leased on": (5, 20),
    "due before, lease ends now": (5, 10),
    "due before, lease ran out": (5, 8),
    "due later, lease ran out": (15, 8),
    "due later, leased on": (15, 20),
}


def test_the_signals_due_read_selects_exactly_what_the_queue_leases(
    store: SQLDocumentStore, backend: str
) -> None:
    # The signal restates the queue's condition as SQL of its own connection: if either drifts (a new
    # condition on leases, another comparison), a state below is judged differently and this fails.
    if backend != "sqlite":
        pytest.skip("the due read is SQLite's; PostgreSQL is woken by the enqueue's NOTIFY")
    now = at(10)
    signal = SQLiteJobSignal(store.engine, now=lambda: now)
    judged: dict[str, tuple[bool, bool]] = {}
    for state, (due, leased_until) in JOB_STATES.items():
        with store.engine.begin() as connection:
            connection.execute(delete(delivery_jobs))
        job = enqueue(store, due_minute=due)
        if leased_until is not None:
            with store.engine.begin() as connection:
                connection.execute(
                    update(delivery_jobs).values(lease_token="other", leased_until=at(leased_until))
                )
        signal._version = None  # as after a change: the next look asks whether a job is due
        due_read = signal._due_after_change()
        with store.unit_of_work() as uow:  # not committed: only which job the queue would lease
            leased = [
                lease.document_id for lease in uow.jobs.lease(now=now, limit=5, lease_for=LEASE, token="w")
            ]
        assert leased in ([], [job])
        judged[state] = (due_read, bool(leased))
    signal.close()
    assert {state: read for state, (read, _) in judged.items()} == {
        state: lease for state, (_, lease) in judged.items()
    }
    # Not vacuous: both verdicts occur.
    assert {lease for _, lease in judged.values()} == {True, False}


# --- a broken SQLite signal connection ---------------------------------------------------------------------


class CountingSignal(SQLiteJobSignal):
    """The SQLite signal, counting the times it opens its connection."""

    opened = 0

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.opened += 1
        return super()._connect()


def test_a_broken_sqlite_signal_backs_off_logs_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "not-yet"
    url = f"sqlite:///{folder / 'gateway.db'}"
    signal = CountingSignal(create_engine(url), now=lambda: at(10), max_reconnect_delay=0.4)
    caplog.set_level(logging.INFO, logger="gateway.worker")

    async def broken_for(seconds: float) -> bool:
        return await ends(asyncio.create_task(signal.wait()), seconds)

    # The file cannot be opened: the wait does not end, the signal tries again ever more rarely.
    assert not asyncio.run(broken_for(1.5))
    # 0, 0.1, 0.3, 0.7, 1.1 s (0.1 s doubled, capped at 0.4): a handful, not one per 3-25 ms (hundreds).
    assert 3 <= signal.opened <= 7, signal.opened
    failures = [r for r in caplog.records if "signal failed" in r.getMessage()]
    assert len(failures) == 1  # one line per outage
    # The database comes back with a due job: the signal opens it again within its longest delay.
    folder.mkdir()
    upgrade_database(url)
    back = SQLDocumentStore.from_url(url)
    try:
        enqueue(back, due_minute=5)
        assert asyncio.run(broken_for(ENDS_WITHIN))
    finally:
        back.close()
        signal.close()
    assert [r.getMessage() for r in caplog.records if "works again" in r.getMessage()] != []
    assert len([r for r in caplog.records if "signal failed" in r.getMessage()]) == 1


def test_a_sqlite_signal_whose_due_read_keeps_failing_does_not_claim_to_work_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gateway.db"
    sqlite3.connect(path).close()  # a database without the tables: data_version reads, the due read fails
    url = f"sqlite:///{path}"
    signal = CountingSignal(create_engine(url), now=lambda: at(10), max_reconnect_delay=0.2)
    caplog.set_level(logging.INFO, logger="gateway.worker")

    async def wait_for(seconds: float) -> bool:
        return await ends(asyncio.create_task(signal.wait()), seconds)

    def logged(text: str) -> int:
        return len([r for r in caplog.records if text in r.getMessage()])

    try:
        assert not asyncio.run(wait_for(1.0))
        assert signal.opened >= 3  # it reconnected, and each time the due read failed
        assert (logged("signal failed"), logged("works again")) == (1, 0)
        upgrade_database(url)
        back = SQLDocumentStore.from_url(url)
        try:
            enqueue(back, due_minute=5)
            assert asyncio.run(wait_for(ENDS_WITHIN))
        finally:
            back.close()
    finally:
        signal.close()
    assert (logged("signal failed"), logged("works again")) == (1, 1)
