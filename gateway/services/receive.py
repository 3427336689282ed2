"""Receive one Peppol AS4 UserMessage (peppol-as4.md §13): parse, keep the exact bytes as evidence, answer
with a signed Receipt or ebMS Error, store and validate the business document. The recipe behind POST /as4.

Evidence keys: an accepted message is stored under its eb:MessageId (direction IN); a rejected request under a
generated key ``rejected-<uuid>`` (its claimed id is unverified and must not block the genuine message).

The parts: ``receive_result`` (what a request ended with), ``receive_rejection`` (the signed ebMS Error and
its evidence), ``receive_duplicates`` (a MessageId seen before), ``receive_finish`` (validation, verdict and
hand-on after the receipt) and ``receive_recovery`` (documents whose validation was cut short).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from gateway.as4 import (
    CODED_BODY_REFUSED,
    DEFAULT_MAX_PAYLOAD_BYTES,
    EbmsError,
    IncomingUserMessage,
    build_receipt,
    declared_coding,
    parse_incoming,
)
from gateway.crypto import CertificateVerdicts, KeyMaterial, RevocationChecker, TrustStore
from gateway.errors import DuplicateMessage, InboundMessageRejected
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    Direction,
    DocumentContent,
    HTTPHeaders,
    InboundStatus,
    RawHTTPMessage,
    SignalKind,
)
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS
from gateway.services.expense_intake import ValidatedInbound
from gateway.services.inbound_webhooks import InvalidReceipt
from gateway.services.message_status import ReceivedEnvelope
from gateway.services.ports import (
    Clock,
    DocumentStore,
    DocumentValidator,
    IDFactory,
    InstanceMessage,
    UnitOfWork,
)
from gateway.services.receive_duplicates import DuplicateMessages
from gateway.services.receive_finish import InboundFinisher, ReceivedFacts, VerdictAnswer
from gateway.services.receive_records import (
    first_headers,
    pending_document,
    receipt_summary,
    received_envelope,
    same_document,
)
from gateway.services.receive_recovery import PendingRecovery
from gateway.services.receive_rejection import Rejection
from gateway.services.receive_result import (
    MAX_ID_LENGTH,
    MAX_IDENTIFIER_LENGTH,
    SIGNAL_HEADERS,
    ReceiveOutcome,
    ReceiveResult,
)
from gateway.services.receive_validation import SIZE_RULE
from gateway.services.rejected_evidence import (
    DEFAULT_MAX_REJECTED_EVIDENCE_BYTES,
    REJECTED_KEY_PREFIX,
    EvidenceLimits,
    without_credentials,
)
from gateway.services.reporting_records import received_transmission
from gateway.xmlcore.held import HeldDocument

log = logging.getLogger("gateway.receive")

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "MAX_ID_LENGTH",
    "REJECTED_KEY_PREFIX",
    "SIZE_RULE",
    "AS4Receiver",
    "AfterReceipt",
    "ReceiveOutcome",
    "ReceiveResult",
]


@dataclass(frozen=True, slots=True, eq=False)
class AfterReceipt:
    """The work after a new message's receipt (``AS4Receiver.receive(defer=...)``): calling it validates,
    records and hands on the document (StoreError: the verdict could not be recorded; call it again).

    The document is held for it (``InboundFinisher.hold``) until the caller calls ``release``: the sweep
    and a resend of the message leave the document alone meanwhile, the pauses between its tries
    included. The caller releases it once it has run for the last time, or at once when it will not run
    it (the answer's send raised or the request's task was cancelled), so that they finish the document
    then instead of once the hold has passed.

    Attributes:
        document_id: the received document.
        size: its bytes, held in memory by the work until it has run.
    """

    document_id: str
    size: int
    _run: Callable[[], InboundStatus]
    _release: Callable[[], None]

    def __call__(self) -> InboundStatus:
        return self._run()

    def release(self) -> None:
        """The document is no longer held for this work (it ran for the last time, or will not run)."""
        self._release()


class AS4Receiver:
    """The receive use case. Thread-safe: every call opens its own units of work.

    Args:
        store: the document store.
        validator: the validation engine.
        identity: our AP key and certificate (decrypts; signs signals; eb:To must be its CN).
        trust: AP trust anchors of our stage.
        served: participants we receive for.
        spid: our Service Provider Id (``0242:…``) when we receive Message Level Status: other access points
            address their MLS to it, and nothing else (a business document sent to it is not served, as for
            any participant we do not serve; listed in ``served``, it takes every document).
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
            was recorded (received business responses, ``services/message_status.py``); its failures are
            logged, never answered to the sender (the receipt is already committed).
        mls: decides a document's MLS before its verdict is recorded and queues it in the verdict's unit of
            work (``MessageStatusService``): a verdict is never committed without its MLS.
        on_valid: called with the unit of work that records a VALID verdict, the document id and its draft
            facts (read from the tree its validation parsed): the expense workflow stores the draft in
            that unit of work, without reading the document back or parsing it again. If it raises, the
            verdict is recorded alone (the expense recovery drafts it); never answered to the sender.
        on_invalid: called with the unit of work that records an INVALID verdict and what it tells
            (``services/inbound_webhooks.py``: the ``inbound.invalid`` webhook, committed with the verdict).
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
        on_valid: Callable[[UnitOfWork, str, ValidatedInbound], object] | None = None,
        mls: VerdictAnswer | None = None,
        our_country: str = "BE",
        on_invalid: Callable[[UnitOfWork, InvalidReceipt], object] | None = None,
        spid: ParticipantID | None = None,
    ) -> None:
        self._our_country = our_country
        self._store = store
        self._identity = identity
        self._trust = trust
        self._served = frozenset(served)
        self._spid = spid
        self._clock = clock
        self._ids = ids
        self._domain = message_id_domain
        self._revocation = revocation
        self._max_payload = max_payload
        # The senders' certificate paths that validated (bounded, time-limited; revocation asked each time).
        self._verdicts = CertificateVerdicts()
        self._finisher = InboundFinisher(
            store=store,
            validator=validator,
            clock=clock,
            rule_set=rule_set,
            max_document=max_document,
            on_received=on_received,
            on_valid=on_valid,
            mls=mls,
            on_invalid=on_invalid,
        )
        evidence = evidence or EvidenceLimits(authenticated_body=max_rejected_evidence)
        self._rejection = Rejection(store, identity, ids, message_id_domain, evidence)
        self._recovery = PendingRecovery(store, self._finisher, clock, identity, trust, max_payload)
        self._duplicates = DuplicateMessages(store, self._finisher, self._recovery, self._rejection)

    def _serves(self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID) -> bool:
        """Whether a message for ``receiver`` of ``document_type`` is ours to receive: a participant we
        serve, or our SPID for an MLS (the one document other access points address to it)."""
        if receiver in self._served:
            return True
        return receiver == self._spid and (document_type, process) == (MLS_DOCUMENT_TYPE, MLS_PROCESS)

    # -- entry points ------------------------------------------------------------------------------------

    def receive(
        self,
        headers: HTTPHeaders,
        body: bytes,
        *,
        defer: Callable[[AfterReceipt], bool | None] | None = None,
        leave_pending: bool = False,
    ) -> ReceiveResult:
        """Handle one POST /as4 body.

        Args:
            headers: the HTTP request header fields in wire order.
            body: the HTTP body, byte-exact.
            defer: given, a new message's validation, record, MLS and expense are handed to it as one
                callable (status RECEIVED here), for the caller to run after answering the receipt. The
                callable raises StoreError when the verdict cannot be recorded. If it returns False (it
                takes no more work), the document stays pending: the sweep or a start-up finishes it. A
                caller that took it calls its ``release`` once it ran it for the last time, or at once
                when it will not run it (the answer's send raised or the request's task was cancelled):
                the document is then the sweep's, or a resend's.
                None: all run here.
            leave_pending: a new message's document is left pending (status RECEIVED) with nothing run,
                queued or held here: the ``gateway worker`` processes finish it (``finish_next_pending``;
                ``GATEWAY_AS4__AFTER_RECEIPT=worker``), else the sweep or a start-up. ``defer`` is unused.
                A resend of a MessageId whose document is still pending gets its original receipt and
                leaves the document to them too (not validated here beside a worker's claim).

        Returns:
            The signal to answer with (HTTP 200) and what was stored.

        Raises:
            StoreError: the store failed; nothing was answered, so answer 5xx and let the sender retry.
        """
        now = self._clock.now()
        raw = RawHTTPMessage(without_credentials(headers), body)
        if sum(name.lower() == "content-type" for name, _ in headers) > 1:
            # Not a list field (RFC 9110 §5.3): a proxy that keeps the last would read another message.
            twice = InboundMessageRejected(EbmsError.INVALID_HEADER, "Content-Type header field sent twice")
            return self._rejection.reject(raw, twice, now, authenticated=False)
        coding = declared_coding(headers)
        if coding is not None:
            coded = InboundMessageRejected(
                EbmsError.INVALID_HEADER,
                f"HTTP Content-Encoding {coding!r} is not supported",
                error_detail=CODED_BODY_REFUSED,
            )
            return self._rejection.reject(raw, coded, now, authenticated=False)
        try:
            incoming = parse_incoming(
                first_headers(headers),
                body,
                our_key=self._identity,
                trust=self._trust,
                at=now,
                revocation=self._revocation,
                served=self._serves,
                max_payload=self._max_payload,
                verdicts=self._verdicts,
            )
        except InboundMessageRejected as exc:
            return self._rejection.reject(raw, exc, now, authenticated=exc.signer_authenticated)
        # From here on the signer is authenticated: a rejection keeps the larger evidence.
        if len(incoming.message_id) > MAX_ID_LENGTH:
            too_long = InboundMessageRejected(EbmsError.INVALID_HEADER, "MessageId too long")
            return self._rejection.reject(raw, too_long, now, authenticated=True)
        if len(incoming.sbdh.instance_id) > MAX_ID_LENGTH:
            too_long = InboundMessageRejected(
                EbmsError.OTHER, "SBDH InstanceIdentifier too long", ref_to_message_id=incoming.message_id
            )
            return self._rejection.reject(raw, too_long, now, authenticated=True)
        for name, identifier in (("document type", incoming.document_type), ("process", incoming.process)):
            if len(identifier.uri) > MAX_IDENTIFIER_LENGTH:
                too_long = InboundMessageRejected(
                    EbmsError.OTHER, f"{name} identifier too long", ref_to_message_id=incoming.message_id
                )
                return self._rejection.reject(raw, too_long, now, authenticated=True)
        return self._accept(raw, incoming, now, defer, leave_pending=leave_pending)

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
        return self._rejection.reject(
            raw, too_big, self._clock.now(), truncated=True, received_bytes=received_bytes
        )

    # -- accepted messages ---------------------------------------------------------------------------------

    def _accept(
        self,
        raw: RawHTTPMessage,
        incoming: IncomingUserMessage,
        now: datetime,
        defer: Callable[[AfterReceipt], bool | None] | None,
        *,
        leave_pending: bool = False,
    ) -> ReceiveResult:
        receipt_id = f"{self._ids.new_id()}@{self._domain}"
        receipt = build_receipt(
            incoming, key=self._identity, message_id=receipt_id, timestamp=now, new_id=self._ids.new_id
        )
        summary = receipt_summary(incoming, receipt_id, now)
        signal = AS4Signal(SignalKind.RECEIPT, RawHTTPMessage(SIGNAL_HEADERS, receipt), now, None, summary)
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
        with self._store.unit_of_work() as uow:
            # The earliest stored message of this SBDH instance, without its bytes: an index probe finding
            # nothing for a first delivery. A sender resending its MessageId is among the instance's
            # messages (the same SBDH; a primary-key probe, however often the instance was reused):
            # the duplicate path at once, no document read or compared in this (write) unit of work. A
            # MessageId received before under another instance is refused by the message's primary key.
            check = uow.messages.instance_check(incoming.sbdh.instance_id, incoming.message_id, Direction.IN)
            resent = check.resent
            original = None if resent else same_document(uow, check.earliest, business)
            if original is not None:
                summary = {**summary, "duplicateOfMessageId": original.message_id}
                signal = replace(signal, receipt_summary=summary)
                record = replace(record, document_id=original.document_id, signal=signal)
            stored = not resent and self._store_received(
                uow, record, incoming, business, now, original, wake_workers=leave_pending
            )
        if not stored:
            # A resend (or a concurrent delivery) of an accepted MessageId; in worker mode its document, if
            # still pending, stays the workers' to claim.
            return self._duplicates.answer(
                incoming.message_id, sender=incoming.from_party, raw=raw, now=now, leave_pending=leave_pending
            )
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
        if leave_pending:  # committed pending with its receipt: a worker finishes it (or the sweep)
            return ReceiveResult(
                ReceiveOutcome.ACCEPTED,
                receipt,
                incoming.message_id,
                incoming.message_id,
                record.document_id,
                InboundStatus.RECEIVED,
            )
        facts = ReceivedFacts(
            record.document_id,
            incoming.document_type,
            incoming.sbdh.sender,
            incoming.message_id,
            received_envelope(incoming),
            incoming.sbdh.receiver,
        )
        # The work after the receipt holds the document in a HeldDocument only (the request's objects are
        # gone by then when it is deferred): its validation can spill a large one to a temporary file
        # while Saxon works on it (BENCHMARKS.md, *Memory, fifteenth pass*).
        finish = AfterReceipt(
            record.document_id,
            len(business),
            # Deferred, the caller releases the hold once its last try is over (not between tries).
            partial(self._after_receipt, facts, HeldDocument(business), release=defer is None),
            partial(self._finisher.release, record.document_id),
        )
        if defer is None:
            status = finish()
        else:
            self._finisher.hold(record.document_id)
            # The caller answers the receipt first (evidence is committed), then runs it.
            if defer(finish) is False:
                finish.release()
                log.warning(
                    "AS4 message %s accepted: inbound document %s left pending for the sweep (too much "
                    "work after receipts waiting in this process)",
                    incoming.message_id,
                    record.document_id,
                )
            status = InboundStatus.RECEIVED
        return ReceiveResult(
            ReceiveOutcome.ACCEPTED,
            receipt,
            incoming.message_id,
            incoming.message_id,
            record.document_id,
            status,
        )

    def _store_received(
        self,
        uow: UnitOfWork,
        record: AS4MessageRecord,
        incoming: IncomingUserMessage,
        business: bytes,
        now: datetime,
        original: InstanceMessage | None,
        *,
        wake_workers: bool,
    ) -> bool:
        """Store and commit the received message with its receipt, its document (unless ``original``
        already holds it; ``wake_workers``: left to the workers, woken by the commit) and its reporting
        record; False if the MessageId is stored already (received before, or a concurrent delivery of it
        won): the duplicate path."""
        try:
            uow.messages.add(record)
        except DuplicateMessage:
            return False
        if original is None:
            uow.inbound.add(
                pending_document(record, incoming, now),
                DocumentContent(business, None),
                wake_workers=wake_workers,
            )
        # Peppol reporting (peppol-as4.md §11): every accepted transmission, with its receipt.
        counted = received_transmission(incoming, received_at=now, our_country=self._our_country)
        if counted is not None:
            uow.reporting.record(counted)
        uow.commit()
        return True

    def _after_receipt(self, facts: ReceivedFacts, business: HeldDocument, *, release: bool) -> InboundStatus:
        """Validate and record an accepted message's document, hand it on (MLS, expense); StoreError: the
        verdict could not be recorded (the document stays pending: run it again). ``release``: its hold
        ends with this call, whatever its outcome (otherwise ``AfterReceipt.release`` ends it)."""
        try:
            status = self._finisher.finish(facts, business).status
        finally:
            if release:
                self._finisher.release(facts.document_id)
        log.info(
            "AS4 message %s accepted: inbound document %s (%s)",
            facts.message_id,
            facts.document_id,
            status.value,
        )
        return status

    # -- recovery ----------------------------------------------------------------------------------------

    def finish_next_pending(self, *, claim_for: timedelta) -> bool:
        """Claim the oldest received document awaiting validation that no other call has claimed within
        ``claim_for`` and finish it (``PendingRecovery.next``): the loop of ``gateway worker`` with
        ``GATEWAY_AS4__AFTER_RECEIPT=worker``. Concurrent callers, in any process, claim different documents.

        Returns:
            False when no document was left to claim.

        Raises:
            StoreError: the store failed (the claimed document stays pending: claimable again once its
                claim has run out, and the sweep's).
        """
        return self._recovery.next(claim_for=claim_for)

    def recover_pending(self, *, batch_size: int = 50) -> int:
        """Validate every inbound document still awaiting validation (a crash or store failure between
        the receipt's commit and the validation's). Call it at start-up; safe beside live traffic (a
        verdict is recorded, and the document handed on, only once).

        Returns:
            The number of documents validated.

        Raises:
            StoreError: the store failed (what was recorded before stays recorded).
        """
        return self._recovery.pending(batch_size=batch_size)

    def sweep_pending(
        self, *, older_than: timedelta, batch_size: int = 50, claim_for: timedelta | None = None
    ) -> int:
        """Like :meth:`recover_pending` for the documents received before ``now - older_than`` only,
        stepping over those whose work after the receipt is still to run here: the periodic sweep of
        ``gateway serve``, which finishes a document whose verdict could not be recorded (store down)
        without waiting for the next start-up and never races the work after a fresh receipt.

        With ``claim_for`` (``GATEWAY_AS4__AFTER_RECEIPT=worker``: workers claim the documents) the sweep
        claims each document as a worker does (:meth:`finish_next_pending`): it steps over those a worker
        claimed less than ``claim_for`` ago, and no worker takes one it is validating.

        Returns:
            The number of documents validated (with ``claim_for``: claimed and finished).

        Raises:
            StoreError: the store failed.
        """
        if claim_for is None:
            return self._recovery.pending(batch_size=batch_size, older_than=older_than)
        received_before = self._clock.now() - older_than
        taken = 0
        while self._recovery.next(claim_for=claim_for, received_before=received_before):
            taken += 1
        return taken
