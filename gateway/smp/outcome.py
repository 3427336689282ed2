"""Discovery outcomes as data: one member per distinct reason a lookup ends, each knowing if a retry may help.

The issue's most frequent complaint is that "participant not found" and "document type not supported" look
the same elsewhere; every failure class of peppol-as4.md §9.2-§9.3 therefore has its own member here and its
own ``DiscoveryError`` subclass (``gateway.errors``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from gateway.errors import (
    DiscoveryError,
    DiscoveryUnavailable,
    DocumentTypeNotSupported,
    EndpointCertificateRejected,
    EndpointNotActive,
    NoAS4Endpoint,
    ParticipantNotRegistered,
    ProcessNotSupported,
    SMPResponseInvalid,
    SMPSignatureInvalid,
)


class LookupOutcome(StrEnum):
    """How a discovery lookup ended; values are stable strings for APIs, logs and stores."""

    FOUND = "found"
    #: SML NXDOMAIN, no ``U``/``Meta:SMP`` NAPTR record, or the SMP does not know the participant.
    NOT_REGISTERED = "not-registered"
    #: The SMP answers 404 for the document type (peppol-as4.md §9.2, last bullet).
    DOCUMENT_TYPE_NOT_SUPPORTED = "document-type-not-supported"
    PROCESS_NOT_SUPPORTED = "process-not-supported"
    NO_AS4_ENDPOINT = "no-as4-endpoint"
    ENDPOINT_NOT_ACTIVE = "endpoint-not-active"
    BAD_SMP_SIGNATURE = "bad-smp-signature"
    BAD_SMP_RESPONSE = "bad-smp-response"
    ENDPOINT_CERTIFICATE_REJECTED = "endpoint-certificate-rejected"
    #: DNS timeout, SERVFAIL, no name server answering (peppol-as4.md §9.2: "DNS failure (retryable)").
    SML_UNREACHABLE = "sml-unreachable"
    #: Connection failure, timeout or HTTP 5xx from the SMP (retryable).
    SMP_UNREACHABLE = "smp-unreachable"

    @property
    def is_retryable(self) -> bool:
        """True when a later lookup may give another answer (the network failures only)."""
        return self in (LookupOutcome.SML_UNREACHABLE, LookupOutcome.SMP_UNREACHABLE)

    def error(self, detail: str) -> DiscoveryError:
        """The ``DiscoveryError`` subclass for this outcome, carrying it as ``.outcome``.

        Raises:
            ValueError: for :attr:`FOUND`, which is not a failure.
        """
        if self is LookupOutcome.FOUND:
            raise ValueError("FOUND is not a failure")
        return _ERRORS[self](detail, outcome=self)


_ERRORS: Final[dict[LookupOutcome, type[DiscoveryError]]] = {
    LookupOutcome.NOT_REGISTERED: ParticipantNotRegistered,
    LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED: DocumentTypeNotSupported,
    LookupOutcome.PROCESS_NOT_SUPPORTED: ProcessNotSupported,
    LookupOutcome.NO_AS4_ENDPOINT: NoAS4Endpoint,
    LookupOutcome.ENDPOINT_NOT_ACTIVE: EndpointNotActive,
    LookupOutcome.BAD_SMP_SIGNATURE: SMPSignatureInvalid,
    LookupOutcome.BAD_SMP_RESPONSE: SMPResponseInvalid,
    LookupOutcome.ENDPOINT_CERTIFICATE_REJECTED: EndpointCertificateRejected,
    LookupOutcome.SML_UNREACHABLE: DiscoveryUnavailable,
    LookupOutcome.SMP_UNREACHABLE: DiscoveryUnavailable,
}


def outcome_of(error: DiscoveryError) -> LookupOutcome:
    """The outcome an error carries; an untagged error counts as an unreachable SMP (retryable)."""
    outcome = error.outcome
    return outcome if isinstance(outcome, LookupOutcome) else LookupOutcome.SMP_UNREACHABLE
