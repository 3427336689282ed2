"""Fixtures for the API: one app per session sharing the session's validation engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine
from tests.contract.store_databases import emptied_store, migrated_postgres_database

SENDER_KEY = "sender-key-0123456789abcdefghij"
SUPPORT_KEY = "support-key-0123456789abcdefghij"


@pytest.fixture(scope="session")
def api_settings(artefacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    keys = [
        {"name": "invoicing", "role": "sender", "key": SENDER_KEY},
        {"name": "helpdesk", "role": "support", "key": SUPPORT_KEY},
    ]
    return Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
            "api": {"keys": keys, "max_body_bytes": 2 * 1024 * 1024},
        }
    )


@pytest.fixture(scope="session")
def api(
    api_settings: Settings, validation_engine: ValidationEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'api.db'}"
    upgrade_database(url)
    services = Services(
        settings=api_settings, validation=validation_engine, store=SQLDocumentStore.from_url(url)
    )
    app = create_app(api_settings, services=services)
    with TestClient(app, headers={"Authorization": f"Bearer {SENDER_KEY}"}) as client:
        yield client
    services.close()


@pytest.fixture(scope="module")
def module_stores() -> Iterator[dict[str, SQLDocumentStore]]:
    """Stores opened by a module's tests, one per backend, closed when the module is done."""
    stores: dict[str, SQLDocumentStore] = {}
    yield stores
    for store in stores.values():
        store.close()


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[URL]:
    """A throwaway, migrated PostgreSQL database for one module's tests."""
    with migrated_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def module_sqlite_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database for one module's tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp(request.module.__name__.rpartition('.')[2]) / 'gateway.db'}"
    upgrade_database(url)
    return url


def backend_store(request: pytest.FixtureRequest, stores: dict[str, SQLDocumentStore]) -> SQLDocumentStore:
    """The emptied store of the backend parametrizing ``request`` (``BACKENDS``), on the module's database.

    For a fixture parametrized with ``BACKENDS`` and given ``module_stores``.
    """
    backend = str(request.param)
    name = "module_postgres_url" if backend == "postgresql" else "module_sqlite_url"
    return emptied_store(stores, backend, lambda: request.getfixturevalue(name))


def problem_of(response: object) -> dict[str, object]:
    """The problem+json body of a response, checking the media type."""
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body: dict[str, object] = json.loads(response.content)  # type: ignore[attr-defined]
    return body
