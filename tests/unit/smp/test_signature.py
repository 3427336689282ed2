"""SMP signature policy: the recorded G2 vectors (SHA-1, fixed time) and development-signed metadata."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from gateway.crypto import DevPKI, TrustStore, generate_dev_pki
from gateway.devnet.documents import DevEndpoint, DevService, service_metadata_element, sign_metadata, tamper
from gateway.errors import SMPSignatureInvalid
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.smp import (
    LookupOutcome,
    ServiceInformation,
    SMPSignaturePolicy,
    read_service_metadata,
    signer_matches_uid,
    verify_signed_metadata,
)
from gateway.xmlcore import parse_xml
from tests.conftest import ARTEFACTS

VECTORS = ARTEFACTS / "peppol-smp-vectors"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
P = ParticipantID.parse("0208:0739484052")


def _g2_trust() -> TrustStore:
    names = ("Peppol_ServiceMetadataPublisher_CA.cer", "Peppol_Root_CA.cer")
    certs = [x509.load_der_x509_certificate((VECTORS / n).read_bytes()) for n in names]
    return TrustStore.from_certificates(certs).pinned_to_smp_cas()


def _vector(name: str) -> bytes:
    path: Path = VECTORS / name
    if not path.is_file():
        pytest.fail(f"SMP vector {path} missing")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "at", "participant"),
    [
        ("signed-service-metadata2.xml", datetime(2021, 1, 1, tzinfo=UTC), "0088:5060482240009"),
        ("signed-service-metadata3-c14n-inclusive.xml", datetime(2020, 8, 1, tzinfo=UTC), "0106:55872255"),
    ],
)
def test_valid_g2_vectors_verify_with_sha1_allowed(
    name: str, at: datetime, participant: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.smp.signature"):
        verified = verify_signed_metadata(
            parse_xml(_vector(name)), SMPSignaturePolicy(_g2_trust(), allow_sha1=True), at=at
        )
    info = read_service_metadata(verified.signed)
    assert isinstance(info, ServiceInformation)
    assert info.participant == ParticipantID.parse(participant)
    assert "SHA-1" in caplog.text  # every accepted SHA-1 signature is logged


def test_tampered_g2_vector_is_a_bad_signature() -> None:
    with pytest.raises(SMPSignatureInvalid) as info:
        verify_signed_metadata(
            parse_xml(_vector("signed-service-metadata1.xml")),
            SMPSignaturePolicy(_g2_trust(), allow_sha1=True),
            at=datetime(2021, 1, 1, tzinfo=UTC),
        )
    assert info.value.outcome is LookupOutcome.BAD_SMP_SIGNATURE


def test_sha1_refused_unless_allowed() -> None:
    with pytest.raises(SMPSignatureInvalid, match="RSA_SHA1"):
        verify_signed_metadata(
            parse_xml(_vector("signed-service-metadata2.xml")),
            SMPSignaturePolicy(_g2_trust()),
            at=datetime(2021, 1, 1, tzinfo=UTC),
        )


def test_g2_vector_refused_at_current_time() -> None:
    with pytest.raises(SMPSignatureInvalid, match="expired"):
        verify_signed_metadata(
            parse_xml(_vector("signed-service-metadata2.xml")),
            SMPSignaturePolicy(_g2_trust(), allow_sha1=True),
            at=NOW,
        )


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    return generate_dev_pki(now=NOW, seat_ids=("POP000001",))


def _smp_trust(pki: DevPKI) -> TrustStore:
    assert pki.smp_ca is not None
    return TrustStore.from_certificates([pki.root.certificate, pki.smp_ca.certificate]).pinned_to_smp_cas()


def _signed(pki: DevPKI) -> bytes:
    assert pki.smp is not None
    service = DevService(
        BIS_INVOICE,
        ((BIS_BILLING_PROCESS, (DevEndpoint("https://ap.example/as4", pki.aps["POP000001"].certificate),)),),
    )
    return sign_metadata(service_metadata_element(P, service), pki.smp)


def test_dev_signed_metadata_verifies_and_returns_signed_content(pki: DevPKI) -> None:
    verified = verify_signed_metadata(parse_xml(_signed(pki)), SMPSignaturePolicy(_smp_trust(pki)), at=NOW)
    assert pki.smp is not None
    assert verified.signer == pki.smp.certificate
    assert verified.signature_method.endswith("rsa-sha256")
    assert isinstance(read_service_metadata(verified.signed), ServiceInformation)


def test_tampered_dev_metadata_refused(pki: DevPKI) -> None:
    with pytest.raises(SMPSignatureInvalid, match="Digest mismatch"):
        verify_signed_metadata(parse_xml(tamper(_signed(pki))), SMPSignaturePolicy(_smp_trust(pki)), at=NOW)


def test_signer_from_another_stage_refused(pki: DevPKI) -> None:
    other = generate_dev_pki(now=NOW, seat_ids=())
    with pytest.raises(SMPSignatureInvalid, match="untrusted"):
        verify_signed_metadata(parse_xml(_signed(pki)), SMPSignaturePolicy(_smp_trust(other)), at=NOW)


def test_ap_certificate_cannot_sign_smp_metadata(pki: DevPKI) -> None:
    service = DevService(BIS_INVOICE, ())
    signed = sign_metadata(service_metadata_element(P, service), pki.aps["POP000001"])
    assert pki.smp_ca is not None
    both = [pki.root.certificate, pki.ap_ca.certificate, pki.smp_ca.certificate]
    trust = TrustStore.from_certificates(both).pinned_to_smp_cas()
    with pytest.raises(SMPSignatureInvalid, match="not acceptable"):
        verify_signed_metadata(parse_xml(signed), SMPSignaturePolicy(trust), at=NOW)


def test_policy_without_smp_ca_refused(pki: DevPKI) -> None:
    trust = TrustStore.from_certificates([pki.root.certificate, pki.ap_ca.certificate]).pinned_to_smp_cas()
    with pytest.raises(ValueError, match="pinned"):
        SMPSignaturePolicy(trust)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda b: b.replace(b"<ds:Signature", b"<ds:Nope", 1).replace(b"</ds:Signature>", b"</ds:Nope>"),
            "not signed",
        ),
        (lambda b: b.replace(b'URI=""', b'URI="#x"'), "exactly one Reference"),
        (
            lambda b: b.replace(
                b"</SignedServiceMetadata>",
                b'<x><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/></x></SignedServiceMetadata>',
            ),
            "signatures",
        ),
    ],
)
def test_structural_signature_problems(pki: DevPKI, mutate: object, message: str) -> None:
    data = mutate(_signed(pki))  # type: ignore[operator]
    with pytest.raises(SMPSignatureInvalid, match=message):
        verify_signed_metadata(parse_xml(data), SMPSignaturePolicy(_smp_trust(pki)), at=NOW)


def test_signature_must_be_child_of_root(pki: DevPKI) -> None:
    data = _signed(pki)
    start = data.index(b"<ds:Signature")
    signature = data[start : data.index(b"</ds:Signature>") + len(b"</ds:Signature>")]
    moved = data.replace(signature, b"").replace(b"</ServiceMetadata>", signature + b"</ServiceMetadata>")
    with pytest.raises(SMPSignatureInvalid, match="not a child"):
        verify_signed_metadata(parse_xml(moved), SMPSignaturePolicy(_smp_trust(pki)), at=NOW)


def test_signer_matches_uid(pki: DevPKI) -> None:
    assert pki.smp is not None
    cert = pki.smp.certificate
    assert signer_matches_uid(cert, cert.subject.rfc4514_string())
    assert signer_matches_uid(cert, cert.subject.rfc4514_string().replace(",", ", ").lower())
    assert not signer_matches_uid(cert, "CN=someone else,C=BE")
    assert not signer_matches_uid(cert, "not a dn")


def test_signature_failing_the_xmldsig_schema_is_a_bad_signature(pki: DevPKI) -> None:
    data = _signed(pki)
    start = data.index(b"<ds:SignatureValue>") + len(b"<ds:SignatureValue>")
    broken = data[:start] + b"@" + data[start + 1 :]  # not base64: lxml's DocumentInvalid inside signxml
    with pytest.raises(SMPSignatureInvalid):
        verify_signed_metadata(parse_xml(broken), SMPSignaturePolicy(_smp_trust(pki)), at=NOW)


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ((b"<ds:X509Certificate>", b"<ds:X509Certificate>@@"), "cannot be read"),
        ((b"<ds:X509Certificate>", b"<ds:X509SubjectName>CN=x</ds:X509SubjectName><ds:Y>"), "no X509Data"),
    ],
)
def test_unusable_key_info(pki: DevPKI, replace: tuple[bytes, bytes], message: str) -> None:
    data = _signed(pki).replace(*replace)
    if b"<ds:Y>" in data:
        data = data.replace(b"</ds:X509Certificate>", b"</ds:Y>")
    with pytest.raises(SMPSignatureInvalid, match=message):
        verify_signed_metadata(parse_xml(data), SMPSignaturePolicy(_smp_trust(pki)), at=NOW)
