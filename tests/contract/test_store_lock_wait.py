"""A database that holds a lock (another session's ACCESS EXCLUSIVE lock, a long migration, a stuck
transaction) must not hang the gateway: on PostgreSQL a statement waits for a lock at most the busy
timeout, as on SQLite, then surfaces as StoreError (503 + Retry-After on the API, a job handed back)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL
from store_databases import migrated_postgres_database

from gateway.errors import StoreError
from gateway.services.ports import OutboundQuery
from gateway.store import SQLDocumentStore, make_engine, upgrade_database


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[URL]:
    with migrated_postgres_database() as url:
        yield url


def _search(store: SQLDocumentStore, outcome: list[object]) -> None:
    try:
        with store.unit_of_work(read_only=True) as uow:
            outcome.append(list(uow.outbound.search(OutboundQuery(limit=1)).items))
    except StoreError as exc:
        outcome.append(exc)


@pytest.mark.postgres
def test_a_locked_table_is_a_store_error_after_the_busy_timeout(postgres_url: URL) -> None:
    store = SQLDocumentStore(make_engine(postgres_url, busy_timeout=1.0))
    holder = sa.create_engine(postgres_url.set(drivername="postgresql+psycopg"))
    outcome: list[object] = []
    try:
        with holder.connect() as other:
            other.execute(sa.text("LOCK TABLE outbound_documents IN ACCESS EXCLUSIVE MODE"))
            reader = threading.Thread(target=_search, args=(store, outcome), daemon=True)
            reader.start()
            reader.join(5)
            blocked = reader.is_alive()
            other.rollback()  # releases the lock (and a reader still waiting, on the old code)
            reader.join(5)
        assert not blocked, "the read waited for the lock without bound"
        assert isinstance(outcome[0], StoreError)
        _search(store, outcome)  # the lock gone, the store answers again
        assert outcome[1] == []
    finally:
        holder.dispose()
        store.close()


@pytest.mark.postgres
def test_migrations_still_wait_for_each_other(postgres_url: URL) -> None:
    # The advisory lock that serialises concurrent upgrades is not subject to the statement lock wait.
    holder = sa.create_engine(postgres_url.set(drivername="postgresql+psycopg"))
    try:
        with holder.connect() as other:
            other.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": 0x6761746577617934})
            started = time.monotonic()
            release = threading.Timer(2.0, lambda: other.execute(sa.text("SELECT pg_advisory_unlock_all()")))
            release.start()
            upgrade_database(postgres_url, busy_timeout=0.5)
            release.join()
        assert time.monotonic() - started >= 1.5
    finally:
        holder.dispose()
