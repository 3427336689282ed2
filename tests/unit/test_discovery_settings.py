"""GATEWAY_DISCOVERY__*: the two modes, the start-up checks of the production stage, and the resolver the
composition root builds for each mode."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.bootstrap import Services, build_smp_resolver, load_trust
from gateway.config import Settings
from gateway.crypto import generate_dev_pki
from gateway.errors import ConfigurationError
from gateway.services.smp_resolver import SMPResolver


def _settings(discovery: dict[str, object], stage: str = "development", **extra: object) -> Settings:
    return Settings.model_validate({"discovery": discovery, "truststore": {"stage": stage}, **extra})


def test_directory_is_the_default_mode() -> None:
    assert Settings().discovery.mode == "directory"
    assert Settings().discovery.allow_sha1 is False


def test_sml_mode_needs_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        _settings({"mode": "sml"})
    with pytest.raises(ValidationError, match="exactly one"):
        _settings({"mode": "sml", "sml_zone": "test", "smp_url": "https://smp.example"})
    assert _settings({"mode": "sml", "sml_zone": "test"}).discovery.sml_zone == "test"


@pytest.mark.parametrize("zone", ["test", "TEST", "participant.sml.test.tech.peppol.org"])
def test_production_refuses_the_test_sml_zone(zone: str) -> None:
    with pytest.raises(ValidationError, match="test SML zone"):
        _settings({"mode": "sml", "sml_zone": zone}, stage="production")
    assert _settings({"mode": "sml", "sml_zone": zone}, stage="test").discovery.sml_zone == zone
    assert _settings({"mode": "sml", "sml_zone": "production"}, stage="production")


def test_production_refuses_a_plain_http_smp_url() -> None:
    with pytest.raises(ValidationError, match="https only"):
        _settings({"mode": "sml", "smp_url": "http://smp.example.be"}, stage="production")
    assert _settings({"mode": "sml", "smp_url": "https://smp.example.be"}, stage="production")


def test_negative_ttl_must_not_exceed_the_positive_one() -> None:
    with pytest.raises(ValidationError, match="negative_cache_ttl"):
        _settings({"cache_ttl_seconds": 60, "negative_cache_ttl_seconds": 120})


def _dev_files(tmp_path: Path) -> tuple[Path, Path]:
    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=("POP000001",))
    pki.write(tmp_path)
    return tmp_path / "chain.pem", tmp_path / "smp-trust.pem"


def test_the_sml_mode_builds_an_smp_resolver(tmp_path: Path) -> None:
    ap_trust, smp_trust = _dev_files(tmp_path)
    settings = _settings(
        {
            "mode": "sml",
            "sml_zone": "sml.devnet.test",
            "smp_trust_paths": [smp_trust],
            "dns_servers": ["127.0.0.1:5353"],
        },
        truststore={"paths": [ap_trust], "stage": "development"},
    )
    resolver = build_smp_resolver(settings, load_trust(settings), None, clock=_Clock())
    assert isinstance(resolver, SMPResolver)
    # The SMP trust is watched for expiry with the AP certificate and the AP trust.
    services = Services(
        settings=settings,
        validation=None,  # type: ignore[arg-type]
        store=None,  # type: ignore[arg-type]
        trust=load_trust(settings),
        directory=resolver,
        lookup=resolver,
    )
    roles = sorted({w.role.value for w in services.certificates})
    assert roles == ["ap-trust", "smp-trust"]
    smp_names = [w.name for w in services.certificates if w.role.value == "smp-trust"]
    assert any("Service Metadata Publisher" in n for n in smp_names)


def test_the_sml_mode_needs_an_smp_ca(tmp_path: Path) -> None:
    ap_trust, _ = _dev_files(tmp_path)
    settings = _settings(
        {"mode": "sml", "smp_url": "http://127.0.0.1:1"},
        truststore={"paths": [ap_trust], "stage": "development"},
    )
    with pytest.raises(ConfigurationError, match="SERVICE METADATA PUBLISHER"):
        build_smp_resolver(settings, load_trust(settings), None, clock=_Clock())
    with pytest.raises(ConfigurationError, match="AP trust store"):
        build_smp_resolver(settings, None, None, clock=_Clock())


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def test_the_production_resolver_refuses_an_smp_host_resolving_to_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SMP reads of the production stage connect to public addresses only (or allowed networks):
    # "localhost" passes the URL checks of a configured SMP URL and resolves to loopback.
    import asyncio

    import gateway.bootstrap.discovery as discovery_module
    from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
    from gateway.smp import LookupOutcome

    ap_trust, smp_trust = _dev_files(tmp_path)
    development = _settings({}, truststore={"paths": [ap_trust], "stage": "development"})
    real = discovery_module.smp_trust_for_stage
    monkeypatch.setattr(
        discovery_module, "smp_trust_for_stage", lambda certs, stage: real(certs, "development")
    )
    settings = _settings(
        {"mode": "sml", "smp_url": "https://localhost:1/smp", "smp_trust_paths": [smp_trust]},
        truststore={"paths": [ap_trust], "stage": "production"},
    )
    resolver = build_smp_resolver(settings, load_trust(development), None, clock=_Clock())
    receiver = ParticipantID.parse("0208:0739484052")
    result = asyncio.run(resolver.lookup(receiver, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.BAD_SMP_RESPONSE, result.detail
    assert "localhost resolves to" in result.detail
