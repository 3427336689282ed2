"""The composition root: settings become the right objects (no I/O beyond reading files)."""

from __future__ import annotations

import pytest

from gateway.bootstrap import build_revocation, load_trust
from gateway.config import Settings
from gateway.crypto import CRLRevocationChecker, generate_dev_pki
from gateway.errors import ConfigurationError


def test_revocation_is_off_by_default_and_a_hard_crl_check_when_asked() -> None:
    assert build_revocation(Settings()) is None
    hard = build_revocation(Settings.model_validate({"truststore": {"revocation": "crl"}}))
    soft = build_revocation(Settings.model_validate({"truststore": {"revocation": "crl-soft"}}))
    assert isinstance(hard, CRLRevocationChecker)
    assert isinstance(soft, CRLRevocationChecker)
    assert hard._soft_fail is False
    assert soft._soft_fail is True


def test_a_production_trust_store_is_pinned_to_the_access_point_ca(artefacts_dir: object) -> None:
    from pathlib import Path

    pem = Path(str(artefacts_dir)) / "peppol-pki" / "ap-prod-truststore-g3.pem"
    trust = load_trust(Settings.model_validate({"truststore": {"paths": [pem], "stage": "production"}}))
    assert trust is not None
    assert [n.rfc4514_string() for n in trust.leaf_issuers] == [
        "CN=PEPPOL ACCESS POINT CA - G3,O=OpenPEPPOL AISBL,C=BE"
    ]


def test_a_trust_store_without_an_access_point_ca_is_refused_outside_development(tmp_path: object) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=("POP000001",))
    root = Path(str(tmp_path)) / "root.pem"
    root.write_bytes(pki.root.cert_pem)  # a root alone: no CA named "ACCESS POINT"
    with pytest.raises(ConfigurationError, match="ACCESS POINT"):
        load_trust(Settings.model_validate({"truststore": {"paths": [root], "stage": "test"}}))
    assert load_trust(Settings.model_validate({"truststore": {"paths": [root], "stage": "development"}}))
