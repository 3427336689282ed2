"""The gateway's exception tree: every exception the gateway raises on purpose derives from GatewayError.

::

    GatewayError
    ├─ ConfigurationError          settings or key material unusable (entry points, bootstrap)
    ├─ XMLInputError               malformed XML, DTD, entity, oversize input (xmlcore)
    │  ├─ XMLLimitExceeded         a structural limit checked on the bytes (xmlcore.start_tags)
    │  └─ XMLEncodingRefused       not UTF-8 or another ASCII-compatible encoding (xmlcore.encoding)
    ├─ InvalidIdentifier           a participant/document/process identifier is malformed (model)
    ├─ InvalidDocumentData         the posted document is inconsistent: totals, OGM, VAT treatment (model)
    ├─ MappingError                model <-> UBL impossible (ubl)
    ├─ DocumentRejected            .report: validation found fatal rules (raised only by ensure_valid())
    ├─ InvalidTransition           a status change the TRANSITIONS table forbids (model.message)
    ├─ InvalidCursor               a paging cursor that does not decode (services)
    ├─ DocumentNotFound            no document with that id (services)
    ├─ InvalidExpenseRequest       an expense action or unit with bad input: code, reason (model, services)
    ├─ ExpenseActionForbidden      the caller's role does not allow this expense action (services)
    ├─ DocumentNumberConflict      the (seller, type, number) exists with another document (services)
    ├─ ArtefactError               a validation artefact is missing or fails its pinned SHA-256 (validation)
    │  ├─ UnknownRuleSet           the caller named a rule set the manifest does not define
    │  └─ SchematronError          a Schematron source cannot be compiled (validation.schematron)
    ├─ CryptoError
    │  ├─ KeyMaterialError         a key/certificate cannot be loaded (bad password, format)
    │  ├─ SignatureInvalid         signature absent, malformed or not verifying
    │  │  └─ DigestMismatch        a referenced part does not match its digest
    │  ├─ DecryptionFailed
    │  └─ CertificateRejected      .reason: CertRejection (expired, untrusted, revoked, ...)
    ├─ AS4ProtocolError            .ebms: the ebMS error to answer with (like h11's error_status_hint)
    │  ├─ LocalProtocolError       we tried to build something illegal (a bug or bad input of ours)
    │  └─ RemoteProtocolError      the peer sent something illegal
    │     └─ InboundMessageRejected  .ref_to_message_id, .error_detail for the signed ebMS Error
    │        └─ InboundInternalError   our own bug while judging a message (.internal is True; logged)
    ├─ DiscoveryError              .outcome (a gateway.smp.LookupOutcome or None), .retryable
    │  ├─ ParticipantNotRegistered  NXDOMAIN / no Meta:SMP NAPTR / unknown to the SMP (permanent)
    │  ├─ EndpointNotFound         doc type / process / transport profile not served (permanent)
    │  │  ├─ DocumentTypeNotSupported  the SMP has no metadata for the document type
    │  │  ├─ ProcessNotSupported   the metadata lists no such process
    │  │  ├─ NoAS4Endpoint         no peppol-transport-as4-v2_0 endpoint for the process
    │  │  └─ EndpointNotActive     the AS4 endpoint is outside its activation/expiration dates
    │  ├─ SMPSignatureInvalid      an SMP answer is unsigned, tampered or signed by an untrusted SMP
    │  ├─ SMPResponseInvalid       an SMP answer is malformed, for another identifier, or redirects badly
    │  ├─ EndpointCertificateRejected  the endpoint certificate is not an AP certificate of the stage
    │  └─ DiscoveryUnavailable     DNS or SMP unreachable, timed out or failing (retryable)
    ├─ TransportError              adapters map httpx errors into this subtree (.retryable)
    └─ StoreError                  .retryable (a lost connection, a lock or timeout: True)
       ├─ StoreDataRefused         the database refused the data: integrity or data error (permanent)
       ├─ DuplicateMessage         (permanent)
       ├─ IdempotencyConflict      the idempotency key was used with another request body (permanent)
       └─ LeaseLost

Structured context goes in attributes, never only in the message text. A message that people read in
their own language (a page) names its shape and values as ``detail_code`` (``DetailCode``, set by
``coded``): the page translates the code, the English sentence stays for the API and the logs. Toward
AS4 peers the security failures stay opaque (EBMS:0101/0102 with a generic text); the detail is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self


@dataclass(frozen=True, slots=True)
class DetailCode:
    """What an English detail sentence says, as data: a stable code for its shape and the values it names
    (as text), so that a page can say it in a person's language."""

    code: str
    values: Mapping[str, str]


