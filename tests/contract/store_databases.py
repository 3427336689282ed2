"""Test databases for the store contract suites: the backend list and throwaway PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, create_engine, delete, text
from sqlalchemy.engine import URL, make_url

from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.store.tables import metadata

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> URL:
    """The URL of the server's maintenance database (where test databases are created)."""
    return make_url(os.environ.get("GATEWAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)).set(
        drivername="postgresql+psycopg"
    )


def postgres_required() -> bool:
    return os.environ.get("GATEWAY_TEST_REQUIRE_POSTGRES") == "1"


def reachable_postgres_admin_url() -> str:
    """``postgres_admin_url`` as a string with its password, once a connection to it works; skips the test
    when the server is unreachable, fails it where PostgreSQL is required."""
    url = postgres_admin_url()
    server = PostgresServer(url)
    try:
        reason = server.reachable()
    finally:
        server.dispose()
    if reason is not None:
        if postgres_required():
            pytest.fail(f"PostgreSQL unreachable: {reason}")
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    return url.render_as_string(hide_password=False)


class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, admin_url: URL) -> None:
        self.admin_url = admin_url
        self._engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def reachable(self) -> str | None:
        """None if a connection works, else the reason."""
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to connect means "not reachable"
            return f"{type(exc).__name__}: {exc}"
        return None

    def create_database(self) -> URL:
        name = f"gateway_test_{uuid.uuid4().hex[:12]}"
        with self._engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return self.admin_url.set(database=name)

    def drop_database(self, url: URL) -> None:
        with self._engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))

    def connect(self) -> Connection:
        """An autocommit connection to the maintenance database (for DDL and backend termination)."""
        return self._engine.connect()

    def dispose(self) -> None:
        self._engine.dispose()


@contextmanager
def migrated_postgres_database() -> Iterator[URL]:
    """A throwaway, migrated PostgreSQL database, dropped afterwards.

    Skips the test when the server is unreachable, or fails it when GATEWAY_TEST_REQUIRE_POSTGRES=1 (CI).
    """
    server = PostgresServer(postgres_admin_url())
    problem = server.reachable()
    if problem is not None:
        server.dispose()
        message = (
            f"PostgreSQL at {server.admin_url.render_as_string(hide_password=True)} unreachable: {problem}"
        )
        if postgres_required():
            pytest.fail(message)
        pytest.skip(message)
    url = server.create_database()
    try:
        upgrade_database(url)
        yield url
    finally:
        server.drop_database(url)
        server.dispose()


def emptied_store(
    stores: dict[str, SQLDocumentStore], backend: str, url: Callable[[], URL | str]
) -> SQLDocumentStore:
    """The cached store of ``backend`` (opened on first use from ``url()``), with every table emptied."""
    if backend not in stores:
        stores[backend] = SQLDocumentStore(make_engine(url()))
    store = stores[backend]
    with store.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    return store
