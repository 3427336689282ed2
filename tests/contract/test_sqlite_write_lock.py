"""Contract: SQLite's writers queue on the store's write lock (``SQLiteWriteLock``): a writer of another
engine or process waits for the unit of work in progress and goes on when it ends - committed or rolled
back - and one process's threads take turns without 'database is locked'."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from store_builders import at, content, outbound

from gateway.errors import StoreError
from gateway.store import SQLDocumentStore, SQLUnitOfWork, make_engine, upgrade_database
from gateway.store.engine import sqlite_write_lock
from gateway.store.tables import outbound_documents


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[SQLDocumentStore]:
    store = SQLDocumentStore(make_engine(database_url))
    yield store
    store.close()


def add_document(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        uow.outbound.add(outbound(created_at=at(0)), content())
        uow.commit()


def fail_midway(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        uow.outbound.add(outbound(created_at=at(0)), content())
        raise RuntimeError("a step failed")


def _documents(uow: SQLUnitOfWork) -> int:
    return int(uow.connection.execute(select(func.count()).select_from(outbound_documents)).scalar_one())


def test_a_writer_of_another_engine_goes_on_when_the_unit_of_work_in_progress_commits(
    store: SQLDocumentStore, database_url: str
) -> None:
    other = SQLDocumentStore(make_engine(database_url, busy_timeout=30))
    events: list[str] = []
    started = threading.Event()

    def write_later() -> None:
        started.set()
        add_document(other)
        events.append("other wrote")

    try:
        with store.unit_of_work() as uow:
            uow.outbound.add(outbound(created_at=at(0)), content())
            writer = threading.Thread(target=write_later)
            writer.start()
            started.wait(5)
            writer.join(0.2)
            assert writer.is_alive()  # it waits for this unit of work...
            events.append("committed")
            uow.commit()
        writer.join(10)  # ...and goes on once it committed
        assert events == ["committed", "other wrote"]
    finally:
        other.close()


def test_a_unit_of_work_left_without_commit_lets_the_next_writer_in(
    store: SQLDocumentStore, database_url: str
) -> None:
    impatient = SQLDocumentStore(make_engine(database_url, busy_timeout=0.2))
    try:
        with pytest.raises(RuntimeError):
            fail_midway(store)
        add_document(impatient)  # not locked out: the rollback released the lock
        with store.unit_of_work() as uow:
            assert _documents(uow) == 1
            with pytest.raises(StoreError):
                add_document(impatient)  # a unit of work in progress does lock it out
    finally:
        impatient.close()


def test_the_threads_of_one_process_take_turns(tmp_path: Path, database_url: str) -> None:
    store = SQLDocumentStore(make_engine(database_url, busy_timeout=5))
    failures: list[BaseException] = []

    def writes() -> None:
        try:
            for _ in range(25):
                add_document(store)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writes) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        with store.unit_of_work(read_only=True) as uow:
            assert _documents(uow) == 100
        lock = sqlite_write_lock(store.engine)
        assert lock is not None
        assert lock.path == tmp_path / "gateway.db.writelock"
        assert stat.S_IMODE(lock.path.stat().st_mode) == 0o600
    finally:
        store.close()


def test_without_a_lock_file_the_store_still_writes(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    lock = sqlite_write_lock(store.engine)
    assert lock is not None
    lock.close()
    lock.path = lock.path.parent / "missing" / lock.path.name  # cannot be created there
    add_document(store)  # SQLite's own lock keeps the writers apart instead
    add_document(store)
    with store.unit_of_work(read_only=True) as uow:
        assert _documents(uow) == 2
    warnings = [r.message for r in caplog.records if r.message.startswith("no SQLite write lock file")]
    assert len(warnings) == 1  # once, not per unit of work
