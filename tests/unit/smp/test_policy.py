"""The SMP trust of each stage, from the real Peppol G3 trust bundles."""

from __future__ import annotations

import pytest
from cryptography import x509

from gateway.crypto import load_certificates
from gateway.smp import smp_trust_for_stage
from tests.conftest import ARTEFACTS

PKI = ARTEFACTS / "peppol-pki"


def _bundle(name: str) -> list[x509.Certificate]:
    return list(load_certificates((PKI / name).read_bytes()))


def test_production_bundle_pins_the_smp_ca_g3() -> None:
    trust = smp_trust_for_stage(_bundle("ap-prod-truststore-g3.pem"), "production")
    assert [n.rfc4514_string() for n in trust.leaf_issuers] == [
        "CN=PEPPOL SERVICE METADATA PUBLISHER CA - G3,O=OpenPEPPOL AISBL,C=BE"
    ]


def test_test_bundle_refused_in_production_and_accepted_in_test() -> None:
    with pytest.raises(ValueError, match="TEST"):
        smp_trust_for_stage(_bundle("ap-test-truststore-g3.pem"), "production")
    trust = smp_trust_for_stage(_bundle("ap-test-truststore-g3.pem"), "test")
    assert "TEST" in trust.leaf_issuers[0].rfc4514_string()


def test_bundle_without_smp_ca_refused() -> None:
    roots_only = [
        c for c in _bundle("ap-prod-truststore-g3.pem") if "SERVICE" not in c.subject.rfc4514_string()
    ]
    with pytest.raises(ValueError, match="SERVICE METADATA PUBLISHER"):
        smp_trust_for_stage(roots_only, "test")
