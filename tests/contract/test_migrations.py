"""Migrations: ``upgrade_database(url)`` builds the schema from empty on both databases, and the migrated
schema equals the table metadata (Alembic autogenerate finds no difference)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL
from store_databases import BACKENDS, PostgresServer

from gateway.store import current_revision, head_revision, make_engine, metadata, upgrade_database


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | URL]:
    """A brand-new empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


def test_upgrade_from_empty_matches_the_metadata(empty_database: str | URL) -> None:
    engine = make_engine(empty_database)
    try:
        assert current_revision(engine) is None
        upgrade_database(empty_database)
        upgrade_database(empty_database)  # idempotent
        assert current_revision(engine) == head_revision() is not None
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
            tables = set(inspect(connection).get_table_names())
        assert differences == []
        assert tables == {table.name for table in metadata.sorted_tables} | {"alembic_version"}
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_full_sync(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pragma.db'}"
    upgrade_database(url)
    engine = make_engine(url, busy_timeout=2.5)
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 2500, "synchronous": 2}
