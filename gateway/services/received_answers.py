"""Received business answers applied to the documents we sent: a Message Level Status (MLS) turns a
``delivered`` document into ``confirmed`` or ``rejected``; an Invoice Response (T111) tells the buyer's
answer in the reason and the timeline. Each change gets a timeline entry and a webhook.

Early answers. The receiving access point answers our message with a synchronous receipt, and may send its
MLS (and the buyer an AB Invoice Response) as separate AS4 messages at once - before our worker has
recorded that receipt (peppol-as4.md §12: the MLS follows the receipt, with no delay required of the sender).
Such an answer refers to a document still ``sending`` or ``retrying``; it is held (``pending_answers``)
instead of being dropped, and applied in the unit of work that records the receipt
(``after_receipt``, called by the deliverer). ``recover`` applies answers left held (e.g. by a worker
built without the hook) at the worker's start-up and periodically (``gateway serve``'s sweep). Holding
and recording serialise on the outbound document's row, so an answer is applied exactly once whichever
commits first.

The receiver applies (or holds) a new answer in the unit of work that records its verdict
(``receive_in``): a verdict is never committed without the answer's effect, so a store failure or a stop
after that commit loses nothing (a VALID document is never looked at again), and only the call that
records the verdict applies it (a document validated twice applies its answer once).

Authenticity is checked when the answer is applied, not only when it arrives:

* an MLS applies only when it came from the access point that signed our receipt (its seat id is the MLS
  message's verified From party, the receipt signer is the CN of the certificate we encrypted to);
* a T111 applies only when it came from the participant the invoice was sent to.

Answers that refer to nothing we ever sent are ignored, logged once, never held. A T111 names our document
by number and type code (``cbc:DocumentTypeCode``): an invoice and a credit note may share a number
(``gateway.model.number_series``), so a T111 whose code is absent or unknown while both exist answers the
one sent to its sender, and is ignored likewise rather than applied to a guess when both went to it.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, Final

from gateway.errors import GatewayError, InvalidTransition
from gateway.model.message import (
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    DocumentKind,
    InboundDocument,
    InboundStatus,
    OutboundDocument,
    apply_event,
)
from gateway.model.number_series import BILLING_TYPES, answered_types
from gateway.model.responses import MLSCode
from gateway.services.ports import Clock, DocumentStore, IDFactory, PendingAnswer, UnitOfWork
from gateway.services.webhooks import status_change_webhook
from gateway.ubl.application_response import ReadResponse, ResponseKind, read_application_response

log = logging.getLogger("gateway.answers")

_VERBS: Final = {
    "AB": "acknowledged",
    "IP": "in process",
    "UQ": "under query",
    "CA": "conditionally accepted",
    "RE": "rejected",
    "AP": "accepted",
    "PD": "paid",
}
_MAX_REASON: Final = 1000
#: Outbound kinds a T111 may answer.
_INVOICE_KINDS: Final = frozenset({DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE, DocumentKind.UBL})


class AnswerOutcome(StrEnum):
    """What became of a received answer."""

    APPLIED = "applied"
    HELD = "held"
    """Our receipt of the answered message is not recorded yet: applied when it is."""
    IGNORED = "ignored"


def awaits_receipt(document: OutboundDocument) -> bool:
    """True while our receipt of a SENT document is not recorded: sending, retrying, or failed after a
    message was built (a support retry may still deliver it)."""
    if document.status in (DeliveryStatus.SENDING, DeliveryStatus.RETRYING):
        return True
    return document.status is DeliveryStatus.FAILED and document.as4_message_id is not None


class ReceivedAnswers:
    """Applies received MLS and T111 to outbound documents, holding those that arrive before our receipt.

    Args:
        store: the document store.
        clock / ids: time and ids.
        seller_id: the seller key of our outbound invoices (T111 are matched by it and the number).
        webhook_url: status-change webhooks; None: none.
    """

    def __init__(
        self,
        *,
        store: DocumentStore,
        clock: Clock,
        ids: IDFactory,
        seller_id: str,
        webhook_url: str | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._seller_id = seller_id
        self._webhook_url = webhook_url

    def receive(self, document: InboundDocument, read: ReadResponse) -> AnswerOutcome:
        """Apply a newly received, valid answer now, or hold it until our receipt is recorded."""
        with self._store.unit_of_work() as uow:
            outcome = self.receive_in(uow, document, read)
            if outcome is not AnswerOutcome.IGNORED:
                uow.commit()
            return outcome

    def receive_in(self, uow: UnitOfWork, document: InboundDocument, read: ReadResponse) -> AnswerOutcome:
        """:meth:`receive` in the caller's unit of work: the receiver's, which records the answer's verdict,
        so that the verdict and the answer's effect (applied, or held) commit together or not at all.
        IGNORED writes nothing (the caller may commit its own work). The caller commits.

        Raises:
            StoreError: the store failed (roll the unit of work back).
        """
        target = self._target(uow, document, read)
        if target is None:
            return AnswerOutcome.IGNORED
        # Lock the document row first, then read the status: a receipt recorded meanwhile has either
        # committed (seen now) or waits for this commit and applies the answer held here. An answer
        # to a document whose receipt is recorded is applied at once, never written to the held ones.
        if not uow.answers.lock_document(target.id):
            return AnswerOutcome.IGNORED
        current = uow.outbound.get(target.id)
        if current is not None and awaits_receipt(current):
            uow.answers.hold(PendingAnswer(document.id, target.id, self._clock.now()))
            log.info(
                "%s %s about outbound document %s (%s) arrived before our receipt: held",
                read.kind,
                read.id,
                current.id,
                current.status.value,
            )
            return AnswerOutcome.HELD
        if current is None or not self._apply(uow, current, document, read):
            return AnswerOutcome.IGNORED  # nothing written
        return AnswerOutcome.APPLIED

    def after_receipt(self, uow: UnitOfWork, outbound_document_id: str) -> int:
        """Apply the answers held for a document, in the unit of work that has just recorded its receipt.

        An answer that cannot be read is dropped with a log line; one that fails its authenticity check is
        dropped likewise. Nothing here undoes the receipt: only store errors propagate.

        Returns:
            The number of answers applied.
        """
        return sum(
            self._settle(uow, held) is AnswerOutcome.APPLIED
            for held in uow.answers.for_document(outbound_document_id)
        )

    def recover(self, *, batch_size: int = 50) -> int:
        """Apply every held answer whose document's receipt is recorded by now (the worker's start-up pass and
        the periodic sweep of ``gateway serve``).

        Returns:
            The number of answers applied.

        Raises:
            StoreError: the store failed (what was applied before stays applied).
        """
        applied = 0
        after: PendingAnswer | None = None
        while True:
            # Found in a read-only unit of work: answers whose document still awaits our receipt may wait
            # indefinitely, and a writing unit of work each, every sweep tick, would take the store's write
            # lock for nothing (SQLite: BEGIN IMMEDIATE). ``_settle`` checks again: the status may change.
            with self._store.unit_of_work(read_only=True) as uow:
                page = uow.answers.settleable(limit=batch_size, after=after)
            if not page:
                return applied
            for held in page:
                with self._store.unit_of_work() as uow:
                    outcome = self._settle(uow, held)
                    if outcome is not AnswerOutcome.HELD:
                        uow.commit()
                if outcome is AnswerOutcome.APPLIED:
                    applied += 1
                    log.warning("held answer %s applied by the recovery pass", held.inbound_document_id)
            after = page[-1]

    # -- steps -------------------------------------------------------------------------------------------

    def _settle(self, uow: UnitOfWork, held: PendingAnswer) -> AnswerOutcome:
        """Take a held answer and apply it if its document's receipt is recorded (HELD: leave it, the
        caller must not commit)."""
        # The document first: an answer still waiting for our receipt is left without reading its body (the
        # recovery pass lists its candidates in an earlier unit of work: the status may have changed since).
        target = uow.outbound.get(held.outbound_document_id)
        if target is not None and awaits_receipt(target):
            return AnswerOutcome.HELD
        try:
            document = uow.inbound.get(held.inbound_document_id)
            content = uow.inbound.get_content(held.inbound_document_id)
            read = read_application_response(content.body) if content is not None else None
        except GatewayError as exc:
            document, read = None, None
            log.warning("held answer %s cannot be read: %s", held.inbound_document_id, exc)
        except Exception:  # a bug in reading must not undo the receipt recorded in this unit of work
            log.exception("held answer %s: reading it failed; left held", held.inbound_document_id)
            return AnswerOutcome.HELD
        if uow.answers.take(held.inbound_document_id) is None:
            return AnswerOutcome.IGNORED  # another unit of work took it
        if document is None or read is None or target is None:
            log.warning(
                "held answer %s dropped: its document is gone or unreadable", held.inbound_document_id
            )
            return AnswerOutcome.IGNORED
        return AnswerOutcome.APPLIED if self._apply(uow, target, document, read) else AnswerOutcome.IGNORED

    def _target(
        self, uow: UnitOfWork, document: InboundDocument, read: ReadResponse
    ) -> OutboundDocument | None:
        """The outbound document an answer refers to, if we sent it (and, for a T111, to its sender)."""
        if read.kind is ResponseKind.MLS:
            # The earliest message carrying the instance (as find_by_instance_id), without its bytes.
            sent = uow.messages.earliest_of_instance(read.document_id, Direction.OUT)
            target = uow.outbound.get(sent.document_id) if sent is not None and sent.document_id else None
            if target is None:
                log.warning("MLS %s refers to SBDH instance %s we did not send", read.id, read.document_id)
            return target
        # Numbers are unique per document type (number_series): the answer's type code says whether it
        # answers our invoice or our credit note of that number; without one, both are looked at. A code
        # naming the series where we sent no such number falls back to the other: buyers' systems write
        # 380 whatever they answer (every official T111 example does).
        both = [
            sent
            for sent in uow.outbound.find_by_number(self._seller_id, read.document_id, BILLING_TYPES)
            if sent.kind in _INVOICE_KINDS
        ]
        named = answered_types(read.document_type_code)
        found = [sent for sent in both if sent.document_type in named] or both
        if not found:
            log.warning("Invoice Response %s refers to %s, which we did not send", read.id, read.document_id)
            return None
        if len(found) > 1:
            # Series numbered apart share numbers by chance, often with different buyers: the one of them
            # sent to the answer's sender is the one it answers.
            found = [sent for sent in found if sent.receiver.key == document.sender.key] or found
        if len(found) > 1:
            log.warning(
                "Invoice Response %s refers to %s with type code %s: we sent both an invoice and a credit"
                " note of that number (%s), so it is ignored",
                read.id,
                read.document_id,
                read.document_type_code,
                ", ".join(sent.id for sent in found),
            )
            return None
        target = found[0]
        if not self._from_receiver(document, target, read):
            return None
        return target

    def _apply(
        self, uow: UnitOfWork, target: OutboundDocument, document: InboundDocument, read: ReadResponse
    ) -> bool:
        if document.status is not InboundStatus.VALID:
            return False
        if read.kind is ResponseKind.MLS:
            if not self._from_receipt_signer(uow, target, document, read):
                return False
            rejected = read.code == MLSCode.REJECTED.value
            event = DeliveryEvent.MLS_REJECTED if rejected else DeliveryEvent.MLS_ACCEPTED
            reason, detail = _mls_change(read, document)
        else:
            if not self._from_receiver(document, target, read):
                return False
            event = DeliveryEvent.RESPONSE_RECEIVED
            reason, detail = _response_change(read, document)
        try:
            # Checked first: a refused event must not spoil the unit of work (it may be the deliverer's).
            apply_event(target.status, event)
        except InvalidTransition as exc:
            log.warning(
                "%s %s from inbound document %s not applied: %s", read.kind, read.id, document.id, exc
            )
            return False
        change = uow.outbound.transition(target.id, event, at=self._clock.now(), reason=reason, detail=detail)
        log.info("outbound document %s: %s (%s)", target.id, event.value, reason)
        if self._webhook_url is not None:
            uow.outbox.add(
                status_change_webhook(
                    event_id=self._ids.new_id(), document=target, change=change, reason=reason
                )
            )
        return True

    @staticmethod
    def _from_receiver(document: InboundDocument, target: OutboundDocument, read: ReadResponse) -> bool:
        if target.receiver.key == document.sender.key:
            return True
        log.warning(
            "Invoice Response %s from %s about %s, sent to %s: ignored",
            read.id,
            document.sender,
            read.document_id,
            target.receiver,
        )
        return False

    @staticmethod
    def _from_receipt_signer(
        uow: UnitOfWork, target: OutboundDocument, document: InboundDocument, read: ReadResponse
    ) -> bool:
        # Only the access point that received the message may report on it: the MLS must come from the AP
        # whose certificate signed our receipt (its seat id, the From/PartyId verified on receipt). Every
        # message of the document with this SBDH instance counts (a rebuilt message keeps the instance).
        # Read without the messages' bytes (the whole request body of each).
        summaries = uow.messages.receipt_summaries(target.id, read.document_id, Direction.OUT)
        signers = {str(s["signer"]).upper() for s in summaries if s.get("signer")}
        summary = uow.messages.signal_summary(document.as4_message_id, Direction.IN)
        came_from = str((summary or {}).get("fromParty") or "")
        if came_from and came_from.upper() in signers:
            return True
        log.warning(
            "MLS %s about %s came from %s, but %s received it: ignored",
            read.id,
            target.id,
            came_from or None,
            ", ".join(sorted(signers)) or None,
        )
        return False


def _mls_change(read: ReadResponse, document: InboundDocument) -> tuple[str, dict[str, Any]]:
    details = "; ".join(f"{issue.reason or '?'}: {issue.description or ''}".strip() for issue in read.issues)
    if read.code == MLSCode.REJECTED.value:
        reason = f"rejected by the receiving access point (MLS RE): {read.description or ''} {details}"
    else:
        reason = f"accepted by the receiving access point (MLS {read.code})"
    detail = {
        "mls_id": read.id,
        "mls_code": read.code,
        "description": read.description,
        "issues": [
            {"line": i.line_id, "reason": i.reason, "description": i.description} for i in read.issues
        ],
        "inbound_document_id": document.id,
    }
    return reason.strip()[:_MAX_REASON], detail


def _response_change(read: ReadResponse, document: InboundDocument) -> tuple[str, dict[str, Any]]:
    verb = _VERBS.get(read.code, read.code)
    codes = [*read.reasons, *read.actions]
    text = "; ".join(read.texts)
    reason = f"{verb} by buyer" + (f" ({', '.join(codes)})" if codes else "") + (f": {text}" if text else "")
    detail = {
        "response_id": read.id,
        "response_code": read.code,
        "reasons": list(read.reasons),
        "actions": list(read.actions),
        "note": text or None,
        "effective_date": read.effective_date,
        "inbound_document_id": document.id,
    }
    return reason[:_MAX_REASON], detail
