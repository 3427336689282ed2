"""Store contract fixtures: every suite runs against a migrated SQLite file and a PostgreSQL database.

PostgreSQL: a throwaway database is created per test session on the server at GATEWAY_TEST_POSTGRES_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped afterwards. If the server is
unreachable the PostgreSQL cases are skipped - unless GATEWAY_TEST_REQUIRE_POSTGRES=1 (CI), then they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import URL
from store_databases import BACKENDS, PostgresServer, postgres_admin_url, postgres_required

from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.store.tables import metadata


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
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
    yield server
    server.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[URL]:
    """A migrated PostgreSQL database for the whole session."""
    url = postgres_server.create_database()
    try:
        upgrade_database(url)
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for the whole session."""
    path: Path = tmp_path_factory.mktemp("store") / "gateway.db"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    return url


@pytest.fixture(scope="session")
def _stores() -> Iterator[dict[str, SQLDocumentStore]]:
    stores: dict[str, SQLDocumentStore] = {}
    yield stores
    for store in stores.values():
        store.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database under test: ``sqlite`` or ``postgresql``."""
    return str(request.param)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str) -> str | URL:
    """The migrated database URL of the backend under test."""
    name = "postgres_url" if backend == "postgresql" else "sqlite_url"
    url: str | URL = request.getfixturevalue(name)
    return url


@pytest.fixture
def store(backend: str, database_url: str | URL, _stores: dict[str, SQLDocumentStore]) -> SQLDocumentStore:
    """A store on an emptied, migrated database of the backend under test."""
    if backend not in _stores:
        _stores[backend] = SQLDocumentStore(make_engine(database_url))
    store = _stores[backend]
    with store.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    return store
