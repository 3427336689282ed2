"""CRL revocation checker (sans-IO): CRLs made by a development CA, fetched through an injected callable."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from as4_support import NOW
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.crypto import (
    CertRejection,
    CRLRevocationChecker,
    DevIdentity,
    RevocationStatus,
    TrustStore,
    crl_urls,
    validate_ap_certificate,
)
from gateway.errors import CertificateRejected

ROOT_CRL = "http://crl.test/root.crl"
CA_CRL = "http://crl.test/apca.crl"


def _cert(
    cn: str, key: rsa.RSAPrivateKey, issuer: DevIdentity | None, *, ca: bool, serial: int, crl: str | None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, True, False, False, False, False, False), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=True)
    if crl:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


_KEYS = [rsa.generate_private_key(65537, 2048) for _ in range(4)]
ROOT = DevIdentity("root", _KEYS[0], _cert("Root", _KEYS[0], None, ca=True, serial=1, crl=None))
APCA = DevIdentity("apca", _KEYS[1], _cert("AP CA", _KEYS[1], ROOT, ca=True, serial=2, crl=ROOT_CRL))
LEAF = _cert("POP000001", _KEYS[2], APCA, ca=False, serial=100, crl=CA_CRL)
TRUST = TrustStore.from_certificates([ROOT.certificate, APCA.certificate])


def _crl(
    ca: DevIdentity,
    revoked: dict[int, datetime] | None = None,
    *,
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime | None = NOW + timedelta(days=1),
    signer: rsa.RSAPrivateKey | None = None,
    pem: bool = False,
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject).last_update(this_update)
    )
    builder = builder.next_update(next_update or this_update + timedelta(days=1))
    for serial, when in (revoked or {}).items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    crl = builder.sign(signer or ca.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM if pem else serialization.Encoding.DER)


class Fetcher:
    """The injected ``fetch_crl``: serves prepared bytes per URL and records every call."""

    def __init__(self, answers: dict[str, bytes | Exception]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        answer = self.answers.get(url, OSError("unreachable"))
        if isinstance(answer, Exception):
            raise answer
        return answer


def _fetcher(**overrides: bytes | Exception) -> Fetcher:
    answers: dict[str, bytes | Exception] = {ROOT_CRL: _crl(ROOT), CA_CRL: _crl(APCA)}
    answers.update({ROOT_CRL if k == "root" else CA_CRL: v for k, v in overrides.items()})
    return Fetcher(answers)


def test_distribution_points_are_read() -> None:
    assert crl_urls(LEAF) == (CA_CRL,)
    assert crl_urls(ROOT.certificate) == ()


def test_good_path_is_validated_and_crls_are_cached() -> None:
    fetch = _fetcher()
    checker = CRLRevocationChecker(fetch)
    for _ in range(3):
        path = validate_ap_certificate(LEAF, TRUST, at=NOW, revocation=checker)
    assert len(path) == 3
    assert sorted(fetch.calls) == [CA_CRL, ROOT_CRL]  # fetched once each, then served from the cache


@pytest.mark.parametrize("pem", [False, True])
def test_revoked_leaf_is_rejected(pem: bool) -> None:
    fetch = _fetcher(apca=_crl(APCA, {100: NOW - timedelta(minutes=5)}, pem=pem))
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(LEAF, TRUST, at=NOW, revocation=CRLRevocationChecker(fetch))
    assert info.value.reason is CertRejection.REVOKED


def test_revoked_ap_ca_is_rejected() -> None:
    fetch = _fetcher(root=_crl(ROOT, {2: NOW - timedelta(days=1)}))
    assert (
        CRLRevocationChecker(fetch).check(APCA.certificate, ROOT.certificate, NOW) is RevocationStatus.REVOKED
    )


def test_revocation_after_the_verification_time_does_not_count() -> None:
    fetch = _fetcher(apca=_crl(APCA, {100: NOW + timedelta(minutes=5)}, this_update=NOW - timedelta(hours=1)))
    assert CRLRevocationChecker(fetch).check(LEAF, APCA.certificate, NOW) is RevocationStatus.GOOD


@pytest.mark.parametrize(
    "answer",
    [
        OSError("connection refused"),
        b"not a crl",
        _crl(APCA, signer=_KEYS[3]),  # right issuer name, wrong key
        _crl(ROOT),  # a valid CRL of another CA
        _crl(APCA, this_update=NOW - timedelta(days=3), next_update=NOW - timedelta(days=1)),  # stale
        _crl(APCA, this_update=NOW + timedelta(hours=1)),  # not yet issued at `at`
    ],
    ids=["unreachable", "garbage", "bad-signature", "other-issuer", "stale", "future"],
)
def test_unusable_crl_hard_fails_unless_soft(answer: bytes | Exception) -> None:
    hard = CRLRevocationChecker(_fetcher(apca=answer))
    assert hard.check(LEAF, APCA.certificate, NOW) is RevocationStatus.UNKNOWN
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(LEAF, TRUST, at=NOW, revocation=hard)
    assert info.value.reason is CertRejection.REVOCATION_UNKNOWN
    soft = CRLRevocationChecker(_fetcher(apca=answer), soft_fail=True)
    assert soft.check(LEAF, APCA.certificate, NOW) is RevocationStatus.GOOD


def test_certificate_without_distribution_point_is_unknown() -> None:
    checker = CRLRevocationChecker(_fetcher())
    assert checker.check(ROOT.certificate, ROOT.certificate, NOW) is RevocationStatus.UNKNOWN


def test_only_allowed_urls_are_fetched() -> None:
    fetch = _fetcher()
    checker = CRLRevocationChecker(fetch, allowed_url_prefixes=("http://crl.one.nl.digicert.com/",))
    assert checker.check(LEAF, APCA.certificate, NOW) is RevocationStatus.UNKNOWN
    assert fetch.calls == []


def test_oversized_crl_is_refused() -> None:
    checker = CRLRevocationChecker(_fetcher(), max_crl_bytes=100)
    assert checker.check(LEAF, APCA.certificate, NOW) is RevocationStatus.UNKNOWN


def test_cache_expires_at_next_update_and_max_age() -> None:
    fetch = _fetcher(apca=_crl(APCA, next_update=NOW + timedelta(hours=2)))
    checker = CRLRevocationChecker(fetch, max_age=timedelta(hours=6))
    assert checker.check(LEAF, APCA.certificate, NOW) is RevocationStatus.GOOD
    assert checker.check(LEAF, APCA.certificate, NOW + timedelta(hours=1)) is RevocationStatus.GOOD
    assert fetch.calls == [CA_CRL]
    # Past nextUpdate the CRL is fetched again; the server now lists the leaf.
    fetch.answers[CA_CRL] = _crl(
        APCA,
        {100: NOW + timedelta(hours=2)},
        this_update=NOW + timedelta(hours=2),
        next_update=NOW + timedelta(days=2),
    )
    later = NOW + timedelta(hours=3)
    assert checker.check(LEAF, APCA.certificate, later) is RevocationStatus.REVOKED
    assert fetch.calls == [CA_CRL, CA_CRL]
    # max_age bounds a CRL whose nextUpdate is far away.
    fetch.answers[CA_CRL] = _crl(
        APCA, this_update=later, next_update=later + timedelta(days=30)
    )  # (un-revoked: an odd CA, but it shows the refetch)
    assert checker.check(LEAF, APCA.certificate, later + timedelta(hours=5)) is RevocationStatus.REVOKED
    assert checker.check(LEAF, APCA.certificate, later + timedelta(hours=7)) is RevocationStatus.GOOD
    assert len(fetch.calls) == 3


def test_failed_fetch_is_not_retried_at_once() -> None:
    fetch = _fetcher(apca=OSError("down"))
    checker = CRLRevocationChecker(fetch, retry_after=timedelta(minutes=5))
    assert checker.check(LEAF, APCA.certificate, NOW) is RevocationStatus.UNKNOWN
    assert checker.check(LEAF, APCA.certificate, NOW + timedelta(minutes=1)) is RevocationStatus.UNKNOWN
    assert fetch.calls == [CA_CRL]
    fetch.answers[CA_CRL] = _crl(APCA)
    assert checker.check(LEAF, APCA.certificate, NOW + timedelta(minutes=6)) is RevocationStatus.GOOD
    assert fetch.calls == [CA_CRL, CA_CRL]
