"""Business-level answers around a received document: send the Message Level Status (MLS) back to the
sending access point, and apply the MLS and Invoice Responses (T111) we receive to the documents we sent.

MLS sending policy (peppol-as4.md §8 and §12; MLS 1.0.1):

* One MLS per received business document, never for an MLS (no MLS answers an MLS).
* Verdict: RE when our validation found a fatal rule (SV for XSD/syntax findings, BV for business rules;
  each finding one LineResponse), AP when the document is valid and stored for the final recipient (this
  gateway is C3 and hands the document to C4 itself), AB when it was stored but could not be validated (no
  rule set for its type, or our engine failed).
* MLS_TYPE: ``FAILURE_ONLY`` (also when the scope is absent, its default) sends only RE; ``ALWAYS_SEND``
  sends every verdict.
* Addressee: the SBDH MLS_TO scope (``0242:<SPID>``) when it is a valid SPID; otherwise (absent, or invalid:
  only a warning per the envelope spec) the SPID of the sending AP's certificate (its seat id
  ``PXX<6 digits>`` -> ``0242:<6 digits>``). The addressee must be resolvable through the EndpointResolver
  for the MLS document type; if it is not, nothing is queued and the reason is logged.
* Every MLS is validated with the ApplicationResponse XSD and the official MLS XSLT before it is queued; one
  with a fatal finding is never sent (logged with its report).

Received answers:

* An MLS refers to the SBDH InstanceIdentifier of a message we sent: the document turns from ``delivered``
  into ``confirmed`` (AP, AB) or ``rejected`` (RE, with the reasons), with a timeline entry and a webhook.
  Only the AP that signed our receipt may send it (its seat id is the MLS message's verified From party).
* A T111 refers to the number (BT-1) of an invoice we sent: the document keeps its status; the reason, the
  timeline and a webhook tell the buyer's answer ("rejected by buyer: …"). Only the participant the invoice
  was sent to may answer for it.
* Applying them is ``services/received_answers.py``'s job; an answer that arrives before our receipt of the
  message it answers is recorded is held there and applied with the receipt. The receiver applies (or
  holds) an answer in the unit of work that records its verdict (:meth:`MessageStatusService.answer`):
  a VALID answer is never committed without its effect, so a failure after that commit loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from gateway.errors import GatewayError, InvalidIdentifier, StoreError
from gateway.model.identifiers import DocumentTypeID, ParticipantID
from gateway.model.message import DocumentKind, InboundDocument, InboundStatus
from gateway.model.responses import (
    MLS_DOCUMENT_TYPE,
    MLS_PROCESS,
    MessageLevelStatus,
    MLSCode,
    MLSIssue,
    MLSReason,
    MLSType,
    spid_of_seat,
    spid_participant,
)
from gateway.services.ports import Clock, DocumentStore, DocumentValidator, IDFactory, UnitOfWork
from gateway.services.received_answers import ReceivedAnswers
from gateway.services.responses import MLS_RULE_SET, CapabilityCheck, QueuedResponse, queue_response
from gateway.ubl.application_response import (
    ReadResponse,
    ResponseKind,
    build_mls,
    read_application_response,
)

log = logging.getLogger("gateway.mls")

#: Most line issues written into one MLS (a broken document can fire hundreds of rules).
MAX_ISSUES: Final = 50
APPLICATION_RESPONSE_NS: Final = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"


@dataclass(frozen=True, slots=True)
class ReceivedEnvelope:
    """What the receiver knows of a new message beyond the stored document (its SBDH is not stored; the
    receipt summary keeps the scopes below for the paths that finish a stored document).

    Attributes:
        from_party: the sending AP's From/PartyId (its certificate CN, the seat id).
        mls_to: the SBDH MLS_TO scope as written, if any.
        mls_type: the SBDH MLS_TYPE scope as written, if any.
        instance_id: the SBDH InstanceIdentifier (the MLS refers to it), if known.
        recorded: the verdict this call recorded, if handed on by the receiver (see :class:`RecordedVerdict`).
    """

    from_party: str
    mls_to: str | None = None
    mls_type: str | None = None
    instance_id: str | None = None
    recorded: RecordedVerdict | None = None


@dataclass(frozen=True, slots=True)
class RecordedVerdict:
    """The verdict the receiver has just recorded for a new document, handed on with the envelope so that
    the MLS is decided without reading the document back (``ReceivedEnvelope.recorded``).

    Attributes:
        document_type: the document's type.
        status / report: the validation status and report as recorded.
        business: the document's bytes as received and stored, handed on for an answer (MLS, T111) so
            that it is applied without reading its body back from the store; None: read it back.
        answered: the answer it carries was applied (or held until our receipt) in the verdict's unit of
            work (:meth:`MessageStatusService.answer`), or it carries none to apply: nothing is left to do
            after the commit.
    """

    document_type: DocumentTypeID
    status: InboundStatus
    report: dict[str, Any] | None
    business: bytes | None = None
    answered: bool = False


@dataclass(frozen=True, slots=True)
class PlannedMLS:
    """An MLS decided and built for a received document, to be queued with its verdict
    (:meth:`MessageStatusService.prepare`, then :meth:`MessageStatusService.queue` in the verdict's unit of
    work).

    Attributes:
        document_id: the received document it answers.
        code: its verdict (AP, AB, RE).
        response: the MLS and its validation report.
        refused: why it failed its own validation (recorded failed, never sent), or None.
        at: when it was built (its queueing time).
    """

    document_id: str
    code: MLSCode
    response: QueuedResponse
    refused: str | None
    at: datetime


def is_application_response(document: InboundDocument) -> bool:
    """True for a received UBL ApplicationResponse (T111, MLS, MLR): never an expense draft."""
    return document.document_type.root_namespace == APPLICATION_RESPONSE_NS


class MessageStatusService:
    """Sends MLS for received documents and applies received MLS / T111 to outbound documents.

    Args:
        store: the document store.
        validation: runs the MLS rule set.
        can_receive: capability check of the MLS addressee (``endpoint_capability(resolver)``); None: no
            directory is configured, so no MLS can be routed (received answers are still applied).
        clock / ids: time and ids.
        our_spid: our SPID participant (``0242:…``), the MLS SenderParty; None disables sending MLS.
        seller_id: the seller key of our outbound invoices (T111 are matched by it and the number).
        webhook_url: status-change webhooks.
        answer_delay: an MLS is first sent this much later than queued, a courtesy to sending APs that
            drop an MLS arriving before they recorded our receipt (we hold such answers ourselves:
            ``services/received_answers.py``; ``GATEWAY_RESPONSES__ANSWER_DELAY_SECONDS``).
        answers: applies received MLS / T111 (default: one over ``store``, ``clock``, ``ids``,
            ``seller_id`` and ``webhook_url``).
    """

    def __init__(
        self,
        *,
        store: DocumentStore,
        validation: DocumentValidator,
        can_receive: CapabilityCheck | None,
        clock: Clock,
        ids: IDFactory,
        our_spid: ParticipantID | None,
        seller_id: str,
        webhook_url: str | None = None,
        answer_delay: timedelta = timedelta(0),
        answers: ReceivedAnswers | None = None,
    ) -> None:
        self._store = store
        self._validation = validation
        self._can_receive = can_receive
        self._clock = clock
        self._ids = ids
        self._our_spid = our_spid
        self._seller_id = seller_id
        self._webhook_url = webhook_url
        self._answer_delay = answer_delay
        self._answers = answers or ReceivedAnswers(
            store=store, clock=clock, ids=ids, seller_id=seller_id, webhook_url=webhook_url
        )

    @property
    def answers(self) -> ReceivedAnswers:
        """The service applying received MLS and Invoice Responses (also the deliverer's receipt hook)."""
        return self._answers

    def on_received(self, document_id: str, envelope: ReceivedEnvelope) -> str | None:
        """Handle a newly received, validated document: apply it if it is an answer, then queue its MLS.

        Given ``envelope.recorded`` (the receiver hands the verdict it has just recorded on), the MLS was
        queued with that verdict (:meth:`prepare` and :meth:`queue`): only an answer is applied here.

        Returns:
            The id of the MLS outbound document queued by this call, or None.
        """
        known = envelope.recorded
        if known is not None and known.document_type.root_namespace != APPLICATION_RESPONSE_NS:
            return None  # a business document: nothing to apply, its MLS went with its verdict
        if known is not None and known.answered:
            return None  # applied or held with its verdict (one commit): applying it again would repeat it
        # An answer handed on with its verdict comes with its bytes (the stored ones): not read back.
        body = known.business if known is not None else None
        with self._store.unit_of_work(read_only=True) as uow:
            document = uow.inbound.get(document_id)
            # The content (body and report) is read only when something here uses it: an answer to apply,
            # or an MLS to decide (not when MLS is off, nor when it went with the verdict).
            needed = document is not None and (
                is_application_response(document) or (self._sends_mls and known is None)
            )
            content = uow.inbound.get_content(document_id) if needed and body is None else None
        if document is None or (needed and body is None and content is None):
            log.error("inbound document %s vanished before its MLS", document_id)
            return None
        if content is not None:
            body = content.body
        if not needed or body is None:
            return None
        read: ReadResponse | None = None
        if is_application_response(document):
            try:
                read = read_application_response(body)
            except GatewayError as exc:
                log.info("inbound ApplicationResponse %s is no T111 or MLS: %s", document_id, exc)
        if read is not None and document.status is InboundStatus.VALID:
            self._answers.receive(document, read)
        if known is not None or (read is not None and read.kind is ResponseKind.MLS):
            return None  # its MLS went with its verdict; no MLS answers an MLS
        if document.document_type == MLS_DOCUMENT_TYPE:
            return None
        report = content.validation_report if content is not None else None  # known is None: content read
        planned = self._plan(document.id, document.status, document.sbdh_instance_id, report, envelope)
        if planned is None:
            return None
        with self._store.unit_of_work() as uow:
            mls_document = self.queue(uow, planned)
            uow.commit()
        self.queued(planned, mls_document)
        return None if planned.refused is not None else mls_document

    def prepare(
        self,
        document_id: str,
        envelope: ReceivedEnvelope,
        read: ReadResponse | None,
        *,
        awaited: Callable[[], bool] | None = None,
    ) -> PlannedMLS | None:
        """Decide and build the MLS of a document whose verdict is about to be recorded (no store access of
        its own: called before the verdict's unit of work opens, as it validates the MLS and may ask the
        directory).

        Args:
            document_id: the received document.
            envelope: its envelope facts with the verdict to record (``recorded``; None: no MLS).
            read: what the document, an ApplicationResponse, reads as (:meth:`read_answer`): an MLS is never
                answered; None: any other document, or one not readable as MLS or T111.
            awaited: asked once an MLS is to be sent, before the directory is asked and the MLS built and
                validated: False when the document's verdict was recorded meanwhile by another call (which
                queued its MLS with it), so none is built here. Only a hint that saves that work: the
                verdict's conditional record stays what decides which call queues the MLS.

        Returns:
            The MLS to :meth:`queue` in the verdict's unit of work, or None when none is sent (or
            ``awaited`` said the verdict is recorded already).
        """
        known = envelope.recorded
        if known is None or not self._sends_mls or known.document_type == MLS_DOCUMENT_TYPE:
            return None
        if read is not None and read.kind is ResponseKind.MLS:
            return None  # no MLS answers an MLS (one not readable as MLS or T111: like any other document)
        return self._plan(document_id, known.status, envelope.instance_id, known.report, envelope, awaited)

    def read_answer(
        self, document_id: str, envelope: ReceivedEnvelope, business: bytes | None
    ) -> ReadResponse | None:
        """The answer (MLS, T111) a received document whose verdict is about to be recorded carries, read once
        for both :meth:`prepare` (an MLS is never answered) and, VALID, :meth:`answer` (applied in the
        verdict's unit of work). None: not an ApplicationResponse, not held, none readable as MLS or T111
        (logged when VALID), or neither needs it (not VALID, and no MLS to decide). No store access."""
        known = envelope.recorded
        if known is None or business is None:
            return None
        if known.document_type.root_namespace != APPLICATION_RESPONSE_NS:
            return None
        valid = known.status is InboundStatus.VALID
        if not valid and (not self._sends_mls or known.document_type == MLS_DOCUMENT_TYPE):
            return None  # nothing to apply, and prepare does not look at it
        try:
            return read_application_response(business)
        except GatewayError as exc:
            if valid:
                log.info("inbound ApplicationResponse %s is no T111 or MLS: %s", document_id, exc)
            return None

    def answer(self, uow: UnitOfWork, document_id: str, read: ReadResponse) -> None:
        """Apply a received answer (see :meth:`read_answer`) to the document we sent, or hold it until our
        receipt, in ``uow``: the one that has just recorded its VALID verdict, so that both commit or
        neither (``ReceivedAnswers.receive_in``). The caller commits.

        Raises:
            StoreError: the store failed (roll the unit of work back: the document stays pending).
        """
        document = uow.inbound.get(document_id)
        if document is None:  # recorded in this very unit of work: a broken store
            raise StoreError(f"inbound document {document_id} vanished in its verdict's unit of work")
        self._answers.receive_in(uow, document, read)

    def queue(self, uow: UnitOfWork, planned: PlannedMLS) -> str:
        """Store a prepared MLS with its delivery job in ``uow`` (the caller commits; an invalid one is
        recorded failed, never sent).

        Returns:
            The id of its outbound document.

        Raises:
            StoreError: the store failed (roll the unit of work back).
        """
        return queue_response(
            uow,
            planned.response,
            ids=self._ids,
            at=planned.at,
            webhook_url=self._webhook_url,
            refused=planned.refused,
            due_at=planned.at + self._answer_delay,
        )

    @staticmethod
    def queued(planned: PlannedMLS, mls_document: str) -> None:
        """Log an MLS whose unit of work was committed."""
        if planned.refused is not None:
            log.error(
                "MLS %s for inbound document %s is invalid: not sent, recorded as failed document %s; %s",
                planned.response.number,
                planned.document_id,
                mls_document,
                planned.response.report,
            )
            return
        log.info(
            "MLS %s (%s) for inbound document %s queued to %s",
            planned.response.number,
            planned.code.value,
            planned.document_id,
            planned.response.receiver,
        )

    @property
    def _sends_mls(self) -> bool:
        """Whether MLS are sent at all (our SPID and the directory check are configured)."""
        return self._our_spid is not None and self._can_receive is not None

    # -- sending MLS ---------------------------------------------------------------------------------------

    def _plan(
        self,
        document_id: str,
        status: InboundStatus,
        instance_id: str | None,
        report: dict[str, Any] | None,
        envelope: ReceivedEnvelope,
        awaited: Callable[[], bool] | None = None,
    ) -> PlannedMLS | None:
        if self._our_spid is None or self._can_receive is None:  # see _sends_mls
            return None
        code, issues = _verdict(status, report)
        mls_type = (envelope.mls_type or MLSType.FAILURE_ONLY.value).strip().upper()
        if code is not MLSCode.REJECTED and mls_type != MLSType.ALWAYS_SEND.value:
            return None  # FAILURE_ONLY (the default): only a rejection is reported
        to = _addressee(envelope)
        if to is None:
            log.warning("no MLS for inbound document %s: no valid MLS_TO and no seat id", document_id)
            return None
        if instance_id is None:
            return None
        if awaited is not None and not awaited():
            log.info("no MLS built for inbound document %s: its verdict was recorded meanwhile", document_id)
            return None
        if not self._can_receive(to, MLS_DOCUMENT_TYPE, MLS_PROCESS):
            log.warning("no MLS for inbound document %s: %s receives no MLS (directory)", document_id, to)
            return None
        now = self._clock.now()
        mls = MessageLevelStatus(
            id=self._ids.new_id(),
            issued=now,
            sender=self._our_spid,
            receiver=to,
            code=code,
            instance_id=instance_id,
            description="Rejected due to validation errors" if code is MLSCode.REJECTED else None,
            issues=issues,
        )
        body = build_mls(mls)
        checked = self._validation.validate(body, rule_set=MLS_RULE_SET)
        queued = QueuedResponse(
            kind=DocumentKind.MLS,
            number=mls.id,
            sender=self._our_spid,
            receiver=to,
            document_type=MLS_DOCUMENT_TYPE,
            process=MLS_PROCESS,
            body=body,
            report=checked.to_dict(),
        )
        refused = None
        if not checked.valid:
            rules = ", ".join(sorted({finding.rule for finding in checked.fatal}))
            refused = f"refused: the MLS fails {rules} ({MLS_RULE_SET}); not sent"
        return PlannedMLS(document_id, code, queued, refused, now)


def _addressee(envelope: ReceivedEnvelope) -> ParticipantID | None:
    if envelope.mls_to:
        try:
            return spid_participant(envelope.mls_to)
        except InvalidIdentifier:
            log.warning("invalid MLS_TO %r: answering the sending AP's SPID instead", envelope.mls_to)
    try:
        return spid_of_seat(envelope.from_party)
    except InvalidIdentifier:
        return None


def _verdict(status: InboundStatus, report: dict[str, Any] | None) -> tuple[MLSCode, tuple[MLSIssue, ...]]:
    if status is InboundStatus.VALID:
        return MLSCode.ACCEPTED, ()
    if status is not InboundStatus.INVALID:
        return MLSCode.ACKNOWLEDGED, ()
    issues: list[MLSIssue] = []
    for finding in (report or {}).get("issues", []):
        if finding.get("severity") != "fatal":
            continue
        syntax = finding.get("layer") == "xsd"
        reason = MLSReason.SYNTAX_VIOLATION if syntax else MLSReason.BUSINESS_RULE_VIOLATION
        message = str(finding.get("message") or "").strip()
        rule = str(finding.get("rule") or "").strip()
        text = f"[{rule}] {message}".strip() if rule else message
        issues.append(MLSIssue(reason, text or "validation failed", str(finding.get("location") or "NA")))
        if len(issues) == MAX_ISSUES:
            break
    if not issues:
        issues.append(MLSIssue(MLSReason.BUSINESS_RULE_VIOLATION, "validation failed"))
    return MLSCode.REJECTED, tuple(issues)
