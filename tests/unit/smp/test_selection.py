"""Endpoint selection and answer identity: each outcome class, with real development certificates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.crypto import CertRejection, DevPKI, TrustStore, generate_dev_pki, issue_ap
from gateway.errors import (
    EndpointCertificateRejected,
    EndpointNotActive,
    NoAS4Endpoint,
    ProcessNotSupported,
    SMPResponseInvalid,
)
from gateway.model.identifiers import (
    BIS_BILLING_PROCESS,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    ParticipantID,
    ProcessID,
)
from gateway.smp import (
    LookupOutcome,
    ProcessEntry,
    ServiceInformation,
    SMPEndpoint,
    check_answer_identity,
    select_endpoint,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
P = ParticipantID.parse("0208:0739484052")


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    return generate_dev_pki(now=NOW, seat_ids=("POP000001",), smp_id=None)


def _trust(pki: DevPKI) -> TrustStore:
    return TrustStore.from_certificates(
        [pki.root.certificate, pki.ap_ca.certificate]
    ).pinned_to_access_point_cas()


def _endpoint(pki: DevPKI, **kw: object) -> SMPEndpoint:
    der = pki.aps["POP000001"].certificate.public_bytes(serialization.Encoding.DER)
    values: dict[str, object] = {
        "transport_profile": "peppol-transport-as4-v2_0",
        "url": "https://ap/as4",
        "certificate_der": der,
    }
    values.update(kw)
    return SMPEndpoint(**values)  # type: ignore[arg-type]


def _info(*endpoints: SMPEndpoint, process: ProcessID = BIS_BILLING_PROCESS) -> ServiceInformation:
    return ServiceInformation(P, BIS_INVOICE, (ProcessEntry(process, endpoints),))


def test_selects_the_active_as4_endpoint(pki: DevPKI) -> None:
    other = _endpoint(pki, transport_profile="busdox-transport-as2-ver1p0", url="https://as2")
    chosen = select_endpoint(_info(other, _endpoint(pki)), BIS_BILLING_PROCESS, at=NOW, ap_trust=_trust(pki))
    assert chosen.endpoint.url == "https://ap/as4"
    assert chosen.certificate == pki.aps["POP000001"].certificate


def test_process_compared_with_case_rules(pki: DevPKI) -> None:
    info = _info(_endpoint(pki), process=ProcessID(BIS_BILLING_PROCESS.value, "CENBII-PROCID-UBL"))
    assert select_endpoint(info, BIS_BILLING_PROCESS, at=NOW, ap_trust=_trust(pki))
    upper = ProcessID(BIS_BILLING_PROCESS.value.upper())
    with pytest.raises(ProcessNotSupported) as exc:
        select_endpoint(info, upper, at=NOW, ap_trust=_trust(pki))
    assert exc.value.outcome is LookupOutcome.PROCESS_NOT_SUPPORTED


def test_no_as4_endpoint(pki: DevPKI) -> None:
    with pytest.raises(NoAS4Endpoint, match="busdox-transport-as2"):
        select_endpoint(
            _info(_endpoint(pki, transport_profile="busdox-transport-as2-ver1p0")),
            BIS_BILLING_PROCESS,
            at=NOW,
            ap_trust=_trust(pki),
        )


@pytest.mark.parametrize(
    ("activation", "expiration"),
    [
        (NOW + timedelta(days=1), None),
        (None, NOW - timedelta(seconds=1)),
        (NOW + timedelta(hours=1), NOW + timedelta(days=9)),
    ],
)
def test_endpoint_not_active(pki: DevPKI, activation: datetime | None, expiration: datetime | None) -> None:
    with pytest.raises(EndpointNotActive):
        select_endpoint(
            _info(_endpoint(pki, activation=activation, expiration=expiration)),
            BIS_BILLING_PROCESS,
            at=NOW,
            ap_trust=_trust(pki),
        )


def test_active_window_is_inclusive(pki: DevPKI) -> None:
    endpoint = _endpoint(pki, activation=NOW, expiration=NOW)
    assert select_endpoint(_info(endpoint), BIS_BILLING_PROCESS, at=NOW, ap_trust=_trust(pki))


def test_expired_endpoint_certificate_rejected(pki: DevPKI) -> None:
    old = issue_ap(
        pki.ap_ca, "POP000009", now=NOW, not_before=NOW - timedelta(days=800), validity=timedelta(days=30)
    )
    der = old.certificate.public_bytes(serialization.Encoding.DER)
    with pytest.raises(EndpointCertificateRejected) as exc:
        select_endpoint(
            _info(_endpoint(pki, certificate_der=der)), BIS_BILLING_PROCESS, at=NOW, ap_trust=_trust(pki)
        )
    assert exc.value.reason is CertRejection.EXPIRED
    assert exc.value.outcome is LookupOutcome.ENDPOINT_CERTIFICATE_REJECTED


def test_endpoint_certificate_of_another_stage_or_unreadable_rejected(pki: DevPKI) -> None:
    other = generate_dev_pki(now=NOW, seat_ids=(), smp_id=None)
    with pytest.raises(EndpointCertificateRejected) as exc:
        select_endpoint(_info(_endpoint(pki)), BIS_BILLING_PROCESS, at=NOW, ap_trust=_trust(other))
    assert exc.value.reason is CertRejection.UNTRUSTED
    with pytest.raises(EndpointCertificateRejected) as exc:
        select_endpoint(
            _info(_endpoint(pki, certificate_der=b"junk")), BIS_BILLING_PROCESS, at=NOW, ap_trust=_trust(pki)
        )
    assert exc.value.reason is CertRejection.MALFORMED


def test_answer_identity_case_rules() -> None:
    info = ServiceInformation(ParticipantID.parse("0208:ABC"), BIS_INVOICE, ())
    check_answer_identity(info, ParticipantID.parse("0208:abc"), BIS_INVOICE)
    with pytest.raises(SMPResponseInvalid, match="participant"):
        check_answer_identity(info, ParticipantID.parse("0208:abd"), BIS_INVOICE)
    with pytest.raises(SMPResponseInvalid, match="document type"):
        check_answer_identity(info, ParticipantID.parse("0208:abc"), BIS_CREDIT_NOTE)


def test_an_endpoint_not_active_yet_says_when_it_becomes_active(pki: DevPKI) -> None:
    soon, later = NOW + timedelta(seconds=30), NOW + timedelta(hours=1)
    info = _info(
        _endpoint(pki, activation=later),
        _endpoint(pki, activation=NOW - timedelta(days=2), expiration=NOW - timedelta(days=1)),
        _endpoint(pki, activation=soon, expiration=later),
    )
    with pytest.raises(EndpointNotActive) as caught:
        select_endpoint(info, BIS_BILLING_PROCESS, at=NOW, ap_trust=_trust(pki))
    assert caught.value.active_from == soon
    with pytest.raises(EndpointNotActive) as expired:
        select_endpoint(
            _info(_endpoint(pki, activation=NOW - timedelta(days=2), expiration=NOW - timedelta(days=1))),
            BIS_BILLING_PROCESS,
            at=NOW,
            ap_trust=_trust(pki),
        )
    assert expired.value.active_from is None
