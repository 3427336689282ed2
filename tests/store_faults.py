"""Real database outages for fault tests, on both backends.

PostgreSQL: the test database stops accepting connections and every backend connected to it is terminated
from an admin connection (``pg_terminate_backend``), as a restart or a network cut would do; at the end of
the block connections are allowed again. SQLite has no server to cut: another connection holds the write
lock, so every writer of a store with a short busy timeout fails with "database is locked" (readers in WAL
mode still read, as they would on a locked production file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL

from gateway.store import normalise_url
from tests.contract.store_databases import postgres_admin_url

#: Busy timeout of the stores used with ``database_outage`` on SQLite: the lock outlasts it at once.
SHORT_BUSY_TIMEOUT = 0.2


@contextmanager
def database_outage(url: URL | str) -> Iterator[None]:
    """Inside the block the database at ``url`` is unavailable (see the module docstring)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "postgresql":
        assert parsed.database is not None
        lock = sqlite3.connect(parsed.database, timeout=5, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            yield
            lock.execute("ROLLBACK")
        finally:
            lock.close()
        return
    name = parsed.database
    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                {"db": name},
            )
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


class StatementCut:
    """Cuts the database connection of a chosen SQL statement just before it runs.

    ``arm(n)``: the n-th statement run on ``engine`` from now on finds its connection gone (PostgreSQL: its
    backend terminated by ``pg_terminate_backend`` from an admin connection; SQLite: the file connection
    closed), as a server restart or a network cut in the middle of a request would.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.fired = False
        self._countdown: int | None = None
        event.listen(engine, "before_cursor_execute", self._before)

    def arm(self, n: int) -> None:
        """Cut before the ``n``-th statement from now on (0: disarm)."""
        self.fired = False
        self._countdown = n or None

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)

    def _before(self, conn: Connection, *_: Any) -> None:
        if self._countdown is None:
            return
        self._countdown -= 1
        if self._countdown:
            return
        self._countdown = None
        self.fired = True
        dbapi_connection: Any = conn.connection.dbapi_connection
        if conn.dialect.name != "postgresql":
            dbapi_connection.close()
            return
        admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(
                    text("SELECT pg_terminate_backend(:pid, 5000)"),
                    {"pid": dbapi_connection.info.backend_pid},
                )
        finally:
            admin.dispose()
