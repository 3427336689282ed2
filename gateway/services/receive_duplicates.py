"""A MessageId accepted before: the original receipt again, byte-identical (Holodeck style, peppol-as4.md
§14 #9), finishing the inbound document if an earlier attempt stopped between its two commits (in worker
mode, ``GATEWAY_AS4__AFTER_RECEIPT=worker``, a pending document is left to the workers' claims); another
access point reusing the MessageId gets EBMS:4001 and nothing is stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from gateway.as4 import EbmsError
from gateway.errors import DuplicateMessage, InboundMessageRejected
from gateway.model.message import Direction, RawHTTPMessage
from gateway.services.ports import DocumentStore
from gateway.services.receive_finish import InboundFinisher, ReceivedFacts
from gateway.services.receive_records import is_pending, stored_envelope
from gateway.services.receive_recovery import PendingRecovery
from gateway.services.receive_rejection import Rejection
from gateway.services.receive_result import ReceiveOutcome, ReceiveResult

log = logging.getLogger("gateway.receive")


@dataclass(frozen=True, slots=True)
class DuplicateMessages:
    """Answers repeated MessageIds. Thread-safe: every call opens its own units of work."""

    store: DocumentStore
    finisher: InboundFinisher
    recovery: PendingRecovery
    rejection: Rejection

    def answer(
        self,
        message_id: str,
        *,
        sender: str,
        raw: RawHTTPMessage,
        now: datetime,
        leave_pending: bool = False,
    ) -> ReceiveResult:
        """Answer a MessageId accepted before with its original receipt (only to the AP that sent it).

        Args:
            leave_pending: its document, if still pending, is left to the ``gateway worker`` processes
                (``GATEWAY_AS4__AFTER_RECEIPT=worker``): they claim it (``InboundRepository.claim_pending``),
                or take it over once a dead worker's claim has run out, and the pending sweep covers it;
                validating it here too would ignore their claims and spend the validation twice. False
                (serve mode): a pending document not held for its work after the receipt is finished here.
                Either way a document missing from the store (an older release stored the message
                alone) is re-derived from the message's evidence and finished here: no worker could
                claim it.

        Raises:
            StoreError: the store failed.
        """
        with self.store.unit_of_work(read_only=True) as uow:
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
            return self.rejection.reject(raw, clash, now)
        status = document.status if document is not None else None
        if (
            document is not None
            and is_pending(document)
            and not leave_pending
            and not self.finisher.held(document.id)
        ):
            # An earlier attempt stopped between the two commits (not merely answered and still being
            # validated here, which would validate it twice): finish it now. In worker mode a pending
            # document is the workers': one claims it, or takes it over once a claim has run out (and the
            # sweep).
            with self.store.unit_of_work(read_only=True) as uow:
                content = uow.inbound.get_content(document.id)
            if content is not None:
                facts = ReceivedFacts(
                    document.id,
                    document.document_type,
                    document.sender,
                    message_id,
                    stored_envelope(stored),
                    document.receiver,
                )
                status = self.finisher.finish(facts, content.body).status
        elif document is None and stored.document_id is not None:
            # Stored before the document joined the receipt's unit of work (an older release).
            status = self.recovery.from_evidence(stored)
        log.info("duplicate AS4 message %s: original receipt returned", message_id)
        return ReceiveResult(
            ReceiveOutcome.DUPLICATE_MESSAGE,
            stored.signal.raw.body,
            message_id,
            message_id,
            stored.document_id,
            status,
        )
