"""POST /as4 remembers a sender's certificate path that validated, but a revocation seen by the checker
after that still refuses the sender's next message (EBMS:0101), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from fastapi.testclient import TestClient

from gateway.crypto import RevocationStatus
from gateway.store import SQLDocumentStore
from gateway.validation import ValidationEngine
from tests.contract.store_databases import BACKENDS
from tests.integration.conftest import backend_store
from tests.integration.test_as4_endpoint import (
    FlakyStore,
    error_of,
    inbound_documents,
    make_app,
    make_message,
    settings_for,
)


class Switchable:
    """A revocation checker that answers what the test sets."""

    def __init__(self) -> None:
        self.status = RevocationStatus.GOOD

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        return self.status


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, module_stores: dict[str, SQLDocumentStore]) -> FlakyStore:
    return FlakyStore(backend_store(request, module_stores))


def test_a_revocation_after_an_accepted_message_refuses_the_next(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    checker = Switchable()
    settings = settings_for(artefacts_dir, tmp_path_factory.mktemp("cache"))
    with TestClient(make_app(settings, store, validation_engine, revocation=checker)) as client:
        first = make_message()
        accepted = client.post("/as4", content=first.body, headers=dict(first.headers))
        checker.status = RevocationStatus.REVOKED
        second = make_message()
        refused = client.post("/as4", content=second.body, headers=dict(second.headers))
    assert accepted.status_code == refused.status_code == 200
    assert b"Receipt" in accepted.content
    _, errors = error_of(refused.content)
    assert [code for code, _ in errors] == ["EBMS:0101"]
    assert [d.as4_message_id for d in inbound_documents(store)] == [first.message_id]
