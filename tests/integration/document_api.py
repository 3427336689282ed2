"""Fixtures for the document routes (outbound and inbound) on both databases: a migrated SQLite file and a
throwaway PostgreSQL database per session, an app per backend on the session's validation engine, a
stepping clock and sequential ids. Test modules import the fixtures they use from here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.engine import URL

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.store.tables import metadata
from gateway.validation import ValidationEngine
from tests.contract.store_databases import migrated_postgres_database

SENDER_KEY = "sender-key-0123456789abcdefghij"
SUPPORT_KEY = "support-key-0123456789abcdefghij"
ADMIN_KEY = "admin-key-0123456789abcdefghijkl"
KEYS = {"sender": SENDER_KEY, "support": SUPPORT_KEY, "admin": ADMIN_KEY}
SELLER_ID = "0208:0739484052"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def auth(role: str) -> dict[str, str]:
    """The Authorization header of a role's key."""
    return {"Authorization": f"Bearer {KEYS[role]}"}


class StepClock:
    """A clock that advances one second per reading (documents get distinct, ordered timestamps)."""

    def __init__(self, start: datetime = T0) -> None:
        self.at = start

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


class SequentialIDs:
    """UUID strings 00000000-...-000000000001, ...: deterministic document ids."""

    def __init__(self) -> None:
        self.next = 0

    def new_id(self) -> str:
        self.next += 1
        return str(uuid.UUID(int=self.next))


@dataclass
class DocumentAPI:
    """One backend's app, store and time sources, reset for each test."""

    backend: str
    client: TestClient
    store: SQLDocumentStore
    services: Services
    clock: StepClock
    ids: SequentialIDs


def problem_of(response: Any) -> dict[str, Any]:
    """The problem+json body of a response, checking the media type."""
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(response.content)
    return body


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[URL]:
    with migrated_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("documents") / "gateway.db"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    return url


@pytest.fixture(scope="session")
def _document_apis() -> Iterator[dict[str, DocumentAPI]]:
    apis: dict[str, DocumentAPI] = {}
    yield apis
    for api in apis.values():
        api.client.__exit__(None, None, None)
        api.store.close()


def build_app(settings: Settings, services: Services) -> FastAPI:
    """The application under test (not warmed: the session's engine is shared)."""
    return create_app(settings, services=services, warm=False)


@pytest.fixture(name="docs", params=BACKENDS)
def docs_fixture(
    request: pytest.FixtureRequest,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
    _document_apis: dict[str, DocumentAPI],
) -> DocumentAPI:
    """The document API on an emptied database of the backend under test (sender key by default)."""
    backend = str(request.param)
    api = _document_apis.get(backend)
    if api is None:
        url = request.getfixturevalue("_postgres_url" if backend == "postgresql" else "_sqlite_url")
        settings = Settings.model_validate(
            {
                "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
                "api": {
                    "keys": [
                        {"name": f"{role}-client", "role": role, "key": key} for role, key in KEYS.items()
                    ],
                    "max_body_bytes": 2 * 1024 * 1024,
                },
                "database": {"url": str(url) if isinstance(url, str) else url.render_as_string(False)},
                "seller_id": SELLER_ID,
                "validation": {"rule_set": "peppol-bis-billing-3.0.21"},
            }
        )
        store = SQLDocumentStore(make_engine(url))
        clock, ids = StepClock(), SequentialIDs()
        services = Services(
            settings=settings, validation=validation_engine, store=store, clock=clock, ids=ids
        )
        client = TestClient(build_app(settings, services), headers=auth("sender"))
        client.__enter__()
        api = DocumentAPI(backend, client, store, services, clock, ids)
        _document_apis[backend] = api
    with api.store.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    api.clock.at = T0
    api.ids.next = 0
    return api
