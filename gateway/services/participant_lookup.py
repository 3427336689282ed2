"""Use case: "can this participant receive this document, through which access point, and if not, why?"

``GET /v1/participants/{id}?document=`` asks it before the invoicing system posts (issue 9 item 3). In
``sml`` mode the answer is the :class:`~gateway.services.smp_resolver.SMPResolver`'s own ``LookupResult``
(cached, one outcome class per reason, peppol-as4.md §9.2-§9.3); in ``directory`` mode the local directory
is asked through the ``EndpointResolver`` port and its endpoint certificate checked the same way.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final, Protocol

from gateway.crypto import RevocationChecker, TrustStore, validate_ap_certificate
from gateway.errors import (
    CertificateRejected,
    DiscoveryError,
    EndpointNotFound,
    InvalidIdentifier,
    ParticipantNotRegistered,
)
from gateway.model.identifiers import (
    BIS_BILLING_PROCESS,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    INVOICE_RESPONSE,
    INVOICE_RESPONSE_PROCESS,
    DocumentTypeID,
    ParticipantID,
    ProcessID,
)
from gateway.services.ports import Clock, EndpointResolver
from gateway.services.smp_resolver import LookupResult, served_by
from gateway.smp import LookupOutcome, outcome_of

#: The documents a lookup may ask about, by the short name of the API (``?document=``).
DOCUMENT_KINDS: Final[dict[str, tuple[DocumentTypeID, ProcessID]]] = {
    "invoice": (BIS_INVOICE, BIS_BILLING_PROCESS),
    "credit-note": (BIS_CREDIT_NOTE, BIS_BILLING_PROCESS),
    "invoice-response": (INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS),
}

#: Plain words for each outcome, for people reading the answer (the detail sentence adds the specifics).
PLAIN_REASONS: Final[dict[LookupOutcome, str]] = {
    LookupOutcome.FOUND: "The participant can receive this document.",
    LookupOutcome.NOT_REGISTERED: "The participant is not registered on the Peppol network.",
    LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED: (
        "The participant is on Peppol but does not accept this document type."
    ),
    LookupOutcome.PROCESS_NOT_SUPPORTED: (
        "The participant accepts this document type, but not in this business process."
    ),
    LookupOutcome.NO_AS4_ENDPOINT: "The participant's access point has no AS4 endpoint for this document.",
    LookupOutcome.ENDPOINT_NOT_ACTIVE: "The participant's endpoint for this document is not active now.",
    LookupOutcome.BAD_SMP_SIGNATURE: "The participant's SMP answer is not signed by a trusted SMP.",
    LookupOutcome.BAD_SMP_RESPONSE: "The participant's SMP gave an answer that cannot be used.",
    LookupOutcome.ENDPOINT_CERTIFICATE_REJECTED: "The receiving access point's certificate is not valid.",
    LookupOutcome.SML_UNREACHABLE: "The Peppol SML (DNS) could not be reached; ask again later.",
    LookupOutcome.SMP_UNREACHABLE: "The participant's SMP could not be reached; ask again later.",
}


def document_kind(name: str) -> tuple[DocumentTypeID, ProcessID]:
    """The document type and process of a short document name.

    Raises:
        InvalidIdentifier: an unknown name.
    """
    try:
        return DOCUMENT_KINDS[name]
    except KeyError:
        raise InvalidIdentifier(
            f"unknown document {name!r}: expected one of {', '.join(DOCUMENT_KINDS)}"
        ) from None


class ParticipantLookup(Protocol):
    """Port-shaped: a lookup that answers as data (``SMPResolver`` and :class:`DirectoryLookup`)."""

    async def lookup(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> LookupResult:
        """The answer; never raises for a discovery outcome."""
        ...


class DirectoryLookup:
    """Lookup answers from the local participant directory (``directory`` mode).

    Args:
        resolver: the directory (any ``EndpointResolver``).
        trust: the AP trust of the stage: a listed certificate is checked as the worker will check it.
        clock: the time of the check.
        revocation: the configured revocation checker, if any.
    """

    def __init__(
        self,
        *,
        resolver: EndpointResolver,
        trust: TrustStore | None,
        clock: Clock,
        revocation: RevocationChecker | None = None,
    ) -> None:
        self._resolver = resolver
        self._trust = trust
        self._clock = clock
        self._revocation = revocation

    async def lookup(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> LookupResult:
        now = self._clock.now()
        answer = LookupResult(LookupOutcome.FOUND, "", receiver, document_type, process, now)
        try:
            endpoint = await self._resolver.resolve(receiver, document_type, process)
        except ParticipantNotRegistered as exc:
            return replace(
                answer, outcome=LookupOutcome.NOT_REGISTERED, detail=str(exc), detail_code=exc.detail_code
            )
        except EndpointNotFound as exc:
            outcome = outcome_of(exc) if exc.outcome else LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED
            return replace(answer, outcome=outcome, detail=str(exc), detail_code=exc.detail_code)
        except DiscoveryError as exc:
            return replace(answer, outcome=outcome_of(exc), detail=str(exc), detail_code=exc.detail_code)
        if self._trust is not None:
            try:
                validate_ap_certificate(
                    endpoint.certificate, self._trust, at=now, revocation=self._revocation
                )
            except CertificateRejected as exc:
                return replace(
                    answer,
                    outcome=LookupOutcome.ENDPOINT_CERTIFICATE_REJECTED,
                    detail=f"endpoint certificate: {exc}",
                )
        detail, detail_code = served_by(endpoint.url)
        return replace(answer, detail=detail, endpoint=endpoint, detail_code=detail_code)
