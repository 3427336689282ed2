"""Receive one Peppol AS4 UserMessage (peppol-as4.md §13): parse, keep the exact bytes as evidence, answer
with a signed Receipt or ebMS Error, store and validate the business document. The recipe behind POST /as4.

Evidence keys: an accepted message is stored under its eb:MessageId (direction IN); a rejected request under a
generated key ``rejected-<uuid>`` (its claimed id is unverified and must not block the genuine message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Final, TypeAlias

from gateway.as4 import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    SIGNAL_CONTENT_TYPE,
    EbmsError,
    IncomingUserMessage,
    build_error,
    build_receipt,
    parse_incoming,
)
from gateway.crypto import KeyMaterial, RevocationChecker, TrustStore
from gateway.errors import DuplicateMessage, InboundMessageRejected
from gateway.model import DocumentTypeID, ParticipantID
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    Direction,
    DocumentContent,
    HTTPHeaders,
    InboundStatus,
    JSONObject,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.message_status import ReceivedEnvelope
from gateway.services.ports import Clock, DocumentStore, DocumentValidator, IDFactory
from gateway.services.receive_records import (
    first_headers,
    from_party,
    is_pending,
    pending_document,
    receipt_summary,
    received_envelope,
    same_document,
)
from gateway.services.receive_validation import SIZE_RULE, validate_inbound
from gateway.services.rejected_evidence import (
    DEFAULT_MAX_REJECTED_EVIDENCE_BYTES,
    REJECTED_KEY_PREFIX,
    EvidenceLimits,
    rejected_evidence,
    without_credentials,
)
from gateway.services.reporting_records import received_transmission

log = logging.getLogger("gateway.receive")

__all__ = [
    "MAX_ID_LENGTH",
    "REJECTED_KEY_PREFIX",
    "SIZE_RULE",
    "AS4Receiver",
    "AfterReceipt",
    "ReceiveOutcome",
    "ReceiveResult",
]

#: Longest eb:MessageId / SBDH InstanceIdentifier we store (the store's key width); longer ids are refused
#: with an ebMS error rather than failing the insert (which would be a 5xx and an endless resend).
MAX_ID_LENGTH: Final = 255
#: Longest document type / process identifier we store, with its scheme (the store's column width); a
#: longer one is refused with EBMS:0004 for the same reason (PostgreSQL refuses the insert, SQLite would not).
MAX_IDENTIFIER_LENGTH: Final = 500
_SIGNAL_HEADERS: Final[HTTPHeaders] = (("Content-Type", SIGNAL_CONTENT_TYPE),)
#: The work after a new message's receipt (``AS4Receiver.receive(defer=...)``): validate, record, hand on.
AfterReceipt: TypeAlias = Callable[[], InboundStatus]


class ReceiveOutcome(StrEnum):
    """How one POST /as4 ended (all answered HTTP 200 with ``ReceiveResult.signal``)."""

    ACCEPTED = "accepted"
    """New message: Receipt sent, inbound document stored and validated."""
    DUPLICATE_MESSAGE = "duplicate-message"
    """eb:MessageId seen and accepted before: the original Receipt is returned again, nothing re-processed."""
    DUPLICATE_DOCUMENT = "duplicate-document"
    """New MessageId, but the same SBDH InstanceIdentifier and business document as an accepted message
    (application-level resend): Receipt sent, evidence stored and linked to the original document; no
    second inbound document."""
    REJECTED = "rejected"
    """Protocol failure: a signed ebMS Error was sent; the raw request is stored as evidence."""


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """The answer to one request and what was stored.

    Attributes:
        outcome: what happened.
        signal: the signed signal to send back (Receipt or Error), byte-exact as stored.
        record_key: the key of the evidence record (AS4 message id, or ``rejected-<uuid>``).
        message_id: the eb:MessageId (None when it could not be read).
        document_id: the inbound document (for duplicates: the original one).
        status: the inbound document's status, when known.
        ebms: the ebMS error sent (REJECTED only).
        content_type: the HTTP Content-Type of ``signal``.
    """

    outcome: ReceiveOutcome
    signal: bytes
    record_key: str
    message_id: str | None = None
    document_id: str | None = None
    status: InboundStatus | None = None
    ebms: EbmsError | None = None
    content_type: str = SIGNAL_CONTENT_TYPE


class AS4Receiver:
    """The receive use case. Thread-safe: every call opens its own units of work.

    Args:
        store: the document store.
        validator: the validation engine.
        identity: our AP key and certificate (decrypts; signs signals; eb:To must be its CN).
        trust: AP trust anchors of our stage.
        served: participants we receive for.
        clock / ids: time and identifiers.
        rule_set: returns the rule set in force (read per message so a release date switches by itself).
        message_id_domain: signal MessageIds are ``<uuid>@<domain>``.
        revocation: CRL/OCSP checker; None checks no revocation (offline).
        max_payload: cap on the decompressed payload.
        max_document: business documents above this size are stored and refused (INVALID, rule
            ``DOCUMENT-SIZE``) without being validated (``GATEWAY_VALIDATION__MAX_DOCUMENT_BYTES``).
        max_rejected_evidence: bytes of a request body kept as evidence when the request is rejected after
            its signer was authenticated (kept for callers; ``evidence`` wins when given).
        evidence: what rejected requests keep (before and after the signer is authenticated).
        on_received: called with the document id and the envelope facts after a NEW document's validation
            was recorded (MLS and received business responses, ``services/message_status.py``); its
            failures are logged, never answered to the sender (the receipt is already committed).
        on_valid: called with the id and the (validated) bytes of every document recorded VALID, after its
            commit (the expense workflow builds the draft there, without reading the bytes back from the
            store); its failures are logged, never answered to the sender.
    """

    def __init__(
        self,
        *,
        store: DocumentStore,
        validator: DocumentValidator,
        identity: KeyMaterial,
        trust: TrustStore,
        served: Collection[ParticipantID],
        clock: Clock,
        ids: IDFactory,
        rule_set: Callable[[], str],
        message_id_domain: str,
        revocation: RevocationChecker | None = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_document: int | None = None,
        max_rejected_evidence: int = DEFAULT_MAX_REJECTED_EVIDENCE_BYTES,
        evidence: EvidenceLimits | None = None,
        on_received: Callable[[str, ReceivedEnvelope], object] | None = None,
        on_valid: Callable[[str, bytes], object] | None = None,
        our_country: str = "BE",
    ) -> None:
        self._on_received = on_received
        self._our_country = our_country
        self._store = store
        self._validator = validator
        self._identity = identity
        self._trust = trust
        self._served = frozenset(served)
        self._clock = clock
        self._ids = ids
        self._rule_set = rule_set
        self._domain = message_id_domain
        self._revocation = revocation
        self._max_payload = max_payload
        self._max_document = max_document
        self._evidence = evidence or EvidenceLimits(authenticated_body=max_rejected_evidence)
        self._on_valid = on_valid
        self._after_receipts: set[str] = set()  # documents whose deferred work is still to run (``defer``)

    # -- entry points ------------------------------------------------------------------------------------

    def receive(
        self, headers: HTTPHeaders, body: bytes, *, defer: Callable[[AfterReceipt], object] | None = None
    ) -> ReceiveResult:
        """Handle one POST /as4 body.

        Args:
            headers: the HTTP request header fields in wire order.
            body: the HTTP body, byte-exact.
            defer: given, a new message's validation, record, MLS and expense are handed to it as one
                callable (status RECEIVED here), for the caller to run after answering the receipt. The
                callable raises StoreError when the verdict cannot be recorded. None: all run here.

        Returns:
            The signal to answer with (HTTP 200) and what was stored.

        Raises:
            StoreError: the store failed; nothing was answered, so answer 5xx and let the sender retry.
        """
        now = self._clock.now()
        raw = RawHTTPMessage(without_credentials(headers), body)
        try:
            incoming = parse_incoming(
                first_headers(headers),
                body,
                our_key=self._identity,
                trust=self._trust,
                at=now,
                revocation=self._revocation,
                served=self._served,
                max_payload=self._max_payload,
            )
        except InboundMessageRejected as exc:
            return self._reject(raw, exc, now, authenticated=exc.signer_authenticated)
        # From here on the signer is authenticated: a rejection keeps the larger evidence.
        if len(incoming.message_id) > MAX_ID_LENGTH:
            too_long = InboundMessageRejected(EbmsError.INVALID_HEADER, "MessageId too long")
            return self._reject(raw, too_long, now, authenticated=True)
        if len(incoming.sbdh.instance_id) > MAX_ID_LENGTH:
            too_long = InboundMessageRejected(
                EbmsError.OTHER, "SBDH InstanceIdentifier too long", ref_to_message_id=incoming.message_id
            )
            return self._reject(raw, too_long, now, authenticated=True)
        for name, identifier in (("document type", incoming.document_type), ("process", incoming.process)):
            if len(identifier.uri) > MAX_IDENTIFIER_LENGTH:
                too_long = InboundMessageRejected(
                    EbmsError.OTHER, f"{name} identifier too long", ref_to_message_id=incoming.message_id
                )
                return self._reject(raw, too_long, now, authenticated=True)
        return self._accept(raw, incoming, now, defer)

    def reject_oversized(
        self, headers: HTTPHeaders, received: bytes, limit: int, received_bytes: int | None = None
    ) -> ReceiveResult:
        """Answer a request whose body exceeded ``limit`` bytes (reading stopped, or never started when the
        declared Content-Length was too large): signed EBMS:0009.

        Args:
            headers: the request header fields.
            received: the start of the body read before the limit was hit (kept as evidence, capped).
            limit: the configured body limit.
            received_bytes: the bytes read in all (default ``len(received)``).
        """
        too_big = InboundMessageRejected(EbmsError.INVALID_HEADER, f"HTTP body exceeds {limit} bytes")
        raw = RawHTTPMessage(headers, received)
        return self._reject(raw, too_big, self._clock.now(), truncated=True, received_bytes=received_bytes)

    # -- accepted messages ---------------------------------------------------------------------------------

    def _accept(
        self,
        raw: RawHTTPMessage,
        incoming: IncomingUserMessage,
        now: datetime,
        defer: Callable[[AfterReceipt], object] | None,
    ) -> ReceiveResult:
        receipt_id = f"{self._ids.new_id()}@{self._domain}"
        receipt = build_receipt(
            incoming, key=self._identity, message_id=receipt_id, timestamp=now, new_id=self._ids.new_id
        )
        summary = receipt_summary(incoming, receipt_id, now)
        signal = AS4Signal(SignalKind.RECEIPT, RawHTTPMessage(_SIGNAL_HEADERS, receipt), now, None, summary)
        record = AS4MessageRecord(
            message_id=incoming.message_id,
            direction=Direction.IN,
            request=raw,
            created_at=now,
            document_id=self._ids.new_id(),  # assigned now so the evidence names its document
            sbdh_instance_id=incoming.sbdh.instance_id,
            signal=signal,
        )
        business = incoming.sbdh.business_document
        # Unit of work 1: durable evidence first (peppol-as4.md §13 #14) - the raw request, the receipt and
        # the business document (RECEIVED, validation pending) together, so an accepted message can never
        # lack its document. Validation runs after this commit, outside any transaction (SQLite's write
        # lock is not held during Schematron), and is recorded by a second unit of work.
        # The unit of work only decides and commits: validation and the answer come after it has closed, so
        # no request holds a pooled connection while it waits for a second one (pool starvation under load).
        stored = False
        original: AS4MessageRecord | None = None
        with self._store.unit_of_work() as uow:
            if uow.messages.get(incoming.message_id, Direction.IN) is None:
                original = same_document(uow, incoming.sbdh.instance_id, business)
                if original is not None:
                    summary = {**summary, "duplicateOfMessageId": original.message_id}
                    signal = replace(signal, receipt_summary=summary)
                    record = replace(record, document_id=original.document_id, signal=signal)
                try:
                    uow.messages.add(record)
                except DuplicateMessage:
                    pass  # a concurrent delivery of this MessageId won: continue on the duplicate path
                else:
                    if original is None:
                        uow.inbound.add(
                            pending_document(record, incoming, now),
                            DocumentContent(business, None),
                        )
                    # Peppol reporting (peppol-as4.md §11): every accepted transmission, with its receipt.
                    counted = received_transmission(incoming, received_at=now, our_country=self._our_country)
                    if counted is not None:
                        uow.reporting.record(counted)
                    uow.commit()
                    stored = True
        if not stored:
            return self._duplicate(incoming.message_id, sender=incoming.from_party, raw=raw, now=now)
        if original is not None:
            log.warning(
                "AS4 message %s repeats SBDH instance %s of message %s: linked, not stored twice",
                incoming.message_id,
                incoming.sbdh.instance_id,
                original.message_id,
            )
            return ReceiveResult(
                ReceiveOutcome.DUPLICATE_DOCUMENT,
                receipt,
                incoming.message_id,
                incoming.message_id,
                original.document_id,
            )
        assert record.document_id is not None
        facts = (incoming.document_type, business, incoming.message_id, received_envelope(incoming))
        finish = partial(self._after_receipt, record.document_id, *facts)
        if defer is None:
            status = finish()
        else:
            self._after_receipts.add(record.document_id)
            defer(finish)  # the caller answers the receipt first (evidence is committed), then runs it
            status = InboundStatus.RECEIVED
        return ReceiveResult(
            ReceiveOutcome.ACCEPTED,
            receipt,
            incoming.message_id,
            incoming.message_id,
            record.document_id,
            status,
        )

    def _after_receipt(
        self,
        document_id: str,
        document_type: DocumentTypeID,
        business: bytes,
        message_id: str,
        envelope: ReceivedEnvelope,
    ) -> InboundStatus:
        """Validate and record an accepted message's document, hand it on (MLS, expense); StoreError: the
        verdict could not be recorded (the document stays pending: run it again)."""
        try:
            status = self._validate_and_record(document_id, document_type, business, message_id)
            self._notify_received(document_id, envelope)
        finally:
            self._after_receipts.discard(document_id)
        log.info("AS4 message %s accepted: inbound document %s (%s)", message_id, document_id, status.value)
        return status

    def _notify_received(self, document_id: str, envelope: ReceivedEnvelope) -> None:
        """Hand a newly validated document on (``on_received``). Recovery paths no longer have the SBDH
        scopes (only the business document is stored): they pass the sender's seat id alone, which means
        the MLS defaults (FAILURE_ONLY, to the sending AP)."""
        if self._on_received is None:
            return
        try:
            self._on_received(document_id, envelope)
        except Exception:
            log.exception("after-receipt handling of inbound document %s failed", document_id)

    def _validate_and_record(
        self, document_id: str, document_type: DocumentTypeID, business: bytes, message_id: str
    ) -> InboundStatus:
        """Validate a stored document and record the verdict (unit of work 2).

        A crash or store failure before this commit leaves the document RECEIVED with VALIDATION_PENDING:
        the sender's resend (no receipt was answered) or ``recover_pending()`` finishes it.
        """
        verdict = validate_inbound(
            self._validator,
            document_type,
            business,
            message_id,
            rules_in_force=self._rule_set,
            max_document=self._max_document,
        )
        with self._store.unit_of_work() as uow:
            uow.inbound.record_validation(
                document_id,
                status=verdict.status,
                report=verdict.report,
                reason=verdict.reason,
                at=self._clock.now(),
            )
            uow.commit()
        if verdict.status is InboundStatus.VALID and self._on_valid is not None:
            try:
                self._on_valid(document_id, business)
            except Exception:  # the receipt stands; the expense recovery pass creates the draft later
                log.exception("inbound document %s: post-validation step failed", document_id)
        return verdict.status

    def recover_pending(self, *, batch_size: int = 50) -> int:
        """Validate every inbound document still awaiting validation (a crash or store failure between
        the receipt's commit and the validation's). Call it at start-up; safe to run beside live traffic
        (validating a document twice records the same verdict).

        Returns:
            The number of documents validated.

        Raises:
            StoreError: the store failed (what was recorded before stays recorded).
        """
        done = 0
        while True:
            with self._store.unit_of_work(read_only=True) as uow:
                pending = uow.inbound.pending_validation(limit=batch_size)
                contents = [uow.inbound.get_content(document.id) for document in pending]
                senders = [from_party(uow.messages.get(d.as4_message_id, Direction.IN)) for d in pending]
            if not pending:
                return done
            for document, content, sender in zip(pending, contents, senders, strict=True):
                if content is None:  # deleted meanwhile
                    continue
                status = self._validate_and_record(
                    document.id,
                    document.document_type,
                    content.body,
                    document.as4_message_id,
                )
                self._notify_received(document.id, ReceivedEnvelope(sender))
                log.warning(
                    "inbound document %s of AS4 message %s: interrupted validation finished (%s)",
                    document.id,
                    document.as4_message_id,
                    status.value,
                )
                done += 1

    # -- duplicates ------------------------------------------------------------------------------------------

    def _duplicate(
        self, message_id: str, *, sender: str, raw: RawHTTPMessage, now: datetime
    ) -> ReceiveResult:
        """Answer a MessageId accepted before with its original receipt (Holodeck style, peppol-as4.md
        §14 #9), finishing the inbound document if an earlier attempt stopped between the two commits.

        Only the access point that sent the original gets its receipt again: another AP reusing the
        MessageId (by accident or to fetch someone else's evidence) gets EBMS:4001 and nothing is stored.
        """
        with self._store.unit_of_work(read_only=True) as uow:
            stored = uow.messages.get(message_id, Direction.IN)
            document = (
                uow.inbound.get(stored.document_id) if stored is not None and stored.document_id else None
            )
        if stored is None or stored.signal is None:
            # Only accepted messages are keyed by their MessageId and they are stored with their receipt.
            raise DuplicateMessage(f"AS4 message {message_id!r} vanished during duplicate handling")
        original_sender = (stored.signal.receipt_summary or {}).get("fromParty")
        if original_sender != sender:
            log.warning(
                "AS4 MessageId %s reused by %s (first: %s): refused", message_id, sender, original_sender
            )
            clash = InboundMessageRejected(
                EbmsError.DUPLICATE_DETECTED,
                f"MessageId first used by {original_sender}",
                ref_to_message_id=message_id,
            )
            return self._reject(raw, clash, now)
        status = document.status if document is not None else None
        if document is not None and is_pending(document) and document.id not in self._after_receipts:
            # An earlier attempt stopped between the two commits (not merely answered and still being
            # validated here, which would send a second MLS): finish it now.
            with self._store.unit_of_work(read_only=True) as uow:
                content = uow.inbound.get_content(document.id)
            if content is not None:
                status = self._validate_and_record(
                    document.id, document.document_type, content.body, message_id
                )
                self._notify_received(document.id, ReceivedEnvelope(str(original_sender)))
        elif document is None and stored.document_id is not None:
            # Stored before the document joined the receipt's unit of work (an older release).
            status = self._recover(stored)
        log.info("duplicate AS4 message %s: original receipt returned", message_id)
        return ReceiveResult(
            ReceiveOutcome.DUPLICATE_MESSAGE,
            stored.signal.raw.body,
            message_id,
            message_id,
            stored.document_id,
            status,
        )

    def _recover(self, stored: AS4MessageRecord) -> InboundStatus | None:
        """Re-derive the inbound document of an accepted message from its stored raw bytes."""
        try:
            incoming = parse_incoming(
                first_headers(stored.request.headers),
                stored.request.body,
                our_key=self._identity,
                trust=self._trust,
                at=stored.created_at,  # judged as when it was accepted
                served=None,  # it was served then; the receipt is already given
                max_payload=self._max_payload,
            )
        except InboundMessageRejected as exc:
            # E.g. our key was rotated since. The receipt stands; the evidence is kept; an operator must act.
            log.error("cannot recover the document of accepted AS4 message %s: %s", stored.message_id, exc)
            return None
        assert stored.document_id is not None
        with self._store.unit_of_work() as uow:
            try:
                uow.inbound.add(
                    pending_document(stored, incoming, self._clock.now()),
                    DocumentContent(incoming.sbdh.business_document, None),
                )
            except DuplicateMessage:
                pass  # a concurrent duplicate delivery stored it first; validating again is harmless
            else:
                uow.commit()
        status = self._validate_and_record(
            stored.document_id, incoming.document_type, incoming.sbdh.business_document, stored.message_id
        )
        self._notify_received(stored.document_id, received_envelope(incoming))
        return status

    # -- rejected messages -----------------------------------------------------------------------------------

    def _reject(
        self,
        raw: RawHTTPMessage,
        exc: InboundMessageRejected,
        now: datetime,
        *,
        truncated: bool = False,
        authenticated: bool = False,
        received_bytes: int | None = None,
    ) -> ReceiveResult:
        ref = (
            exc.ref_to_message_id
            if exc.ref_to_message_id and len(exc.ref_to_message_id) <= MAX_ID_LENGTH
            else None
        )
        error: EbmsError = exc.ebms
        signal_id = f"{self._ids.new_id()}@{self._domain}"
        # Toward the peer only the generic short description and the public ErrorDetail (no oracle).
        body = build_error(
            ref,
            error,
            key=self._identity,
            message_id=signal_id,
            timestamp=now,
            detail=exc.error_detail,
            new_id=self._ids.new_id,
        )
        facts: JSONObject = {
            "signalMessageId": signal_id,
            "refToMessageId": ref,
            "errorCode": error.code,
            "errorDetail": exc.error_detail or None,
            "reason": exc.detail,  # internal: our store and log only
        }
        # Before the signer is authenticated only a prefix, bounded headers and hashes.
        kept = rejected_evidence(
            raw.headers,
            raw.body,
            RawHTTPMessage(_SIGNAL_HEADERS, body),
            self._evidence,
            facts=facts,
            authenticated=authenticated,
            truncated=truncated,
            received_bytes=received_bytes,
        )
        key = REJECTED_KEY_PREFIX + self._ids.new_id()
        record = AS4MessageRecord(
            message_id=key,
            direction=Direction.IN,
            request=RawHTTPMessage(kept.headers, kept.body),
            created_at=now,
            signal=AS4Signal(SignalKind.ERROR, kept.signal, now, error.code, kept.summary),
        )
        with self._store.unit_of_work() as uow:
            uow.messages.add(record)
            uow.commit()
        log.warning(
            "AS4 request rejected (%s, MessageId %s, evidence %s): %s", error.code, ref, key, exc.detail
        )
        return ReceiveResult(ReceiveOutcome.REJECTED, body, key, ref, ebms=error)
