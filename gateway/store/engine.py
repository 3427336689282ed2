"""Engines for the two supported databases: an embedded SQLite file (WAL, busy timeout, foreign keys, full
sync) and PostgreSQL through psycopg 3. Synchronous on purpose: the API calls the store from a threadpool."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from gateway.errors import ConfigurationError, StoreError

log = logging.getLogger("gateway.store")

DEFAULT_BUSY_TIMEOUT: Final = 30.0
"""Seconds a SQLite writer waits for the write lock before failing with 'database is locked'."""

SQLITE_BEGIN_MODE: Final = "gateway_sqlite_begin"
"""Key of a pooled SQLite connection's ``info`` naming the BEGIN mode of its next transaction (``DEFERRED``;
absent: ``IMMEDIATE``), taken out by that BEGIN (``sqlite_begin_deferred``)."""


def normalise_url(url: str | URL) -> URL:
    """Return the URL with the driver the gateway uses (``postgresql+psycopg``, ``sqlite+pysqlite``).

    Raises:
        ConfigurationError: another database, another driver, or an in-memory SQLite database (which
            would vanish between connections and cannot use WAL).
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError; never echo the URL (it may hold a password)
        raise ConfigurationError("the database URL cannot be parsed") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise ConfigurationError(f"PostgreSQL driver {driver!r} is not supported; use postgresql+psycopg")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigurationError(f"SQLite driver {driver!r} is not supported")
        if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
            raise ConfigurationError("SQLite needs a database file path (sqlite:///path/to/gateway.db)")
        return parsed.set(drivername="sqlite+pysqlite")
    raise ConfigurationError(f"database {backend!r} is not supported; use sqlite or postgresql")


def make_engine(
    url: str | URL,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    sqlite_cache_kib: int | None = None,
    **engine_options: Any,
) -> Engine:
    """Create an engine for a SQLite file or a PostgreSQL server.

    SQLite: the parent directory is created; every connection runs in WAL mode (readers do not block
    the writer), with ``busy_timeout``, ``foreign_keys=ON`` and ``synchronous=FULL`` (a commit survives
    power loss - the receiving endpoint relies on it before answering with a receipt). Transactions
    begin with ``BEGIN IMMEDIATE`` so a writer holds the write lock from its first statement; a reading
    unit of work uses plain ``BEGIN``. ``sqlite_cache_kib`` bounds each connection's page cache
    (``PRAGMA cache_size``).

    PostgreSQL: psycopg 3, ``pool_pre_ping``; READ COMMITTED (the default) is what the queue's
    ``FOR UPDATE SKIP LOCKED`` leasing expects; ``lock_timeout`` and ``connect_timeout`` from
    ``busy_timeout`` unless the URL (or ``connect_args``) sets them; the URL's other ``options`` are kept.

    Args:
        url: ``sqlite:///path/gateway.db`` or ``postgresql://user@host:5432/db`` (``+psycopg`` implied).
        busy_timeout: longest lock wait in seconds (SQLite busy timeout, PostgreSQL ``lock_timeout``).
        sqlite_cache_kib: SQLite only: the page cache of each connection in KiB; None keeps SQLite's
            default (2,000 KiB). Ignored for PostgreSQL.
        engine_options: passed to ``sqlalchemy.create_engine`` (e.g. ``pool_size``, ``echo``).

    Raises:
        ConfigurationError: the URL names an unsupported database or driver.
    """
    parsed = normalise_url(url)
    # An error's message names no bound value: it is logged with the traceback, and a value may be a
    # password hash or a document's content.
    engine_options.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "postgresql":
        engine_options.setdefault("pool_pre_ping", True)
        connect_args = dict(engine_options.pop("connect_args", {}))
        # As on SQLite, a lock is waited for at most ``busy_timeout`` (then StoreError: 503, job handed
        # back) and so is a server that does not answer the connection: never an unbounded hang.
        # The URL's own ``connect_timeout`` and ``options`` stay (``connect_args`` override the URL's query
        # as a whole: a default set here replaced an operator's ``-c statement_timeout=...``).
        if "connect_timeout" not in parsed.query:
            connect_args.setdefault("connect_timeout", max(2, round(busy_timeout)))
        if "options" not in connect_args:
            connect_args["options"] = _with_lock_timeout(parsed.query.get("options"), busy_timeout)
        engine = create_engine(parsed, connect_args=connect_args, **engine_options)
        _CONNECT_ARGS[engine] = connect_args
        return engine

    assert parsed.database is not None  # checked by normalise_url
    Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(engine_options.pop("connect_args", {}))
    connect_args.setdefault("timeout", busy_timeout)
    # Connections move between threadpool threads, never used by two at once (one unit of work each).
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(parsed, connect_args=connect_args, **engine_options)
    _install_sqlite_hooks(engine, busy_timeout, sqlite_cache_kib)
    _WRITE_LOCKS[engine] = SQLiteWriteLock(Path(parsed.database).expanduser(), timeout=busy_timeout)
    return engine


