"""CertificateVerdicts: a sender's AP certificate path is verified once and remembered, but expiry,
revocation, another trust store, the bound and the lifetime still bite."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from as4_support import NOW, dev_pki
from cryptography import x509

from gateway.crypto import CertificateVerdicts, CertRejection, RevocationStatus, TrustStore, cert_verdicts
from gateway.errors import CertificateRejected


class Checker:
    """A revocation checker whose answer the test sets; it counts the questions."""

    def __init__(self) -> None:
        self.status = RevocationStatus.GOOD
        self.asked = 0

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        self.asked += 1
        return self.status


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[x509.Certificate]:
    """Every full path verification the cache makes."""
    done: list[x509.Certificate] = []
    real = cert_verdicts.validate_ap_certificate

    def counting(cert: x509.Certificate, *args: object, **kwargs: object) -> tuple[x509.Certificate, ...]:
        done.append(cert)
        return real(cert, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cert_verdicts, "validate_ap_certificate", counting)
    return done


def test_a_path_is_verified_once(verifications: list[x509.Certificate]) -> None:
    p = dev_pki()
    verdicts = CertificateVerdicts()
    first = verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW)
    again = verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW + timedelta(minutes=1))
    assert first == again
    assert first[0] == p.sender.certificate
    assert len(first) >= 2
    assert verifications == [p.sender.certificate]


def test_expiry_and_not_yet_valid_bite_on_a_remembered_path(verifications: list[x509.Certificate]) -> None:
    p = dev_pki()
    cert = p.sender.certificate
    verdicts = CertificateVerdicts(max_age=timedelta(days=10_000))
    verdicts.validate_ap_certificate(cert, p.trust, at=NOW)
    with pytest.raises(CertificateRejected) as expired:
        verdicts.validate_ap_certificate(cert, p.trust, at=cert.not_valid_after_utc + timedelta(seconds=1))
    assert expired.value.reason is CertRejection.EXPIRED
    verdicts.validate_ap_certificate(cert, p.trust, at=NOW)
    with pytest.raises(CertificateRejected) as early:
        verdicts.validate_ap_certificate(cert, p.trust, at=cert.not_valid_before_utc - timedelta(seconds=1))
    assert early.value.reason is CertRejection.NOT_YET_VALID
    # the last instant of validity is still valid, from the memory
    verdicts.validate_ap_certificate(cert, p.trust, at=NOW)
    before = len(verifications)
    verdicts.validate_ap_certificate(cert, p.trust, at=cert.not_valid_after_utc)
    assert len(verifications) == before


def test_revocation_is_asked_on_every_use() -> None:
    p = dev_pki()
    checker = Checker()
    verdicts = CertificateVerdicts()
    path = verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW, revocation=checker)
    asked = checker.asked
    assert asked == len(path) - 1
    checker.status = RevocationStatus.REVOKED
    with pytest.raises(CertificateRejected) as revoked:
        verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW, revocation=checker)
    assert revoked.value.reason is CertRejection.REVOKED
    checker.status = RevocationStatus.UNKNOWN
    with pytest.raises(CertificateRejected) as unknown:
        verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW, revocation=checker)
    assert unknown.value.reason is CertRejection.REVOCATION_UNKNOWN
    checker.status = RevocationStatus.GOOD
    verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW, revocation=checker)
    assert checker.asked == 2 * asked + 2  # asked each time (a refusal stops at the leaf)


def test_another_trust_store_is_judged_on_its_own(verifications: list[x509.Certificate]) -> None:
    p = dev_pki()
    verdicts = CertificateVerdicts()
    verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW)
    with pytest.raises(CertificateRejected) as untrusted:
        verdicts.validate_ap_certificate(p.sender.certificate, p.rogue_trust, at=NOW)
    assert untrusted.value.reason is CertRejection.UNTRUSTED


def test_rejections_are_not_remembered(verifications: list[x509.Certificate]) -> None:
    p = dev_pki()
    verdicts = CertificateVerdicts()
    for _ in range(2):
        with pytest.raises(CertificateRejected):
            verdicts.validate_ap_certificate(p.rogue.certificate, p.trust, at=NOW)
    assert len(verifications) == 2
    assert len(verdicts) == 0


def test_lifetime_and_bound(verifications: list[x509.Certificate]) -> None:
    p = dev_pki()
    verdicts = CertificateVerdicts(max_entries=1, max_age=timedelta(minutes=10))
    verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW)
    verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW + timedelta(minutes=11))
    assert len(verifications) == 2  # older than max_age: verified again
    verdicts.validate_ap_certificate(p.receiver.certificate, p.trust, at=NOW)
    assert len(verdicts) == 1
    verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW + timedelta(minutes=12))
    assert len(verifications) == 4  # pushed out by the bound: verified again
    verdicts.validate_ap_certificate(p.sender.certificate, p.trust, at=NOW + timedelta(minutes=5))
    assert len(verifications) == 5  # a clock that went back is not trusted with the memory


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        CertificateVerdicts(max_entries=0)


def test_a_trust_store_is_hashed_once_as_its_values() -> None:
    # The memory keys on the store: equal stores made apart are one key, another pinning is another.
    p = dev_pki()
    rebuilt = TrustStore(p.trust.anchors, p.trust.intermediates, p.trust.leaf_issuers)
    assert rebuilt == p.trust
    assert hash(rebuilt) == hash(p.trust) == hash((p.trust.anchors, p.trust.intermediates, ()))
    pinned = p.trust.pinned(p.pki.ap_ca.certificate)
    assert pinned != p.trust
    assert hash(pinned) == hash((p.trust.anchors, p.trust.intermediates, (p.pki.ap_ca.certificate.subject,)))
    assert dataclasses.replace(pinned, leaf_issuers=()) == p.trust
