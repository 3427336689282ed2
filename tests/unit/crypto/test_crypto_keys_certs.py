"""Key loading (PKCS#12 / PEM), AP certificate path validation at an explicit time, dev PKI shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from as4_support import NOW, dev_pki
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from gateway.crypto import (
    DEV_PKCS12_PASSWORD,
    CertRejection,
    RevocationStatus,
    TrustStore,
    common_name,
    issue_ap,
    load_certificates,
    load_key_material,
    validate_ap_certificate,
)
from gateway.errors import CertificateRejected, KeyMaterialError


def test_pkcs12_round_trip_and_wrong_password() -> None:
    files = dev_pki().pki.files()
    km = load_key_material(files["pop000001.p12"], password=DEV_PKCS12_PASSWORD)
    assert common_name(km.certificate) == "POP000001"
    assert len(km.chain) == 2
    assert "dev" not in repr(km) or "POP000001" in repr(km)
    with pytest.raises(KeyMaterialError) as info:
        load_key_material(files["pop000001.p12"], password="s3cret-wrong")
    assert "s3cret-wrong" not in str(info.value)


def test_pem_key_with_separate_or_bundled_certificate() -> None:
    files = dev_pki().pki.files()
    km = load_key_material(files["pop000002.key.pem"], certificate=files["pop000002.cert.pem"])
    assert common_name(km.certificate) == "POP000002"
    bundled = load_key_material(files["pop000002.key.pem"] + files["apca.pem"] + files["pop000002.cert.pem"])
    assert common_name(bundled.certificate) == "POP000002"
    assert len(bundled.chain) == 1
    with pytest.raises(KeyMaterialError):
        load_key_material(files["pop000002.key.pem"], certificate=files["pop000001.cert.pem"])
    with pytest.raises(KeyMaterialError):
        load_key_material(files["pop000002.key.pem"])
    with pytest.raises(KeyMaterialError):
        load_key_material(b"garbage")


def test_encrypted_pem_needs_password() -> None:
    key = dev_pki().sender.private_key
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    cert = dev_pki().sender.certificate.public_bytes(serialization.Encoding.PEM)
    assert load_key_material(pem, password="pw", certificate=cert).certificate == dev_pki().sender.certificate
    with pytest.raises(KeyMaterialError):
        load_key_material(pem, password="nope", certificate=cert)


def test_dev_pki_matches_peppol_ap_shape() -> None:
    cert = dev_pki().sender.certificate
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert ku.value.key_encipherment
    assert ku.value.data_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    files = dev_pki().pki.files()
    assert {"root.pem", "apca.pem", "pop000001.p12", "pop000002.key.pem"} <= set(files)


def test_path_validation_at_time() -> None:
    p = dev_pki()
    path = validate_ap_certificate(p.sender.certificate, p.trust, at=NOW)
    assert [common_name(c) for c in path] == ["POP000001", "Dev Peppol Access Point CA", "Dev Peppol Root CA"]
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(p.sender.certificate, p.trust, at=NOW + timedelta(days=800))
    assert info.value.reason is CertRejection.EXPIRED
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(p.sender.certificate, p.trust, at=NOW - timedelta(days=2))
    assert info.value.reason is CertRejection.NOT_YET_VALID
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(p.rogue.certificate, p.trust, at=NOW)
    assert info.value.reason is CertRejection.UNTRUSTED
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(p.expired.certificate, p.trust, at=NOW)
    assert info.value.reason is CertRejection.EXPIRED


def test_intermediate_is_not_an_anchor() -> None:
    p = dev_pki()
    only_ca = TrustStore.from_certificates([p.pki.ap_ca.certificate])  # no root anchor
    assert only_ca.anchors == ()
    with pytest.raises(CertificateRejected):
        validate_ap_certificate(p.sender.certificate, only_ca, at=NOW)


def test_leaf_issued_by_a_leaf_is_rejected() -> None:
    p = dev_pki()
    fake_issuer = p.pki.aps["POP000001"]
    child = issue_ap(fake_issuer, "POP000003", now=NOW)
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(
            child.certificate, p.trust, at=NOW, extra_intermediates=[fake_issuer.certificate]
        )
    assert info.value.reason is CertRejection.NOT_A_CA


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (RevocationStatus.REVOKED, CertRejection.REVOKED),
        (RevocationStatus.UNKNOWN, CertRejection.REVOCATION_UNKNOWN),
    ],
)
def test_revocation_checker_is_consulted(status: RevocationStatus, reason: CertRejection) -> None:
    seen: list[str] = []

    class Checker:
        def check(
            self, certificate: x509.Certificate, issuer: x509.Certificate, at: object
        ) -> RevocationStatus:
            seen.append(str(common_name(certificate)))
            return status

    p = dev_pki()
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(p.sender.certificate, p.trust, at=NOW, revocation=Checker())
    assert info.value.reason is reason
    assert seen[0] == "POP000001"


def test_load_certificates_pem_and_der() -> None:
    cert = dev_pki().sender.certificate
    assert load_certificates(cert.public_bytes(serialization.Encoding.DER)) == [cert]
    assert load_certificates(cert.public_bytes(serialization.Encoding.PEM) * 2) == [cert, cert]


def test_pinning_to_ap_ca() -> None:
    p = dev_pki()
    assert validate_ap_certificate(p.sender.certificate, p.trust.pinned_to_access_point_cas(), at=NOW)
    other = p.trust.pinned(p.pki.root.certificate)  # leaves must come from the root directly: not the case
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(p.sender.certificate, other, at=NOW)
    assert info.value.reason is CertRejection.UNTRUSTED


def test_peppol_g3_test_truststore_pins_the_ap_ca(artefacts_dir: object) -> None:
    from pathlib import Path

    pem = Path(str(artefacts_dir)) / "peppol-pki" / "ap-test-truststore-g3.pem"
    store = TrustStore.from_pem(pem.read_bytes())
    assert len(store.anchors) == 1
    assert len(store.intermediates) == 2
    pinned = store.pinned_to_access_point_cas()
    assert len(pinned.leaf_issuers) == 1
    assert "ACCESS POINT TEST CA" in pinned.leaf_issuers[0].rfc4514_string()