class GatewayError(Exception):
    """Root of every exception the gateway raises deliberately.

    Attributes:
        detail_code: the message's code and values, where the raiser gave them (``coded``); None otherwise.
    """

    detail_code: DetailCode | None = None

    def coded(self, code: str, **values: object) -> Self:
        """This error with its ``detail_code`` (the values as text), returned: ``raise X(...).coded(...)``."""
        self.detail_code = DetailCode(code, {name: str(value) for name, value in values.items()})
        return self


class ConfigurationError(GatewayError):
    """Raised at start-up when settings, key material paths or combinations are unusable."""


class XMLInputError(GatewayError, ValueError):
    """Raised when XML input is malformed, carries a DTD or entity declaration, or exceeds a size limit."""


class XMLLimitExceeded(XMLInputError):
    """Raised when XML input exceeds a structural limit checked before parsing (attributes per element,
    namespace URI and name lengths)."""


class XMLEncodingRefused(XMLInputError):
    """Raised when XML input is in an encoding the byte scans before a parse cannot read (UTF-16, UTF-32,
    EBCDIC...): the gateway reads UTF-8 and the ASCII-compatible single-byte encodings (US-ASCII, ISO-8859-n,
    windows-125n...; ``xmlcore.encoding``)."""


class InvalidIdentifier(GatewayError, ValueError):
    """Raised when a Peppol participant, document type or process identifier (or a Belgian
    enterprise/VAT number) does not have the required form or check digits."""


class InvalidDocumentData(GatewayError, ValueError):
    """Raised when a posted document is internally inconsistent (totals that do not add up, a bad
    structured communication, a VAT treatment that cannot produce a valid document).

    Attributes:
        problems: one human-readable sentence per problem, each naming the field (BT-/BG- number).
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class MappingError(GatewayError, ValueError):
    """Raised when a document cannot be mapped between the model and UBL (e.g. a UBL element the
    model cannot represent, or a required value missing on read)."""


class DocumentRejected(GatewayError):
    """Raised by ``ensure_valid()`` when a validation report holds fatal findings.

    Attributes:
        report: the full ValidationReport.
    """

    def __init__(self, report: Any, message: str = "document is not valid") -> None:
        self.report = report
        super().__init__(message)


class ArtefactError(GatewayError):
    """Raised when a validation artefact is missing from the mirror and cache, cannot be fetched,
    or its SHA-256 differs from the pinned value in the manifest."""


class UnknownRuleSet(ArtefactError, LookupError):
    """Raised when a caller names a validation rule set the manifest does not define."""


class CryptoError(GatewayError):
    """Root of signature, encryption, key and certificate failures."""


class KeyMaterialError(CryptoError):
    """Raised when a private key or certificate cannot be loaded (wrong password, bad format, key and
    certificate that do not belong together). The message never contains the password."""


class SignatureInvalid(CryptoError):
    """Raised when a signature is missing, malformed, uses a forbidden algorithm or does not verify."""


class DigestMismatch(SignatureInvalid):
    """Raised when a signed reference resolves but its digest differs from the signed DigestValue."""


class DecryptionFailed(CryptoError):
    """Raised when a key cannot be unwrapped or ciphertext fails authentication."""


class CertificateRejected(CryptoError):
    """Raised when a certificate fails path validation or policy.

    Attributes:
        reason: a CertRejection enum member (see gateway.crypto).
    """

    def __init__(self, reason: Any, message: str = "") -> None:
        self.reason = reason
        super().__init__(message or str(getattr(reason, "value", reason)))


class AS4ProtocolError(GatewayError):
    """Root of AS4 protocol failures.

    Attributes:
        ebms: the EbmsError member to answer with (gateway.as4.EbmsError).
        detail: internal detail for logs and the message store; never sent to the peer.
    """

    def __init__(self, ebms: Any, detail: str = "") -> None:
        self.ebms = ebms
        self.detail = detail
        super().__init__(
            f"{getattr(ebms, 'code', ebms)}: {detail}" if detail else str(getattr(ebms, "code", ebms))
        )


class LocalProtocolError(AS4ProtocolError):
    """Raised when we are asked to build an AS4 message that would violate the profile."""


class RemoteProtocolError(AS4ProtocolError):
    """Raised when a peer's message or signal violates the profile; ``ebms`` says how to answer."""


