"""OCSP revocation over real HTTP: a development OCSP responder on loopback, signed by the dev PKI's AP CA.
good / revoked / unknown / unreachable, the cache, forged answers, and CRL-then-OCSP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from gateway.bootstrap import build_revocation
from gateway.config import Settings
from gateway.crypto import (
    CertRejection,
    CRLRevocationChecker,
    DevIdentity,
    DevPKI,
    RevocationStatus,
    TrustStore,
    generate_dev_pki,
    validate_ap_certificate,
)
from gateway.crypto.ocsp import CRLThenOCSP, OCSPRevocationChecker, ocsp_urls
from gateway.devnet.ocsp import DevOCSPResponder
from gateway.errors import CertificateRejected
from gateway.transport.ocsp_http import HTTPOCSPPoster

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)  # run time may come long after import


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    return generate_dev_pki(now=NOW, seat_ids=())


def _issue(issuer: DevIdentity, cn: str, ocsp_url: str, *, serial: int, ca: bool = False) -> DevIdentity:
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.COUNTRY_NAME, "BE")]
    )
    aia = x509.AuthorityInformationAccess(
        [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=300))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(aia, critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, True, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=True)
    return DevIdentity(cn, key, builder.sign(issuer.key, hashes.SHA256()))


@pytest.fixture(scope="module")
def root_responder(pki: DevPKI) -> Iterator[DevOCSPResponder]:
    """Answers for the intermediate CA (issued by the root)."""
    with DevOCSPResponder(pki.root) as r:
        r.now = NOW
        yield r


@pytest.fixture(scope="module")
def ca(pki: DevPKI, root_responder: DevOCSPResponder) -> DevIdentity:
    """A Peppol-like AP CA whose certificate names the root's OCSP responder."""
    identity = _issue(pki.root, "Dev OCSP ACCESS POINT CA", root_responder.url, serial=900, ca=True)
    root_responder.certificates[identity.certificate.serial_number] = identity.certificate
    return identity


@pytest.fixture
def responder(ca: DevIdentity) -> Iterator[DevOCSPResponder]:
    with DevOCSPResponder(ca) as r:
        r.now = NOW  # the tests check at NOW: a long run must not leave the answers "from the future"
        yield r


@pytest.fixture
def leaf(ca: DevIdentity, responder: DevOCSPResponder) -> x509.Certificate:
    certificate = _issue(ca, "POP000042", responder.url, serial=901).certificate
    responder.certificates[certificate.serial_number] = certificate
    return certificate


def _check(ca: DevIdentity, leaf: x509.Certificate, **kw: object) -> RevocationStatus:
    checker = OCSPRevocationChecker(HTTPOCSPPoster(timeout=2.0), **kw)  # type: ignore[arg-type]
    return checker.check(leaf, ca.certificate, NOW)


def _trust(pki: DevPKI, ca: DevIdentity) -> TrustStore:
    return TrustStore.from_certificates([pki.root.certificate, ca.certificate])


def test_the_responder_url_comes_from_the_certificate(
    leaf: x509.Certificate, responder: DevOCSPResponder
) -> None:
    assert ocsp_urls(leaf) == (responder.url,)


def test_good_passes_validation(ca: DevIdentity, pki: DevPKI, leaf: x509.Certificate) -> None:
    checker = OCSPRevocationChecker(HTTPOCSPPoster(timeout=2.0))
    validate_ap_certificate(leaf, _trust(pki, ca), at=NOW, revocation=checker)
    assert checker.check(leaf, ca.certificate, NOW) is RevocationStatus.GOOD


def test_revoked_is_rejected(
    ca: DevIdentity, pki: DevPKI, leaf: x509.Certificate, responder: DevOCSPResponder
) -> None:
    responder.statuses[leaf.serial_number] = "revoked"
    assert _check(ca, leaf) is RevocationStatus.REVOKED
    with pytest.raises(CertificateRejected) as exc:
        validate_ap_certificate(
            leaf, _trust(pki, ca), at=NOW, revocation=OCSPRevocationChecker(HTTPOCSPPoster())
        )
    assert exc.value.reason is CertRejection.REVOKED


