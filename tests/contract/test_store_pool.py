"""The store's connection pool: sized per process (``database.pool_size``, ``database.max_overflow``), it
keeps that many connections open between units of work and never holds more than pool + overflow."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import URL

from gateway.bootstrap import build_store, max_overflow, pool_size
from gateway.config import Settings
from gateway.config.operations import SQLITE_CACHE_KIB
from gateway.store import SQLDocumentStore


def _store(url: str | URL, **database: Any) -> tuple[SQLDocumentStore, list[object]]:
    """A store built as a worker process builds it, and the list of the connections it opened."""
    settings = Settings.model_validate(
        {
            "database": {
                "url": str(url) if isinstance(url, str) else url.render_as_string(hide_password=False),
                **database,
            }
        }
    )
    store = build_store(settings, "worker")
    assert isinstance(store, SQLDocumentStore)
    opened: list[object] = []
    event.listen(store.engine, "connect", lambda dbapi, _record: opened.append(dbapi))
    return store, opened


def test_the_pool_keeps_pool_size_connections_open_between_units_of_work(database_url: str | URL) -> None:
    store, opened = _store(database_url, pool_size=3, max_overflow=2)
    try:
        with ExitStack() as stack:  # five units of work at once: three pooled, two overflow
            for _ in range(5):
                stack.enter_context(store.unit_of_work(read_only=True))
        assert len(opened) == 5
        assert store.engine.pool.checkedin() == 3  # the overflow ones were closed, three kept
        for _round in range(3):  # three at a time again and again: no new connection
            with ExitStack() as stack:
                for _ in range(3):
                    stack.enter_context(store.unit_of_work(read_only=True))
        assert len(opened) == 5
    finally:
        store.close()


def test_a_process_holds_no_more_than_pool_size_plus_overflow(database_url: str | URL) -> None:
    store, opened = _store(database_url, pool_size=1, max_overflow=1)
    entered = threading.Event()

    def third() -> None:
        with store.unit_of_work(read_only=True):
            entered.set()

    try:
        with ExitStack() as stack:
            first = stack.enter_context(ExitStack())
            first.enter_context(store.unit_of_work(read_only=True))
            stack.enter_context(store.unit_of_work(read_only=True))
            waiter = threading.Thread(target=third)
            waiter.start()
            assert not entered.wait(0.5)  # the third waits for a connection instead of opening one
            assert len(opened) == 2
            first.close()  # one unit of work ends: the waiter takes its connection
            assert entered.wait(5)
            waiter.join(5)
        assert len(opened) == 2
    finally:
        store.close()


PG = {"url": "postgresql+psycopg://gw@db.invalid/gw"}


def test_on_postgresql_each_process_gets_a_pool_sized_to_its_concurrency() -> None:
    defaults = Settings.model_validate({"database": PG})
    assert pool_size(defaults, "serve") == 8 + 2  # /v1 bodies + AS4 messages at once
    assert pool_size(defaults, "worker") == 20 + 2  # deliveries in flight + lease and heartbeat
    assert pool_size(defaults, "command") == 5
    assert max_overflow(defaults) == 5
    sized = Settings.model_validate(
        {
            "database": PG,
            "api": {"max_concurrent_bodies": 3},
            "as4": {"max_concurrent_requests": 1},
            "worker": {"max_in_flight": 7},
        }
    )
    assert (pool_size(sized, "serve"), pool_size(sized, "worker")) == (4, 9)


def test_on_sqlite_every_process_keeps_sqlalchemys_pool_unless_configured() -> None:
    # A SQLite connection is cheap to open and each kept one holds a page cache in serve's memory.
    defaults = Settings()
    assert {pool_size(defaults, p) for p in ("serve", "worker", "command")} == {5}
    assert max_overflow(defaults) == 10
    for database in ({}, PG):
        fixed = Settings.model_validate({"database": {**database, "pool_size": 6, "max_overflow": 0}})
        assert {pool_size(fixed, p) for p in ("serve", "worker", "command")} == {6}
        assert max_overflow(fixed) == 0


@pytest.mark.parametrize("bad", [{"pool_size": 0}, {"max_overflow": -1}])
def test_a_pool_setting_out_of_range_is_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="greater than or equal"):
        Settings.model_validate({"database": bad})


def test_every_sqlite_connection_gets_the_configured_page_cache(tmp_path: Path) -> None:
    # Each SQLite connection holds its own page cache: serve's peak memory grew with the connections that
    # read at once (BENCHMARKS.md, *Memory, twentieth pass*). Pooled and overflow connections alike.
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    for database, kib in (({}, SQLITE_CACHE_KIB), ({"sqlite_cache_kib": 96}, 96)):
        store, opened = _store(url, pool_size=1, max_overflow=1, **database)
        try:
            with ExitStack() as stack:  # a pooled and an overflow connection
                for _ in range(2):
                    stack.enter_context(store.unit_of_work(read_only=True))
                sizes = [dbapi.execute("PRAGMA cache_size").fetchone()[0] for dbapi in opened]  # type: ignore[attr-defined]
            assert len(opened) == 2
            assert sizes == [-kib, -kib]  # negative: KiB (SQLite's own default is -2000)
        finally:
            store.close()


@pytest.mark.parametrize(
    ("kib", "bound"), [(63, "greater than or equal"), (1024 * 1024 + 1, "less than or equal")]
)
def test_the_sqlite_page_cache_setting_is_bounded(kib: int, bound: str) -> None:
    with pytest.raises(ValueError, match=bound):
        Settings.model_validate({"database": {"sqlite_cache_kib": kib}})
    assert Settings.model_validate({"database": {"sqlite_cache_kib": 64}}).database.sqlite_cache_kib == 64


def test_a_store_opens_with_the_page_cache_setting_on_either_database(database_url: str | URL) -> None:
    # PostgreSQL ignores it (no PRAGMA there).
    store, opened = _store(database_url, sqlite_cache_kib=64)
    try:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        assert len(opened) == 1
    finally:
        store.close()