class DiscoveryError(GatewayError):
    """Root of receiver-discovery failures (participant directory, SML/SMP).

    A bare ``DiscoveryError`` counts as retryable (a lookup that may succeed later); the permanent
    failures are the subclasses whose ``retryable`` class attribute is False.

    Attributes:
        outcome: the ``gateway.smp.LookupOutcome`` that classifies the failure, or None (directory).
        retryable: whether a later attempt may succeed.
    """

    retryable: bool = True

    def __init__(self, message: str = "", *, outcome: Any = None) -> None:
        self.outcome = outcome
        super().__init__(message or str(getattr(outcome, "value", outcome or "")))


class ParticipantNotRegistered(DiscoveryError):
    """Raised when the receiver participant is not known to the directory / SML (NXDOMAIN, no
    ``Meta:SMP`` NAPTR record, or an SMP that does not know the participant). Permanent."""

    retryable = False


class EndpointNotFound(DiscoveryError):
    """Raised when the participant exists but not for this document type, process or transport profile."""

    retryable = False


class DocumentTypeNotSupported(EndpointNotFound):
    """Raised when the participant's SMP publishes no service metadata for the document type (HTTP 404)."""


class ProcessNotSupported(EndpointNotFound):
    """Raised when the service metadata of the document type lists no matching process identifier."""


class NoAS4Endpoint(EndpointNotFound):
    """Raised when the matching process has no endpoint with profile ``peppol-transport-as4-v2_0``."""


class EndpointNotActive(EndpointNotFound):
    """Raised when every AS4 endpoint of the process is before its ServiceActivationDate or after its
    ServiceExpirationDate at the lookup time.

    Attributes:
        active_from: the earliest ServiceActivationDate still to come (the answer changes then), or None.
    """

    def __init__(
        self, message: str = "", *, outcome: Any = None, active_from: datetime | None = None
    ) -> None:
        self.active_from = active_from
        super().__init__(message, outcome=outcome)


class SMPSignatureInvalid(DiscoveryError):
    """Raised when signed service metadata has no valid ``ds:Signature`` by an SMP certificate of the
    configured stage (tampered, unsigned, wrong CA, forbidden algorithm, or a redirect target signed
    by another certificate than the redirect's CertificateUID). Permanent."""

    retryable = False


class SMPResponseInvalid(DiscoveryError):
    """Raised when an SMP answer cannot be used: not the expected XML, for another participant or
    document type, an HTTP redirect, a second Redirect, or a URL the stage forbids. Permanent."""

    retryable = False


class EndpointCertificateRejected(DiscoveryError):
    """Raised when the endpoint certificate published in the SMP is not a valid AP certificate of the
    configured stage (expired, wrong CA, revoked, malformed). Permanent.

    Attributes:
        reason: the CertRejection member (gateway.crypto), when known.
    """

    retryable = False

    def __init__(self, message: str = "", *, outcome: Any = None, reason: Any = None) -> None:
        self.reason = reason
        super().__init__(message, outcome=outcome)


class DiscoveryUnavailable(DiscoveryError):
    """Raised when the SML (DNS) or the SMP cannot be reached, times out or answers with a server
    error. Retryable."""

    retryable = True


class TransportError(GatewayError):
    """Raised by transport adapters for network failures; ``retryable`` says whether a retry may help.

    Attributes:
        code: the stable prefix of a delivery's status reason for this failure.
    """

    code: str = "transport"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class PeerAddressRefused(TransportError):
    """Raised, in the production stage, when a host name resolves to no address the gateway may connect
    to (loopback, private, link-local, cloud metadata...): remote input (an SMP, a NAPTR answer) must not
    make it reach its own host or network. Permanent."""

    code = "peer-address-refused"

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class MailError(GatewayError):
    """Raised by the mail adapter when the relay did not take a message.

    Attributes:
        reason: the SMTP reply (``550 5.1.1 no such user``) or the network failure, for the status reason.
        retryable: True for a temporary failure (4xx reply, no connection, timeout: RFC 5321 §4.2.1).
    """

    def __init__(self, reason: str, *, retryable: bool) -> None:
        self.reason = reason
        self.retryable = retryable
        super().__init__(reason)


