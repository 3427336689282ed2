"""Invoice Responses (Peppol BIS Invoice Response 3, T111) to suppliers: the InvoiceResponder the expense
workflow calls inside the unit of work of each transition.

A response is built from the received UBL (nothing retyped), validated with the ApplicationResponse XSD and
the official T111 XSLT (a response with a fatal finding is never sent: it is logged with its report), and
queued as an outbound document of kind ``invoice-response`` on the same delivery queue as invoices
(retries, evidence, status, webhooks). It is sent only for the configured statuses and only when the
supplier's endpoint declares the T111 document type (EndpointResolver; bis-billing.md §9 "send only if the
supplier's SMP lists the Invoice Response doc type").
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from gateway.errors import (
    DiscoveryError,
    EndpointNotFound,
    GatewayError,
    ParticipantNotRegistered,
)
from gateway.model.identifiers import (
    INVOICE_RESPONSE,
    INVOICE_RESPONSE_PROCESS,
    DocumentTypeID,
    ParticipantID,
    ProcessID,
)
from gateway.model.message import (
    INITIAL_STATUS,
    RESPONSE_AFTER,
    RESPONSE_ANSWERS,
    DeliveryEvent,
    DocumentContent,
    DocumentKind,
    InboundDocument,
    JSONObject,
    OutboundDocument,
)
from gateway.model.responses import (
    InvoiceResponse,
    ResponseCode,
    ResponseParty,
    StatusAction,
    StatusReason,
)
from gateway.services.expense_drafts import supplier_of
from gateway.services.ports import (
    DocumentValidator,
    EndpointResolver,
    IDFactory,
    ImmediateResolver,
    UnitOfWork,
)
from gateway.services.ports.responses import InvoiceResponseRequest
from gateway.services.webhooks import status_change_webhook
from gateway.ubl.application_response import build_invoice_response
from gateway.ubl.reader import read_ubl

log = logging.getLogger("gateway.responses")

#: Rule sets of the manifest (schemas/ubl/manifest.json) that validate what this module and MLS send.
T111_RULE_SET: Final = "peppol-invoice-response-3-t111"
MLS_RULE_SET: Final = "peppol-mls-1.0.1"
#: The statuses sent when the settings name none (bis-billing.md §9: AB, AP and RE are mandatory for a
#: buyer; UQ and PD map the workflow's query and payment). AB acknowledges a document routed to a unit.
DEFAULT_STATUSES: Final = frozenset(
    {
        ResponseCode.ACKNOWLEDGED,
        ResponseCode.ACCEPTED,
        ResponseCode.REJECTED,
        ResponseCode.UNDER_QUERY,
        ResponseCode.PAID,
    }
)

CapabilityCheck = Callable[[ParticipantID, DocumentTypeID, ProcessID], bool]
"""Whether a participant can receive a document type in a process (the EndpointResolver, blocking)."""

T = TypeVar("T")


def _run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, whether or not this thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="capability-check")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def endpoint_capability(resolver: EndpointResolver) -> CapabilityCheck:
    """A blocking capability check over the EndpointResolver port.

    Unknown participant or no endpoint for the document type: False. A lookup failure (SMP down) counts as
    capable: the response is queued and the delivery worker retries the lookup like for any document.
    A resolver that answers without I/O (the local directory, ``ImmediateResolver``) is asked directly: no
    event loop is made per check (``asyncio.run`` costs about 0.1 ms, the directory's answer microseconds).
    """
    immediate = resolver if isinstance(resolver, ImmediateResolver) else None

    def check(participant: ParticipantID, document_type: DocumentTypeID, process: ProcessID) -> bool:
        try:
            if immediate is not None:
                immediate.resolve_now(participant, document_type, process)
            else:
                _run_blocking(resolver.resolve(participant, document_type, process))
        except (ParticipantNotRegistered, EndpointNotFound):
            return False
        except DiscoveryError:
            return True
        return True

    return check


@dataclass(frozen=True, slots=True)
class QueuedResponse:
    """What to queue: the validated XML and its outbound metadata."""

    kind: DocumentKind
    number: str
    sender: ParticipantID
    receiver: ParticipantID
    document_type: DocumentTypeID
    process: ProcessID
    body: bytes
    report: dict[str, Any]


def queue_response(
    uow: UnitOfWork,
    response: QueuedResponse,
    *,
    ids: IDFactory,
    at: datetime,
    webhook_url: str | None,
    refused: str | None = None,
    due_at: datetime | None = None,
    detail: JSONObject | None = None,
) -> str:
    """Store a response as an outbound document with its delivery job (and webhook) in ``uow``.

    The (seller, type, number) key of a response is (its sender, its document type, its own id): it can
    never collide with an invoice number.

    Args:
        refused: the reason a response failed its validation. It is then recorded, not queued: stored
            ``failed`` with that reason and its report (support sees it; the deliverer never sends a
            document stored with a failed validation, even after a retry request).
        due_at: when the first attempt is due (default ``at``); see ``answer_delay``.
        detail: its SUBMITTED timeline entry's detail (``answering``).
    """
    document = OutboundDocument(
        id=ids.new_id(),
        kind=response.kind,
        seller_id=str(response.sender),
        document_number=response.number,
        sender=response.sender,
        receiver=response.receiver,
        document_type=response.document_type,
        process=response.process,
        status=INITIAL_STATUS,
        created_at=at,
        updated_at=at,
    )
    event = uow.outbound.add(document, DocumentContent(response.body, response.report), detail=detail)
    if refused is None:
        uow.jobs.enqueue(document.id, due_at=due_at or at)
    else:
        event = uow.outbound.transition(
            document.id,
            DeliveryEvent.PERMANENT_FAILURE,
            at=at,
            reason=refused,
            detail={"refused": refused},
        )
    if webhook_url is not None:
        uow.outbox.add(
            status_change_webhook(event_id=ids.new_id(), document=document, change=event, reason=refused)
        )
    return document.id


def answering(uow: UnitOfWork, inbound: InboundDocument) -> JSONObject:
    """The SUBMITTED detail of a response to ``inbound``: the document it answers (the store keeps it in
    the response's ``answers_inbound_document_id`` column too) and the response to that document queued
    last and not final yet, if any (``RESPONSE_AFTER``). Queued last by queue order, whatever clock dated
    the responses.

    The deliverer does not send a response while the one it names is undelivered (``Deliverer``, bis-billing
    §9: the supplier must never receive AP then AB). Naming the last one is enough: that one waits for its
    own predecessor in turn, so by the time it is final every earlier one is.
    """
    detail: JSONObject = {RESPONSE_ANSWERS: inbound.id}
    earlier = uow.outbound.latest_unfinished_response(inbound.id)
    if earlier is not None:
        detail[RESPONSE_AFTER] = earlier
    return detail


def _codes(raw: Collection[str]) -> tuple[tuple[StatusReason, ...], tuple[StatusAction, ...]]:
    """Split the request's codes into OPStatusReason and OPStatusAction codes (unknown ones are dropped)."""
    reasons: list[StatusReason] = []
    actions: list[StatusAction] = []
    for code in raw:
        value = code.strip().upper()
        if value in {r.value for r in StatusReason}:
            reasons.append(StatusReason(value))
        elif value in {a.value for a in StatusAction}:
            actions.append(StatusAction(value))
        else:
            log.warning("Invoice Response: unknown status reason or action code %r dropped", code)
    return tuple(dict.fromkeys(reasons)), tuple(dict.fromkeys(actions))


class PeppolInvoiceResponder:
    """The InvoiceResponder port over the outbound queue.

    Args:
        validation: the validation engine (runs the T111 rule set).
        can_receive: capability check (``endpoint_capability(resolver)``).
        ids: id source (response ids, document ids, webhook event ids).
        statuses: the response codes that are sent (``GATEWAY_RESPONSES__INVOICE_RESPONSE_STATUSES``).
        buyer_name: our legal name as SenderParty RegistrationName; None takes the buyer name (BT-44) of
            the invoice answered.
        webhook_url: status-change webhooks of the queued response.
        answer_delay: the AB response is first sent this much later
            (``GATEWAY_RESPONSES__ANSWER_DELAY_SECONDS``). It is queued while the invoice is being
            received, before our receipt has reached the sending AP; sent at once it could arrive before
            that AP has recorded our receipt. This gateway holds such an answer until the receipt is
            recorded (``services/received_answers.py``); the delay is a courtesy to APs that would drop
            it. The other statuses follow a person's action and go at once. An AB asked for later (support
            assigned the document from triage) waits the same delay: no race then, and no harm either.
    """

    def __init__(
        self,
        *,
        validation: DocumentValidator,
        can_receive: CapabilityCheck,
        ids: IDFactory,
        statuses: Collection[ResponseCode] = DEFAULT_STATUSES,
        buyer_name: str | None = None,
        webhook_url: str | None = None,
        answer_delay: timedelta = timedelta(0),
    ) -> None:
        self._validation = validation
        self._can_receive = can_receive
        self._ids = ids
        self._statuses = frozenset(statuses)
        self._buyer_name = buyer_name
        self._webhook_url = webhook_url
        self._answer_delay = answer_delay

    def respond(self, uow: UnitOfWork, request: InvoiceResponseRequest) -> str | None:
        """Queue the T111 for ``request`` in ``uow``; None when nothing is sent (see the port)."""
        try:
            code = ResponseCode(request.status)
        except ValueError:
            log.error("Invoice Response: unknown response code %r: nothing sent", request.status)
            return None
        if code not in self._statuses:
            return None
        built = self._build(uow, request, code)
        if built is None:
            return None
        response, body, inbound = built
        report = self._validation.validate(body, rule_set=T111_RULE_SET)
        queued = QueuedResponse(
            kind=DocumentKind.INVOICE_RESPONSE,
            number=response.id,
            sender=response.sender.endpoint,
            receiver=response.receiver.endpoint,
            document_type=INVOICE_RESPONSE,
            process=INVOICE_RESPONSE_PROCESS,
            body=body,
            report=report.to_dict(),
        )
        if not report.valid:
            rules = ", ".join(sorted({finding.rule for finding in report.fatal}))
            refused = f"refused: the Invoice Response fails {rules} ({T111_RULE_SET}); not sent"
            recorded = queue_response(
                uow, queued, ids=self._ids, at=request.at, webhook_url=self._webhook_url, refused=refused
            )
            log.error(
                "Invoice Response %s (%s) to %s for inbound document %s is invalid (%s): not sent, recorded "
                "as failed outbound document %s; report %s",
                response.id,
                code.value,
                response.receiver.endpoint,
                request.inbound_document_id,
                rules,
                recorded,
                report.to_dict(),
            )
            return None
        due_at = request.at + self._answer_delay if code is ResponseCode.ACKNOWLEDGED else request.at
        document_id = queue_response(
            uow,
            queued,
            ids=self._ids,
            at=request.at,
            webhook_url=self._webhook_url,
            due_at=due_at,
            detail=answering(uow, inbound),
        )
        log.info(
            "Invoice Response %s queued as outbound document %s: %s for invoice %s of %s",
            response.id,
            document_id,
            code.value,
            response.document_id,
            response.receiver.endpoint,
        )
        return document_id

    def _build(
        self, uow: UnitOfWork, request: InvoiceResponseRequest, code: ResponseCode
    ) -> tuple[InvoiceResponse, bytes, InboundDocument] | None:
        inbound = uow.inbound.get(request.inbound_document_id)
        content = uow.inbound.get_content(request.inbound_document_id)
        if inbound is None or content is None:
            log.error("Invoice Response: no inbound document %s", request.inbound_document_id)
            return None
        try:
            invoice = read_ubl(content.body)
        except GatewayError as exc:
            log.warning("Invoice Response: inbound document %s cannot be read: %s", inbound.id, exc)
            return None
        endpoint = invoice.seller.endpoint
        if endpoint is None:
            log.info("Invoice Response: inbound document %s has no seller Peppol id (BT-34)", inbound.id)
            return None
        # The supplier its access point vouches for: BT-34 when it names the SBDH sender's enterprise, else
        # the sender (an answer must not go to a participant the document only claims to be).
        supplier, doubt = supplier_of(invoice, inbound.sender)
        if doubt is not None:
            log.info("Invoice Response: inbound document %s: %s", inbound.id, doubt)
        if not self._can_receive(supplier, INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS):
            log.info("Invoice Response: %s does not receive T111; %s not sent", supplier, code.value)
            return None
        reasons, actions = _codes(request.reason_codes)
        note = request.note.strip() if request.note and request.note.strip() else None
        if code.needs_clarification and not reasons and not actions:
            reasons = (StatusReason.OTHER,)  # PEPPOL-T111-R001: CA, UQ and RE need a clarification code
        if StatusReason.PARTIALLY_PAID in reasons and code is not ResponseCode.PAID:
            reasons = tuple(r for r in reasons if r is not StatusReason.PARTIALLY_PAID) or (
                StatusReason.OTHER,
            )
        if StatusReason.PARTIALLY_PAID in reasons and note is None:
            note = "partially paid"  # PEPPOL-T111-R005: PPD needs a reason text
        response = InvoiceResponse(
            id=self._ids.new_id(),
            issued=request.at,
            sender=ResponseParty(inbound.receiver, self._buyer_name or invoice.buyer.legal_name),
            receiver=ResponseParty(supplier, invoice.seller.legal_name),
            code=code,
            document_id=invoice.number,
            document_type_code=invoice.type_code or "380",
            reasons=reasons,
            actions=actions,
            note=note,
            document_issue_date=invoice.issue_date.isoformat(),
        )
        return response, build_invoice_response(response), inbound
