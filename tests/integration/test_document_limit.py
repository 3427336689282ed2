"""GATEWAY_VALIDATION__MAX_DOCUMENT_BYTES bounds every API route that takes a document: 413 problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine
from tests.integration.conftest import SENDER_KEY, problem_of

ROOT = Path(__file__).resolve().parents[2]
JSON_DOCUMENT = (ROOT / "tests" / "data" / "documents" / "be-domestic-mixed-rates.json").read_bytes()
UBL_DOCUMENT = (ROOT.parent / "shared" / "interop" / "samples" / "invoice.xml").read_bytes()
LIMIT = 1000


@pytest.fixture(scope="module")
def client(
    artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
            "api": {"keys": [{"name": "invoicing", "role": "sender", "key": SENDER_KEY}]},
            "validation": {"max_document_bytes": LIMIT},
        }
    )
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'limit.db'}"
    upgrade_database(url)
    services = Services(settings=settings, validation=validation_engine, store=SQLDocumentStore.from_url(url))
    with TestClient(
        create_app(settings, services=services, warm=False), headers={"Authorization": f"Bearer {SENDER_KEY}"}
    ) as test_client:
        yield test_client
    services.close()


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/v1/validate", UBL_DOCUMENT, "application/xml"),
        ("/v1/convert", JSON_DOCUMENT, "application/json"),
        ("/v1/outbound/invoices", JSON_DOCUMENT, "application/json"),
        ("/v1/outbound/ubl", UBL_DOCUMENT, "application/xml"),
    ],
)
def test_a_document_above_the_limit_gets_413_problem_json(
    client: TestClient, path: str, body: bytes, content_type: str
) -> None:
    assert len(body) > LIMIT
    response = client.post(path, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 413, response.text
    assert f"{LIMIT}-byte document limit" in str(problem_of(response))
