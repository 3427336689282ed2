"""Contract: how the store's SQLite transactions begin. ``BEGIN IMMEDIATE`` for a writing unit of work and any
other transaction (migrations, tools), ``BEGIN DEFERRED`` for a reading one; issued by the engine's dialect,
not by a connection event listener, whose mere presence made every statement run SQLAlchemy's execute
events (issue 12; BENCHMARKS.md, *Units of work instructions*)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from gateway.errors import StoreError
from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.store.tables import outbound_documents


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def traced(database: Path) -> Iterator[tuple[SQLDocumentStore, list[str]]]:
    """A store on one pooled connection whose statements, as SQLite runs them, are listed."""
    engine = make_engine(f"sqlite:///{database}", pool_size=1, max_overflow=0, busy_timeout=0.2)
    store = SQLDocumentStore(engine)
    seen: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(store.engine.pool, "connect", trace)  # a pool event: no connection event listener
    yield store, seen
    store.close()


def begins(seen: list[str]) -> list[str]:
    return [statement for statement in seen if statement.startswith("BEGIN")]


def test_the_engines_listen_to_no_connection_event(database: Path) -> None:
    # SQLAlchemy runs its execute events (and joins every connection to the engine's) as soon as one
    # listener is there: ≈ 15 % of a unit of work's instructions (issue 12).
    sqlite_store = SQLDocumentStore(make_engine(f"sqlite:///{database}"))
    try:
        with sqlite_store.unit_of_work() as uow:
            uow.connection.execute(select(func.count()).select_from(outbound_documents))
            uow.commit()
        assert sqlite_store.engine._has_events is False
    finally:
        sqlite_store.close()
    postgres = make_engine("postgresql://nobody@127.0.0.1:1/none")  # not connected
    assert postgres._has_events is False


def test_writing_units_of_work_begin_immediate_and_reading_ones_deferred(
    traced: tuple[SQLDocumentStore, list[str]],
) -> None:
    store, seen = traced
    with store.unit_of_work() as uow:
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        uow.connection.execute(select(func.count()).select_from(outbound_documents))
    with store.unit_of_work() as uow:  # the same pooled connection: the reader's mode is not kept
        uow.commit()
    with store.engine.begin() as connection:  # outside the units of work (migrations, tools)
        connection.execute(text("SELECT 1"))
    assert begins(seen) == ["BEGIN IMMEDIATE", "BEGIN DEFERRED", "BEGIN IMMEDIATE", "BEGIN IMMEDIATE"]


def test_a_transaction_begun_by_the_engine_is_atomic(database: Path) -> None:
    # pysqlite's own transaction handling is off (the store issues BEGIN): without it, a statement would
    # commit on its own.
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection, connection.begin() as transaction:
            connection.execute(text("CREATE TABLE scratch (n INTEGER)"))
            connection.execute(text("INSERT INTO scratch VALUES (1)"))
            transaction.rollback()
        with engine.connect() as connection:
            found = connection.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'scratch'"))
            assert found.scalar() == 0
    finally:
        engine.dispose()


def test_a_reading_unit_of_work_takes_no_write_lock_and_a_writing_one_does(
    traced: tuple[SQLDocumentStore, list[str]], database: Path
) -> None:
    store, _ = traced
    other = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        with store.unit_of_work(read_only=True) as uow:
            uow.connection.execute(select(func.count()).select_from(outbound_documents))
            other.execute("BEGIN IMMEDIATE")  # the reader holds no write lock
            other.execute("ROLLBACK")
        with store.unit_of_work() as uow:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            uow.commit()
    finally:
        other.close()


def test_a_begin_refused_by_a_lock_is_a_store_error_and_the_next_unit_of_work_goes_on(
    traced: tuple[SQLDocumentStore, list[str]], database: Path
) -> None:
    store, _ = traced
    other = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # a writer that does not take the store's write lock
        with pytest.raises(StoreError, match="begin transaction"), store.unit_of_work():
            pass
        other.execute("ROLLBACK")
        with store.unit_of_work() as uow:  # the write lock and the pooled connection were given back
            uow.commit()
    finally:
        other.close()


def test_a_reading_mode_left_by_a_failed_begin_is_dropped(
    traced: tuple[SQLDocumentStore, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, seen = traced
    dialect = store.engine.dialect
    begin = dialect.do_begin

    def refused(connection: Any) -> None:
        raise sqlite3.OperationalError("refused before the BEGIN")

    monkeypatch.setattr(dialect, "do_begin", refused)
    with pytest.raises(StoreError), store.unit_of_work(read_only=True):
        pass
    monkeypatch.setattr(dialect, "do_begin", begin)
    with store.unit_of_work() as uow:  # the same pooled connection
        uow.commit()
    assert begins(seen) == ["BEGIN IMMEDIATE"]
