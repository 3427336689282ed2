"""Values exchanged with the AS4 core: the outgoing request, the accepted incoming message and
receipt verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509

from gateway.as4.ebms_errors import EbmsError
from gateway.as4.outcome import SendOutcome
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.ubl.sbdh import SBDHData


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A complete, serialised Peppol AS4 UserMessage. Send ``headers`` + ``body`` as they are, also on retry.

    Attributes:
        message_id: eb:MessageId (the receipt's RefToMessageId).
        headers: HTTP headers (Content-Type multipart/related, MIME-Version).
        body: the HTTP body, serialised once.
        signed_references: exc-C14N of every ds:Reference we signed (the receipt NRI must equal them).
        receiver_certificate: the certificate we encrypted to (the receipt must be signed with it).
        payload_content_id: Content-ID of the attachment (without brackets).
        conversation_id: eb:ConversationId.
        instance_id: SBDH InstanceIdentifier.
    """

    message_id: str
    headers: Mapping[str, str]
    body: bytes
    signed_references: tuple[bytes, ...]
    receiver_certificate: x509.Certificate
    payload_content_id: str
    conversation_id: str
    instance_id: str


@dataclass(frozen=True, slots=True)
class IncomingUserMessage:
    """An accepted UserMessage: every value here was covered by a verified signature.

    Attributes:
        message_id / timestamp / conversation_id: eb:MessageInfo and CollaborationInfo values (trimmed).
        from_party / to_party: sender and receiver Seat IDs (eb:PartyId).
        service / service_type / action: eb:Service (+@type) and eb:Action.
        original_sender / final_recipient: C1 and C4 from the message properties.
        document_type / process: parsed from Action / Service.
        sbdh: the checked SBDH.
        sbd: the decrypted, decompressed payload (SBD bytes, byte-exact as sent by C2). The payload as
            signed (compressed, phase4#361) is not kept apart: the stored raw request holds it, encrypted.
        signer_certificate: the validated sender AP certificate.
        received_references: each ds:Reference of the received SignedInfo, serialised for NRI copies.
        payload_content_id: Content-ID of the payload part.
    """

    message_id: str
    timestamp: str
    conversation_id: str
    from_party: str
    to_party: str
    service: str
    service_type: str | None
    action: str
    original_sender: ParticipantID
    final_recipient: ParticipantID
    document_type: DocumentTypeID
    process: ProcessID
    sbdh: SBDHData
    sbd: bytes
    signer_certificate: x509.Certificate
    received_references: tuple[bytes, ...]
    payload_content_id: str


@dataclass(frozen=True, slots=True)
class ReceiptVerdict:
    """How the answer to one UserMessage was judged by the sender.

    Attributes:
        outcome: SUCCESS only for a receipt that passed every strict check.
        ebms: the error of a received ebMS Error signal (or EBMS:0302 for an invalid receipt).
        signal_message_id / ref_to_message_id: from the signal, when readable.
        detail: why (internal; log and store).
        errors: every (code, detail) pair of a received Error signal.
        signer_verified: the signal's signature verified and its signer is the certificate we encrypted to
            (and passed path validation when a trust store was given). The one place the answer's signer
            is checked: callers that must know whether an Error is authentic read this, never re-verify.
    """

    outcome: SendOutcome
    ebms: EbmsError | None = None
    signal_message_id: str | None = None
    ref_to_message_id: str | None = None
    detail: str = ""
    errors: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    signer_verified: bool = False

    @property
    def is_success(self) -> bool:
        """True for a verified receipt."""
        return self.outcome.is_success

    @property
    def is_retryable(self) -> bool:
        """Resend the same bytes later? Outcome-level rule refined by the ebMS error's own flag."""
        if self.outcome is SendOutcome.AS4_ERROR_MESSAGE_RECEIVED and self.ebms is not None:
            return self.ebms.retryable
        return self.outcome.is_retryable
