"""Receiver discovery port: where and to whom an AS4 message for (participant, document type, process) goes.

Two implementations: the local participant directory (``gateway.transport.directory``) and SML/SMP lookup
(``gateway.services.smp_resolver``, peppol-as4.md §9), chosen by ``GATEWAY_DISCOVERY__MODE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from cryptography import x509

from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID

#: The only transport profile a Peppol AP sends with today (peppol-as4.md §1; AS2 ended 2023-09).
AS4_TRANSPORT_PROFILE: Final = "peppol-transport-as4-v2_0"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to deliver one document and which certificate to encrypt to (an SMP ``Endpoint`` element).

    Attributes:
        url: the receiver AP's AS4 endpoint URL (``wsa:Address``).
        certificate: the receiver AP certificate: encryption target, To/PartyId (its CN) and the only
            certificate a receipt may be signed with (peppol-as4.md §7.2, §9.3).
        transport_profile: the SMP transport profile, ``peppol-transport-as4-v2_0``.
    """

    url: str
    certificate: x509.Certificate
    transport_profile: str = AS4_TRANSPORT_PROFILE


class EndpointResolver(Protocol):
    """Finds the endpoint serving a receiver for one document type and process.

    ``resolve`` is a coroutine because an SMP lookup is network I/O; the local directory answers at once.
    Certificate validation is NOT the resolver's job: the delivery recipe validates the certificate
    against the trust store at send time (peppol-as4.md §13, sender: "failure is non-retryable").
    """

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        """Return the AS4 endpoint for this receiver, document type and process.

        Raises:
            ParticipantNotRegistered: the receiver is unknown (permanent).
            EndpointNotFound: the receiver exists but not for this document type / process / profile
                (permanent).
            DiscoveryError: any other lookup failure (e.g. the SMP is unreachable); retryable.
        """
        ...


@runtime_checkable
class ImmediateResolver(EndpointResolver, Protocol):
    """A resolver that answers without I/O (the local directory): ``resolve_now`` is ``resolve`` without a
    coroutine, so a blocking caller needs no event loop for it."""

    def resolve_now(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        """Like ``resolve``, answered at once (same endpoint, same exceptions)."""
        ...


@runtime_checkable
class RefreshableResolver(EndpointResolver, Protocol):
    """A resolver with a cache that a retry can bypass (the SMP resolver; the directory has no cache)."""

    async def resolve_fresh(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        """Like ``resolve``, asking the network again instead of the cache."""
        ...
