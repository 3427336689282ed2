"""Certificate life cycle: days to expiry of our AP certificate and every trust anchor on /metrics,
/readyz degraded under 30 days (503 once one expired), the daily log warning, and the start-up refusals
(expired, or an AP certificate of another stage)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.api.app import create_app
from gateway.api.certificate_watch import warn_expiring
from gateway.bootstrap import Services, build_services, check_certificates
from gateway.config import Settings
from gateway.crypto import DevPKI, TrustStore, generate_dev_pki, issue_ap
from gateway.errors import ConfigurationError
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine
from tests.discovery_support import NOW, MutableClock
from tests.integration.conftest import SENDER_KEY


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    return generate_dev_pki(now=NOW, seat_ids=("POP000001",))


@pytest.fixture(scope="module")
def settings(artefacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
            "api": {"keys": [{"name": "invoicing", "role": "sender", "key": SENDER_KEY}]},
            "truststore": {"stage": "development"},
            "server": {"open_operations": True},
        }
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLDocumentStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'api.db'}"
    upgrade_database(url)
    s = SQLDocumentStore.from_url(url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def expiring(pki: DevPKI) -> object:
    """Our AP certificate, 10 days before its end."""
    return issue_ap(pki.ap_ca, "POP000001", now=NOW, validity=timedelta(days=11), serial=77)


def _app(
    settings: Settings,
    engine: ValidationEngine,
    store: SQLDocumentStore,
    pki: DevPKI,
    identity: object,
    clock: MutableClock,
) -> TestClient:
    chain = (pki.ap_ca.certificate, pki.root.certificate)
    services = Services(
        settings=settings,
        validation=engine,
        store=store,
        clock=clock,
        identity=identity.key_material(chain),  # type: ignore[attr-defined]
        trust=TrustStore.from_certificates(chain),
    )
    return TestClient(create_app(settings, services=services, warm=False))


def _expiry_days(client: TestClient) -> dict[tuple[str, str], float]:
    text = client.get("/metrics").text
    (family,) = [
        f for f in text_string_to_metric_families(text) if f.name == "gateway_certificate_expiry_days"
    ]
    return {(s.labels["role"], s.labels["name"]): s.value for s in family.samples}


def test_an_expiring_ap_certificate_shows_in_metrics_and_degrades_readyz(
    settings: Settings,
    validation_engine: ValidationEngine,
    store: SQLDocumentStore,
    pki: DevPKI,
    expiring: object,
) -> None:
    clock = MutableClock()
    with _app(settings, validation_engine, store, pki, expiring, clock) as client:
        days = _expiry_days(client)
        assert 9.9 < days[("ap", "POP000001")] < 10.1
        assert {role for role, _ in days} == {"ap", "ap-trust"}
        assert min(v for (role, _), v in days.items() if role == "ap-trust") > 365
        assert len(days) == 3  # our certificate, the AP CA and the root: bounded labels
        ready = client.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "degraded"
        (certificate,) = body["certificates"]
        assert certificate["role"] == "ap"
        assert certificate["name"] == "POP000001"
        assert certificate["state"] == "expiring"
        assert certificate["serial"] == "4d"
        clock.advance(timedelta(days=11))  # it expires while the gateway runs
        expired = client.get("/readyz")
        assert expired.status_code == 503
        assert expired.json()["status"] == "certificate-expired"
        assert _expiry_days(client)[("ap", "POP000001")] < 0


def test_a_healthy_set_is_ready(
    settings: Settings, validation_engine: ValidationEngine, store: SQLDocumentStore, pki: DevPKI
) -> None:
    with _app(settings, validation_engine, store, pki, pki.aps["POP000001"], MutableClock()) as client:
        body = client.get("/readyz").json()
    assert body == {"status": "ready", "validation": True, "certificates": []}


def test_the_daily_warning_names_each_expiring_certificate(
    pki: DevPKI, expiring: object, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.crypto.lifecycle import watched_certificates

    watched = watched_certificates(expiring.certificate, TrustStore.from_certificates([pki.root.certificate]))  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="gateway.certificates"):
        (due,) = warn_expiring(watched, MutableClock())
    assert due.name == "POP000001"
    assert "certificate ap 'POP000001' (serial 4d) expires on" in caplog.text
    assert "10.0 days left" in caplog.text


def _write(tmp_path: Path, pki: DevPKI, identity: object) -> dict[str, object]:
    (tmp_path / "ap.key.pem").write_bytes(identity.key_pem)  # type: ignore[attr-defined]
    (tmp_path / "ap.cert.pem").write_bytes(identity.cert_pem)  # type: ignore[attr-defined]
    (tmp_path / "chain.pem").write_bytes(pki.ap_ca.cert_pem + pki.root.cert_pem)
    return {
        "keystore": {"path": tmp_path / "ap.key.pem", "cert_path": tmp_path / "ap.cert.pem"},
        "truststore": {"paths": [tmp_path / "chain.pem"], "stage": "development"},
        "database": {"url": f"sqlite:///{tmp_path / 'g.db'}"},
    }


def test_start_up_refuses_an_expired_ap_certificate(tmp_path: Path, pki: DevPKI) -> None:
    old = issue_ap(
        pki.ap_ca, "POP000001", now=NOW, not_before=NOW - timedelta(days=40), validity=timedelta(days=30)
    )
    with pytest.raises(ConfigurationError, match="the ap certificate 'POP000001' expired on"):
        build_services(Settings.model_validate(_write(tmp_path, pki, old)))


def test_start_up_refuses_an_ap_certificate_of_another_stage(tmp_path: Path, pki: DevPKI) -> None:
    other = generate_dev_pki(now=NOW, seat_ids=("POP000009",))  # stands for the other stage's hierarchy
    values = _write(tmp_path, pki, other.aps["POP000009"])
    settings = Settings.model_validate(
        {**values, "truststore": {"paths": [tmp_path / "chain.pem"], "stage": "test"}}
    )
    from gateway.bootstrap import load_identity, load_trust

    with pytest.raises(ConfigurationError, match="not an AP certificate of the test stage"):
        check_certificates(settings, load_identity(settings), load_trust(settings), at=NOW)
    # Its own hierarchy is fine.
    check_certificates(
        settings,
        load_identity(settings),
        TrustStore.from_certificates([other.ap_ca.certificate, other.root.certificate]),
        at=NOW,
    )