def test_unknown_fails_hard_unless_opted_in(
    ca: DevIdentity, pki: DevPKI, leaf: x509.Certificate, responder: DevOCSPResponder
) -> None:
    responder.statuses[leaf.serial_number] = "unknown"
    assert _check(ca, leaf) is RevocationStatus.UNKNOWN
    with pytest.raises(CertificateRejected) as exc:
        validate_ap_certificate(
            leaf, _trust(pki, ca), at=NOW, revocation=OCSPRevocationChecker(HTTPOCSPPoster())
        )
    assert exc.value.reason is CertRejection.REVOCATION_UNKNOWN
    assert _check(ca, leaf, soft_fail_unknown=True) is RevocationStatus.GOOD
    # The unknown opt-in does not cover an unreachable responder.
    responder.fail_status = 500
    assert _check(ca, leaf, soft_fail_unknown=True) is RevocationStatus.UNKNOWN


@pytest.mark.parametrize("how", ["http-500", "stopped", "unauthorized"])
def test_an_unreachable_or_refusing_responder_fails_hard(
    ca: DevIdentity, pki: DevPKI, leaf: x509.Certificate, responder: DevOCSPResponder, how: str
) -> None:
    if how == "http-500":
        responder.fail_status = 500
    elif how == "stopped":
        responder.stop()
    else:
        responder.unauthorized = True
    assert _check(ca, leaf) is RevocationStatus.UNKNOWN
    assert _check(ca, leaf, soft_fail=True) is RevocationStatus.GOOD


def test_answers_are_cached_and_failures_not_retried_at_once(
    ca: DevIdentity, pki: DevPKI, leaf: x509.Certificate, responder: DevOCSPResponder
) -> None:
    checker = OCSPRevocationChecker(HTTPOCSPPoster(timeout=2.0))
    for _ in range(3):
        assert checker.check(leaf, ca.certificate, NOW) is RevocationStatus.GOOD
    assert responder.requests == 1
    later = NOW + timedelta(hours=2)  # past nextUpdate (1 h): asked again
    responder.now = later
    assert checker.check(leaf, ca.certificate, later) is RevocationStatus.GOOD
    assert responder.requests == 2
    responder.fail_status = 503
    even_later = later + timedelta(hours=2)
    assert checker.check(leaf, ca.certificate, even_later) is RevocationStatus.UNKNOWN
    assert checker.check(leaf, ca.certificate, even_later + timedelta(minutes=1)) is RevocationStatus.UNKNOWN
    assert responder.requests == 3  # the failed responder is left alone for a while


def test_an_answer_signed_by_another_ca_is_not_used(
    ca: DevIdentity, pki: DevPKI, leaf: x509.Certificate
) -> None:
    rogue = generate_dev_pki(now=NOW, seat_ids=())
    with DevOCSPResponder(rogue.ap_ca) as forger:
        forger.now = NOW
        pointing_at_forger = _issue(ca, "POP000043", forger.url, serial=902).certificate
        forger.certificates[pointing_at_forger.serial_number] = pointing_at_forger
        assert _check(ca, pointing_at_forger) is RevocationStatus.UNKNOWN
        assert forger.requests == 1


def test_crl_first_then_ocsp(
    ca: DevIdentity, pki: DevPKI, leaf: x509.Certificate, responder: DevOCSPResponder
) -> None:
    # The leaf has no CRL distribution point: the CRL checker cannot say, OCSP decides.
    combined = CRLThenOCSP(CRLRevocationChecker(lambda url: b""), OCSPRevocationChecker(HTTPOCSPPoster()))
    assert combined.check(leaf, ca.certificate, NOW) is RevocationStatus.GOOD
    responder.statuses[leaf.serial_number] = "revoked"
    fresh = CRLThenOCSP(CRLRevocationChecker(lambda url: b""), OCSPRevocationChecker(HTTPOCSPPoster()))
    assert fresh.check(leaf, ca.certificate, NOW) is RevocationStatus.REVOKED


def test_settings_choose_the_checker() -> None:
    def build(**truststore: object) -> object:
        return build_revocation(Settings.model_validate({"truststore": truststore}))

    assert build() is None
    assert isinstance(build(revocation="crl"), CRLRevocationChecker)
    ocsp = build(revocation="ocsp", ocsp_unknown_soft_fail=True)
    assert isinstance(ocsp, OCSPRevocationChecker)
    assert ocsp._soft_fail_unknown is True
    assert ocsp._soft_fail is False
    assert isinstance(build(revocation="crl+ocsp"), CRLThenOCSP)
