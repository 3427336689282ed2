"""``GET /v1/participants/{id}?document=``: every discovery outcome class through the API route, over real
DNS (the development SML on loopback) and real HTTP (the development SMP), plus the directory mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.crypto import DevPKI, TrustStore, generate_dev_pki, issue_ap
from gateway.devnet import DevEndpoint, DevNetwork, DevService
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_INVOICE, INVOICE_RESPONSE, ParticipantID
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.transport.directory import parse_directory
from gateway.validation import ValidationEngine
from tests.discovery_support import (
    NOW,
    RECEIVER,
    MutableClock,
    credit_note_service,
    invoice_service,
    resolver_for,
)
from tests.integration.conftest import SENDER_KEY, SUPPORT_KEY, problem_of

ADMIN_KEY = "admin-key-0123456789abcdefghijkl"
STRANGER = ParticipantID.parse("0208:0000000097")


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    return generate_dev_pki(now=NOW, seat_ids=("POP000001",))


@pytest.fixture
def network(pki: DevPKI) -> Iterator[DevNetwork]:
    with DevNetwork(pki) as net:
        net.publish(RECEIVER, [invoice_service(pki)])
        yield net


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture(scope="module")
def settings(artefacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    keys = [
        {"name": "invoicing", "role": "sender", "key": SENDER_KEY},
        {"name": "helpdesk", "role": "support", "key": SUPPORT_KEY},
        {"name": "ops", "role": "admin", "key": ADMIN_KEY},
    ]
    return Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
            "api": {"keys": keys},
            "truststore": {"stage": "development"},
        }
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLDocumentStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'api.db'}"
    upgrade_database(url)
    s = SQLDocumentStore.from_url(url)
    yield s
    s.close()


def _client(settings: Settings, services: Services) -> TestClient:
    return TestClient(
        create_app(settings, services=services, warm=False), headers={"Authorization": f"Bearer {SENDER_KEY}"}
    )


@pytest.fixture
def api(
    settings: Settings,
    validation_engine: ValidationEngine,
    store: SQLDocumentStore,
    network: DevNetwork,
    clock: MutableClock,
) -> Iterator[TestClient]:
    resolver = resolver_for(network, clock)
    services = Services(
        settings=settings,
        validation=validation_engine,
        store=store,
        clock=clock,
        directory=resolver,
        lookup=resolver,
    )
    with _client(settings, services) as client:
        yield client


def _ask(
    api: TestClient, participant: object = RECEIVER, document: str = "invoice", **kw: Any
) -> dict[str, Any]:
    response = api.get(f"/v1/participants/{participant}", params={"document": document}, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_found_names_the_access_point_and_a_repeat_is_cached(api: TestClient, network: DevNetwork) -> None:
    first = _ask(api)
    assert first["can_receive"] is True
    assert first["outcome"] == "found"
    assert first["cached"] is False
    assert first["retryable"] is False
    assert first["smp_url"] == network.smp.url
    assert first["access_point"]["endpoint_url"] == "https://ap.example/as4"
    assert first["access_point"]["seat_id"] == "POP000001"
    assert first["access_point"]["transport_profile"] == "peppol-transport-as4-v2_0"
    requests = network.smp.requests
    second = _ask(api)
    assert second["cached"] is True
    assert network.smp.requests == requests  # no network for a cached answer
    assert second["access_point"] == first["access_point"]


def _expired_certificate_service(pki: DevPKI) -> DevService:
    old = issue_ap(
        pki.ap_ca, "POP000007", now=NOW, not_before=NOW - timedelta(days=400), validity=timedelta(days=30)
    )
    return DevService(
        BIS_INVOICE, ((BIS_BILLING_PROCESS, (DevEndpoint("https://ap.example/as4", old.certificate),)),)
    )


def _invoice_response_in_the_billing_process(pki: DevPKI) -> DevService:
    endpoint = DevEndpoint("https://ap.example/as4", pki.aps["POP000001"].certificate)
    return DevService(INVOICE_RESPONSE, ((BIS_BILLING_PROCESS, (endpoint,)),))


CASES: dict[str, tuple[str, Any, str, bool]] = {
    # outcome: (document asked, how to break the network, words in the reason, retryable)
    "not-registered": ("invoice", lambda n, p: n.sml.unregister(RECEIVER), "not registered", False),
    "document-type-not-supported": ("credit-note", lambda n, p: None, "does not accept this document", False),
    "process-not-supported": (
        "invoice-response",
        lambda n, p: n.publish(RECEIVER, [invoice_service(p), _invoice_response_in_the_billing_process(p)]),
        "not in this business process",
        False,
    ),
    "no-as4-endpoint": (
        "invoice",
        lambda n, p: n.publish(
            RECEIVER, [invoice_service(p, transport_profile="busdox-transport-as2-ver1p0")]
        ),
        "no AS4 endpoint",
        False,
    ),
    "endpoint-not-active": (
        "invoice",
        lambda n, p: n.publish(RECEIVER, [invoice_service(p, activation=NOW + timedelta(days=1))]),
        "not active",
        False,
    ),
    "bad-smp-signature": (
        "invoice",
        lambda n, p: n.smp.tampered.add(RECEIVER),
        "not signed by a trusted",
        False,
    ),
    "bad-smp-response": ("invoice", lambda n, p: setattr(n.smp, "fail_status", 302), "cannot be used", False),
    "endpoint-certificate-rejected": (
        "invoice",
        lambda n, p: n.publish(RECEIVER, [_expired_certificate_service(p)]),
        "certificate is not valid",
        False,
    ),
    "sml-unreachable": ("invoice", lambda n, p: setattr(n.sml, "servfail", True), "SML (DNS)", True),
    "smp-unreachable": (
        "invoice",
        lambda n, p: setattr(n.smp, "fail_status", 500),
        "SMP could not be reached",
        True,
    ),
}


@pytest.mark.parametrize("outcome", list(CASES))
def test_every_outcome_class_is_answered_with_its_reason(
    api: TestClient, network: DevNetwork, pki: DevPKI, outcome: str
) -> None:
    document, break_it, words, retryable = CASES[outcome]
    network.smp.location = network.smp.url + "/elsewhere"
    break_it(network, pki)
    answer = _ask(api, document=document)
    assert answer["outcome"] == outcome, answer["detail"]
    assert answer["can_receive"] is False
    assert words in answer["reason"]
    assert answer["detail"]
    assert answer["retryable"] is retryable
    assert answer["access_point"] is None
    assert answer["document"] == document


def test_credit_notes_only_participant(api: TestClient, network: DevNetwork, pki: DevPKI) -> None:
    network.publish(RECEIVER, [credit_note_service(pki)])
    assert _ask(api, document="credit-note")["can_receive"] is True
    assert _ask(api, document="invoice")["outcome"] == "document-type-not-supported"


def test_roles_and_bad_input(api: TestClient) -> None:
    for key in (SUPPORT_KEY, ADMIN_KEY):
        assert _ask(api, headers={"Authorization": f"Bearer {key}"})["can_receive"] is True
    assert api.get(f"/v1/participants/{RECEIVER}", headers={"Authorization": ""}).status_code == 401
    bad_id = api.get("/v1/participants/not-an-id")
    assert bad_id.status_code == 422
    assert problem_of(bad_id)["type"] == "/problems/invalid-identifier"
    bad_document = api.get(f"/v1/participants/{RECEIVER}", params={"document": "order"})
    assert bad_document.status_code == 422
    assert problem_of(bad_document)["type"] == "/problems/request-invalid"


def test_the_directory_mode_answers_too(
    settings: Settings,
    validation_engine: ValidationEngine,
    store: SQLDocumentStore,
    pki: DevPKI,
    clock: MutableClock,
) -> None:
    directory = parse_directory(
        {
            str(RECEIVER): [
                {
                    "document_types": [BIS_INVOICE.uri],
                    "process": BIS_BILLING_PROCESS.uri,
                    "url": "https://ap.example/as4",
                    "certificate": pki.aps["POP000001"].cert_pem.decode(),
                }
            ]
        },
        base_dir=Path("."),
    )
    trust = TrustStore.from_certificates([pki.root.certificate, pki.ap_ca.certificate])
    services = Services(
        settings=settings,
        validation=validation_engine,
        store=store,
        clock=clock,
        directory=directory,
        trust=trust,
    )
    with _client(settings, services) as api:
        assert _ask(api)["access_point"]["seat_id"] == "POP000001"
        assert _ask(api, STRANGER)["outcome"] == "not-registered"
        assert _ask(api, document="credit-note")["outcome"] == "document-type-not-supported"
    clock.advance(timedelta(days=800))  # the listed certificate has expired by then
    with _client(settings, services) as api:
        expired = _ask(api)
    assert expired["outcome"] == "endpoint-certificate-rejected"
    assert "expired" in expired["detail"]


def test_no_discovery_configured_is_a_503_problem(
    settings: Settings, validation_engine: ValidationEngine, store: SQLDocumentStore
) -> None:
    services = Services(settings=settings, validation=validation_engine, store=store)
    with _client(settings, services) as api:
        response = api.get(f"/v1/participants/{RECEIVER}")
    assert response.status_code == 503
    assert problem_of(response)["status"] == 503


def test_the_route_is_in_the_openapi_description(api: TestClient) -> None:
    spec = api.get("/openapi.json", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
    operation = spec["paths"]["/v1/participants/{participant}"]["get"]
    assert {"200", "401", "403", "422", "503"} <= set(operation["responses"])
    document = next(p for p in operation["parameters"] if p["name"] == "document")
    assert document["schema"]["enum"] == ["invoice", "credit-note", "invoice-response"]
