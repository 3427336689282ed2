"""Fixtures for the API: one app per session sharing the session's validation engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine

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


def problem_of(response: object) -> dict[str, object]:
    """The problem+json body of a response, checking the media type."""
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body: dict[str, object] = json.loads(response.content)  # type: ignore[attr-defined]
    return body