class StoreError(GatewayError):
    """Root of persistence failures raised by store adapters.

    A bare ``StoreError`` counts as retryable (a lost connection, a lock wait or a timeout may pass); the
    failures a retry of the same write repeats are the subclasses whose ``retryable`` class attribute is
    False.

    Attributes:
        retryable: whether the same work may succeed later.
    """

    retryable: bool = True


class StoreDataRefused(StoreError):
    """Raised when the database refuses the data written (an integrity constraint other than a unique
    key, a value it cannot store): the same write fails again. Permanent."""

    retryable = False


class DuplicateMessage(StoreError):
    """Raised when a message or idempotency key is already stored. Permanent."""

    retryable = False


class LeaseLost(StoreError):
    """Raised when a worker's lease on a queued job was taken over by another worker."""


class SchematronError(ArtefactError):
    """Raised when a Schematron source cannot be compiled: not well-formed, not an ISO Schematron
    schema, an unresolvable ``include`` / ``is-a`` / ``extends``, a rule without context, or a
    construct the compiler does not support.

    Attributes:
        reason: what is wrong, in one sentence.
        where: the include href or element path concerned ("" if unknown).
    """

    def __init__(self, reason: str, *, where: str = "") -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{reason} ({where})" if where else reason)


class InvalidTransition(GatewayError):
    """Raised when a delivery event is not allowed in the document's current status (see
    ``gateway.model.message.TRANSITIONS``), e.g. a retry requested for a delivered document.

    Attributes:
        status: the current DeliveryStatus.
        event: the refused DeliveryEvent.
    """

    def __init__(self, status: Any, event: Any) -> None:
        self.status = status
        self.event = event
        event_name = getattr(event, "value", event)
        status_name = getattr(status, "value", status)
        super().__init__(f"event {event_name!r} is not allowed in status {status_name!r}")


class IdempotencyConflict(StoreError):
    """Raised when an idempotency key is reused with a request whose fingerprint differs from the
    request first stored under that key.

    Attributes:
        key: the idempotency key.
    """

    retryable = False

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class InvalidCursor(GatewayError, ValueError):
    """Raised when a pagination cursor given by a client cannot be decoded."""


class InboundMessageRejected(RemoteProtocolError):
    """Raised by the AS4 receiver (``gateway.as4.parse_incoming``) for a UserMessage it refuses.

    Carries what the signed ebMS Error signal needs besides ``ebms``.

    Attributes:
        ref_to_message_id: the eb:MessageId read from the message, or None when it could not be read.
        error_detail: public eb:ErrorDetail text (e.g. ``PEPPOL:NOT_SERVICED``); '' when none. Never the
            internal ``detail``, which stays in our logs (no oracle toward the peer).
        signer_authenticated: the signature had verified and its signer was the From party when the
            message was refused (its evidence is then kept at full size).
    """

    def __init__(
        self,
        ebms: Any,
        detail: str = "",
        *,
        ref_to_message_id: str | None = None,
        error_detail: str = "",
        signer_authenticated: bool = False,
    ) -> None:
        self.ref_to_message_id = ref_to_message_id
        self.error_detail = error_detail
        self.signer_authenticated = signer_authenticated
        super().__init__(ebms, detail)

    #: False: the message broke a rule of the profile (a protocol verdict). True on InboundInternalError.
    internal: bool = False


class InboundInternalError(InboundMessageRejected):
    """Raised by the AS4 receiver when judging a message failed with an unexpected exception (our bug, not
    a verdict on the message). The peer still gets a generic signed ebMS Error (EBMS:0004); the traceback
    is logged at ERROR and ``__cause__`` holds the original exception. ``internal`` is True.
    """

    internal = True


class DocumentNotFound(GatewayError, LookupError):
    """Raised when a document id names no stored document (outbound or inbound).

    Attributes:
        document_id: the id asked for.
    """

    def __init__(self, document_id: str, what: str = "document") -> None:
        self.document_id = document_id
        super().__init__(f"no {what} {document_id!r}")