def _with_lock_timeout(options: str | tuple[str, ...] | None, busy_timeout: float) -> str:
    """libpq's ``options`` of a PostgreSQL engine: the URL's (if any), plus ``lock_timeout`` = the busy
    timeout unless they set one."""
    given = " ".join(options) if isinstance(options, tuple) else (options or "")
    if "lock_timeout" in given:
        return given
    return f"{given} -c lock_timeout={int(busy_timeout * 1000)}".strip()


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, SQLiteWriteLock] = weakref.WeakKeyDictionary()
_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


def connection_parameters(engine: Engine) -> tuple[list[Any], dict[str, Any]]:
    """The driver's connect arguments of ``engine``'s connections, for a connection opened beside its pool
    (the job signal's): the URL's parameters, overridden by the ``connect_args`` it was made with
    (``connect_timeout``, ``options``, ``sslmode``...: as SQLAlchemy merges them). An engine that
    ``make_engine`` did not make gives its URL's parameters only."""
    args, params = engine.dialect.create_connect_args(engine.url)
    return list(args), {**params, **_CONNECT_ARGS.get(engine, {})}


#: Longest sleep between two tries of another process's write lock (seconds).
MAX_LOCK_PAUSE: Final = 0.001


def sqlite_write_lock(engine: Engine) -> SQLiteWriteLock | None:
    """The write lock of a SQLite engine made by ``make_engine``; None for PostgreSQL (or another engine)."""
    return _WRITE_LOCKS.get(engine)


