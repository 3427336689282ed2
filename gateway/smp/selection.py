"""Endpoint selection from verified service metadata (peppol-as4.md §9.3 "Endpoint selection").

The identifiers in the answer must be the ones asked for under the case rules of the Policy for use of
Identifiers 4.4: schemes and participant values are case-insensitive, document type and process values
are case-sensitive (peppol-commons 12.6.1 checks the same; some SMPs answer in another case, #73).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509

from gateway.crypto import (
    CertRejection,
    RevocationChecker,
    TrustStore,
    load_peer_certificate,
    validate_ap_certificate,
)
from gateway.errors import CertificateRejected, EndpointCertificateRejected, EndpointNotActive
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID
from gateway.smp.metadata import ServiceInformation, SMPEndpoint
from gateway.smp.outcome import LookupOutcome

#: The transport profile of Peppol AS4 (peppol-as4.md §1).
AS4_TRANSPORT_PROFILE: Final = "peppol-transport-as4-v2_0"


@dataclass(frozen=True, slots=True)
class SelectedEndpoint:
    """The endpoint a document goes to, with its parsed and validated AP certificate."""

    endpoint: SMPEndpoint
    certificate: x509.Certificate


def same_document_type(a: DocumentTypeID, b: DocumentTypeID) -> bool:
    """Scheme case-insensitive, value exact (busdox-docid-qns values are case-sensitive)."""
    return a.scheme.lower() == b.scheme.lower() and a.value == b.value


def same_process(a: ProcessID, b: ProcessID) -> bool:
    """Scheme case-insensitive, value exact (cenbii-procid-ubl values are case-sensitive)."""
    return a.scheme.lower() == b.scheme.lower() and a.value == b.value


def check_answer_identity(
    info: ServiceInformation, participant: ParticipantID, document_type: DocumentTypeID
) -> None:
    """Refuse metadata that is about another participant or document type than the one asked for.

    Raises:
        SMPResponseInvalid: the answer names another participant or document type.
    """
    if info.participant != participant:  # ParticipantID compares case-insensitively
        raise LookupOutcome.BAD_SMP_RESPONSE.error(
            f"the SMP answered for participant {info.participant}, not {participant}"
        )
    if not same_document_type(info.document_type, document_type):
        raise LookupOutcome.BAD_SMP_RESPONSE.error(
            f"the SMP answered for document type {info.document_type.uri}, not {document_type.uri}"
        )


def _active(endpoint: SMPEndpoint, at: datetime) -> bool:
    if endpoint.activation is not None and at < endpoint.activation:
        return False
    return endpoint.expiration is None or at <= endpoint.expiration


def select_endpoint(
    info: ServiceInformation,
    process: ProcessID,
    *,
    at: datetime,
    ap_trust: TrustStore,
    revocation: RevocationChecker | None = None,
    transport_profile: str = AS4_TRANSPORT_PROFILE,
) -> SelectedEndpoint:
    """Pick the AS4 endpoint of ``process`` active at ``at`` and validate its certificate as an AP's.

    The certificate is checked here, before anything is sent: phase4 aborts such a send non-retryably
    (peppol-as4.md §9.3), and a lookup must say so up front.

    Raises:
        ProcessNotSupported: no process with that identifier.
        NoAS4Endpoint: the process has no endpoint with ``transport_profile``.
        EndpointNotActive: every such endpoint is outside its activation/expiration dates at ``at``
            (``active_from``: the next activation date, when one is to come).
        EndpointCertificateRejected: the certificate is missing, unreadable or not an AP certificate of
            the stage (``reason`` says why).
    """
    entries = [entry for entry in info.processes if same_process(entry.process, process)]
    if not entries:
        offered = ", ".join(entry.process.uri for entry in info.processes) or "none"
        raise LookupOutcome.PROCESS_NOT_SUPPORTED.error(
            f"{info.participant} accepts {info.document_type.uri} only in process(es) {offered},"
            f" not {process.uri}"
        ).coded(
            "process-not-offered",
            participant=info.participant,
            document=info.document_type.uri,
            offered=offered,
            process=process.uri,
        )
    endpoints = [e for entry in entries for e in entry.endpoints if e.transport_profile == transport_profile]
    if not endpoints:
        offered = (
            ", ".join(sorted({e.transport_profile for entry in entries for e in entry.endpoints})) or "none"
        )
        raise LookupOutcome.NO_AS4_ENDPOINT.error(
            f"{info.participant} has no {transport_profile} endpoint for {process.uri} (profiles: {offered})"
        ).coded(
            "no-endpoint",
            participant=info.participant,
            profile=transport_profile,
            process=process.uri,
            offered=offered,
        )
    active = [e for e in endpoints if _active(e, at)]
    if not active:
        spans = "; ".join(f"{e.activation} .. {e.expiration}" for e in endpoints)
        raise EndpointNotActive(
            f"the {transport_profile} endpoint of {info.participant} is not active at {at.isoformat()}"
            f" ({spans})",
            outcome=LookupOutcome.ENDPOINT_NOT_ACTIVE,
            active_from=min(
                (e.activation for e in endpoints if e.activation is not None and e.activation > at),
                default=None,
            ),
        ).coded(
            "endpoint-not-active",
            profile=transport_profile,
            participant=info.participant,
            at=at.isoformat(),
            spans=spans,
        )
    endpoint = active[0]
    if not endpoint.url:
        raise LookupOutcome.BAD_SMP_RESPONSE.error("the selected endpoint has no address")
    try:
        certificate = load_peer_certificate(endpoint.certificate_der)
    except ValueError as exc:
        raise EndpointCertificateRejected(
            "the endpoint certificate cannot be read",
            outcome=LookupOutcome.ENDPOINT_CERTIFICATE_REJECTED,
            reason=CertRejection.MALFORMED,
        ) from exc
    try:
        validate_ap_certificate(certificate, ap_trust, at=at, revocation=revocation)
    except CertificateRejected as exc:
        reason = exc.reason.value if isinstance(exc.reason, CertRejection) else str(exc.reason)
        raise EndpointCertificateRejected(
            f"the endpoint certificate is not an acceptable AP certificate ({reason}): {exc}",
            outcome=LookupOutcome.ENDPOINT_CERTIFICATE_REJECTED,
            reason=exc.reason,
        ) from exc
    return SelectedEndpoint(endpoint, certificate)