class InvalidExpenseRequest(GatewayError, ValueError):
    """Raised when an expense action or a production unit carries bad input: a malformed unit code, an
    unknown unit, a reason code the Invoice Response code list does not allow, a missing reason."""


class InvalidPayment(InvalidExpenseRequest):
    """Raised when a partial payment is refused: no explanation or a too long one, an amount that is not a
    number, not above zero or not below the amount due.

    Attributes:
        message: the English text with ``%(name)s`` placeholders (the pages translate it).
        values: the placeholders' values.
    """

    def __init__(self, message: str, **values: object) -> None:
        self.message = message
        self.values = values
        super().__init__(message % values)


class ExpenseActionForbidden(GatewayError):
    """Raised when the caller may see an expense but its role or production units do not allow the action
    (e.g. a member approving for a unit it does not belong to, a member assigning)."""


class DocumentNumberConflict(GatewayError):
    """Raised when a document is posted under a (seller, document number) pair that is already stored
    with different content: the gateway never sends two documents with one number.

    Attributes:
        seller_id: the seller reference of the pair.
        document_number: the number (BT-1).
        document_id: the id of the document already stored under the pair.
    """

    def __init__(self, seller_id: str, document_number: str, document_id: str) -> None:
        self.seller_id = seller_id
        self.document_number = document_number
        self.document_id = document_id
        super().__init__(
            f"document number {document_number!r} of seller {seller_id!r} is already stored as document "
            f"{document_id} with different content"
        )


class ReportRemakeRefused(GatewayError):
    """Raised when a stored Peppol report may not be remade: only one stored ``invalid`` (never sent) or
    whose every transmission ended ``failed`` without evidence of receipt or ``rejected`` (the network never
    took it) is; one stored and not sent by design, one with a transmission in flight and one received are
    kept (peppol-as4.md §11, ``services.report_transmissions``).

    Attributes:
        reason: why, for the operator (English).
        document_id: the outbound document (a transmission of the report) that stops the remake, if one.
        code: why, as a stable code (``services.report_transmissions.RefusalCode``): a page says it in the
            person's language from it; None when no code names the reason.
    """

    def __init__(self, reason: str, document_id: str | None = None, code: str | None = None) -> None:
        self.reason = reason
        self.document_id = document_id
        self.code = code
        super().__init__(reason)


class ReportAlreadyReceived(ReportRemakeRefused):
    """Raised when a remake would send a month's report again although an earlier transmission of it was in
    fact received (delivered or confirmed, or an MLS AP/AB came for one marked failed): OpenPeppol would
    get the month twice (``services.report_transmissions``)."""


class ReportTransmissionInFlight(ReportRemakeRefused):
    """Raised when a remake would race a transmission of the report still on its way (accepted, sending,
    retrying): its outcome decides whether a remake is needed."""


class ReportSuperseded(InvalidTransition):
    """Raised when a retry is requested for the outbound document of a Peppol report that was remade
    since: the report now goes as another document, and this one is kept only as the record of its failed
    delivery (resending it would send the period's old report as well).

    Attributes:
        document_id: the outbound document.
    """

    def __init__(self, status: Any, event: Any, document_id: str) -> None:
        self.status = status
        self.event = event
        self.document_id = document_id
        GatewayError.__init__(
            self,
            f"outbound document {document_id} carried a Peppol report that was remade since: it is kept as"
            " the record of its failed delivery and not retried",
        )


class LaterResponseQueued(InvalidTransition):
    """Raised when a retry is requested for a failed Invoice Response although another response to the same
    received document was queued after it: that one may have reached the supplier already, and this one
    would follow it (bis-billing.md §9: one status per message, no going back - an AB after an AP).

    Attributes:
        document_id: the outbound document (the earlier response).
        later_id: the response queued after it.
    """

    def __init__(self, status: Any, event: Any, document_id: str, later_id: str) -> None:
        self.status = status
        self.event = event
        self.document_id = document_id
        self.later_id = later_id
        GatewayError.__init__(
            self,
            f"outbound document {document_id} is an Invoice Response and response {later_id} to the same"
            " received document was queued after it: it is not sent again",
        )
