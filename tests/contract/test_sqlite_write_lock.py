"""Contract: SQLite's writers queue on the store's write lock (``SQLiteWriteLock``): a writer of another
engine or process waits for the unit of work in progress and goes on when it ends - committed or rolled
back - and one process's threads take turns without 'database is locked'."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from store_builders import at, content, outbound

from gateway.errors import StoreError
from gateway.store import SQLDocumentStore, SQLUnitOfWork, make_engine, upgrade_database
from gateway.store.engine import SQLiteWriteLock, sqlite_write_lock
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


def test_writers_waiting_for_the_write_lock_hold_no_pooled_connection(database_url: str) -> None:
    # A writer takes the lock before a connection: the queued ones (a worker's delivery steps, up to
    # worker.max_in_flight, more than its pool of 5 + 10 on SQLite) leave the pool to the readers and to the
    # writer whose turn it is (the heartbeat: gateway.worker.heartbeat).
    store = SQLDocumentStore(make_engine(database_url, pool_size=2, max_overflow=0, pool_timeout=2))
    queued = [threading.Thread(target=add_document, args=(store,)) for _ in range(4)]
    try:
        with store.unit_of_work() as uow:
            uow.outbound.add(outbound(created_at=at(0)), content())
            for thread in queued:
                thread.start()
            time.sleep(0.3)
            assert all(thread.is_alive() for thread in queued)  # waiting for the lock...
            assert store.engine.pool.checkedout() == 1  # ...without a connection
            with store.unit_of_work(read_only=True) as reader:
                assert _documents(reader) == 0
            uow.commit()
        for thread in queued:
            thread.join(10)
        with store.unit_of_work(read_only=True) as uow:
            assert _documents(uow) == 5
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


# The wait for another process's flock, whatever its mechanism (polled, or a helper thread's blocking flock
# as tried in BENCHMARKS.md, *End to end, fifteenth pass*): exclusion, the deadline, and a wait that timed
# out leaves no lock held.

_HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""

_TRY = """
import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
if sys.argv[2] == "now":
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(1)
else:
    signal.alarm(int(sys.argv[2]))
    fcntl.flock(fd, fcntl.LOCK_EX)
"""


class _OtherProcess:
    """Another process holding the lock file's flock until ``release``."""

    def __init__(self, path: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        assert self._process.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self._process.poll() is None:
            self._process.communicate("go\n", timeout=10)


def _another_process_takes(path: Path, within: str) -> bool:
    """Whether another process gets the flock: at once ("now") or within that many seconds."""
    return subprocess.run([sys.executable, "-c", _TRY, str(path), within], timeout=30).returncode == 0


@pytest.fixture
def write_lock(tmp_path: Path) -> Iterator[SQLiteWriteLock]:
    lock = SQLiteWriteLock(tmp_path / "gateway.db", timeout=0.3)
    yield lock
    lock.close()


def test_a_process_waits_for_another_processes_flock_and_goes_on_when_it_is_released(
    write_lock: SQLiteWriteLock,
) -> None:
    write_lock._timeout = 30
    holder = _OtherProcess(write_lock.path)
    got: list[float] = []
    waiter = threading.Thread(target=lambda: (write_lock.acquire(), got.append(time.monotonic())))
    try:
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive()  # shut out while the other process holds it
        assert not got
        released = time.monotonic()
        holder.release()
        waiter.join(10)
        assert got  # in at once, not at the timeout
        assert got[0] - released < 1.0
        assert not _another_process_takes(write_lock.path, "now")  # and it excludes the others
        write_lock.release()
        assert _another_process_takes(write_lock.path, "now")
    finally:
        holder.release()


def test_a_timed_out_wait_raises_and_its_late_grant_is_let_go(write_lock: SQLiteWriteLock) -> None:
    holder = _OtherProcess(write_lock.path)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="write lock wait timed out"):
            write_lock.acquire()
        assert 0.25 < time.monotonic() - started < 2.0
    finally:
        holder.release()
    # nobody waits any more: no flock of this process outlives the timed-out wait
    assert _another_process_takes(write_lock.path, "5")
    assert _another_process_takes(write_lock.path, "now")
    write_lock.acquire()  # and this process's next acquire is not confused by a stale grant
    try:
        assert not _another_process_takes(write_lock.path, "now")
    finally:
        write_lock.release()
    assert _another_process_takes(write_lock.path, "now")


def test_a_wait_after_a_timed_out_one_gets_the_lock_once_the_other_process_lets_go(
    write_lock: SQLiteWriteLock,
) -> None:
    holder = _OtherProcess(write_lock.path)
    try:
        with pytest.raises(StoreError):
            write_lock.acquire()  # timed out: nothing of this wait may answer the next one
        write_lock._timeout = 30
        waiter = threading.Thread(target=write_lock.acquire)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()
        holder.release()
        waiter.join(10)
        assert not waiter.is_alive()
        assert not _another_process_takes(write_lock.path, "now")  # held for the second wait
        write_lock.release()
        assert _another_process_takes(write_lock.path, "now")
    finally:
        holder.release()