class SQLiteWriteLock:
    """Serialises the write transactions on one SQLite file, waking a waiter as soon as the writer ends.

    SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps 1, 2, 5, 10, 15,
    20, 25, 25, 25, 50, 50 and then 100 ms between tries: a waiter sleeps on long after a 2 ms transaction
    ended (issue 12: the API's threads and the worker's wait for each other under load). Units of work take
    this lock before ``BEGIN IMMEDIATE`` and release it after the commit or rollback: a threading lock among
    the process's threads (woken at once), then an ``flock`` on ``<database>.writelock`` among processes,
    tried again every ``MAX_LOCK_PAUSE`` at most. The kernel drops the flock of a process that dies. Writers
    that do not take it (migrations, other tools) still meet SQLite's own lock and busy timeout.

    Args:
        database: the database file.
        timeout: longest wait in seconds; then ``StoreError`` ("database is locked"), as
            SQLite's busy timeout would raise.
    """

    def __init__(self, database: Path, *, timeout: float) -> None:
        self.path = database.with_name(database.name + ".writelock")
        self._timeout = timeout
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._unavailable = False
        self._opening = threading.Lock()

    def acquire(self) -> None:
        """Wait for the write lock (this process's threads, then the other processes)."""
        deadline = time.monotonic() + self._timeout
        if not self._threads.acquire(timeout=self._timeout):
            raise StoreError("database is locked: the write lock wait timed out")
        try:
            self._lock_file(deadline)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        """Let the next writer in."""
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _lock_file(self, deadline: float) -> None:
        fd = self._open()
        if fd is None:
            return  # no lock file: SQLite's own lock and busy timeout keep the processes apart
        pause = 0.0001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError("database is locked: the write lock wait timed out") from None
                time.sleep(pause)
                pause = min(pause * 2, MAX_LOCK_PAUSE)

    def _open(self) -> int | None:
        """The lock file's descriptor; None if it cannot be created (a read-only directory): logged once."""
        if self._fd is None and not self._unavailable:
            with self._opening:
                if self._fd is None and not self._unavailable:
                    try:
                        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    except OSError as exc:
                        self._unavailable = True
                        why = "writers wait in SQLite's busy handler"
                        log.warning("no SQLite write lock file %s (%s): %s", self.path, exc, why)
        return self._fd

    def close(self) -> None:
        """Close the lock file (the engine is disposed of)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def set_wal_mode(cursor: Any, busy_timeout: float, *, pause: float = 0.05) -> None:
    """Switch the database to WAL, retrying while another process holds a conflicting lock.

    Changing the journal mode of a fresh file needs an exclusive lock, and SQLite answers SQLITE_BUSY at
    once - without calling the busy handler - when waiting could deadlock (another process starting at the
    same moment, e.g. ``serve`` and ``worker`` both migrating a new database). So retry for up to the busy
    timeout; once one process has switched, the mode is stored in the file and the others see WAL.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)


def _install_sqlite_hooks(engine: Engine, busy_timeout: float, cache_kib: int | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling issues a deferred BEGIN lazily before the first write; a
        # transaction that read first and then writes can fail with SQLITE_BUSY without waiting. We turn
        # it off and issue BEGIN ourselves (SQLAlchemy's documented pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            set_wal_mode(cursor, busy_timeout)
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            if cache_kib is not None:
                # Each connection has its own page cache (SQLite's default up to 2,000 KiB), filled by the
                # reads and dropped whenever another connection has written (WAL); the pool's connections
                # reading at once each filled theirs, and glibc keeps the memory: BENCHMARKS.md, *Memory,
                # twentieth pass*. A negative size is in KiB.
                cursor.execute(f"PRAGMA cache_size={-int(cache_kib)}")
        finally:
            cursor.close()

    # The BEGIN is the dialect's (``Connection.begin`` calls ``do_begin``; its errors are wrapped as any
    # statement's), not a ``begin`` event listener as in SQLAlchemy's recipe: one connection event listener
    # makes every connection join the engine's event dispatch and every statement run its four empty
    # execute events (an empty unit of work cost 404 k instructions with it, 219 k without: issue 12,
    # BENCHMARKS.md, *Units of work instructions*). Nothing in production listens to its connection events.
    def _do_begin(connection: Any) -> None:
        mode = connection.info.pop(SQLITE_BEGIN_MODE, "IMMEDIATE")
        connection.driver_connection.execute("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")

    engine.dialect.do_begin = _do_begin  # type: ignore[method-assign,assignment]


def sqlite_begin_deferred(connection: Connection) -> None:
    """Make the next BEGIN of ``connection`` (a SQLite engine's made by ``make_engine``) a ``BEGIN
    DEFERRED``: a reading unit of work takes no write lock. Any other transaction begins ``IMMEDIATE``."""
    connection.connection.info[SQLITE_BEGIN_MODE] = "DEFERRED"


def sqlite_begin_forgotten(connection: Connection) -> None:
    """Drop a BEGIN mode left by ``sqlite_begin_deferred`` when ``begin`` failed before taking it."""
    connection.connection.info.pop(SQLITE_BEGIN_MODE, None)
