"""What the Invoice Responder and the MLS service queue, on SQLite and PostgreSQL: only configured statuses,
only valid documents (a refused response is never queued), the right addressee and MLS policy."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, INVOICE_RESPONSE, ParticipantID
from gateway.model.message import (
    DeliveryEvent,
    DeliveryStatus,
    DocumentContent,
    DocumentKind,
    InboundDocument,
    InboundStatus,
    OutboundDocument,
)
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, ResponseCode
from gateway.services.message_status import MessageStatusService, ReceivedEnvelope, RecordedVerdict
from gateway.services.ports import OutboundQuery
from gateway.services.ports.responses import InvoiceResponseRequest
from gateway.services.responses import PeppolInvoiceResponder
from gateway.store import SQLDocumentStore
from gateway.store.tables import delivery_jobs, webhook_outbox
from gateway.ubl.application_response import read_application_response
from gateway.validation import ValidationEngine

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
COOP = ParticipantID.parse("0208:0739484052")
OUR_SPID = ParticipantID.parse("0242:000002")
WEBHOOK = "https://erp.example.be/hooks/peppol"
KIT = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "samples" / "invoice.xml"


class _IDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


class _Clock:
    def now(self) -> datetime:
        return T0


def _examples(artefacts_dir: Path) -> Path:
    return artefacts_dir / "peppol-bis-billing-3.0.21" / "examples"


def _inbound(
    store: SQLDocumentStore,
    body: bytes,
    status: InboundStatus = InboundStatus.VALID,
    report: object = None,
    receiver: ParticipantID = COOP,
) -> InboundDocument:
    document = InboundDocument(
        id=str(uuid.uuid4()),
        as4_message_id=f"{uuid.uuid4()}@supplier.example",
        sender=ParticipantID.parse("0088:9482348239847239874"),
        receiver=receiver,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=InboundStatus.RECEIVED,
        received_at=T0,
        updated_at=T0,
        sbdh_instance_id=str(uuid.uuid4()),
    )
    with store.unit_of_work() as uow:
        uow.inbound.add(document, DocumentContent(body, None))
        uow.inbound.record_validation(document.id, status=status, report=report, reason=None, at=T0)  # type: ignore[arg-type]
        uow.commit()
    return document


def _queued(store: SQLDocumentStore, kind: DocumentKind) -> list[OutboundDocument]:
    with store.unit_of_work(read_only=True) as uow:
        return [d for d in uow.outbound.search(OutboundQuery(limit=50)).items if d.kind is kind]


def _count(store: SQLDocumentStore, table: object) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _responder(engine: ValidationEngine, capable: bool = True) -> PeppolInvoiceResponder:
    return PeppolInvoiceResponder(
        validation=engine, can_receive=lambda *_: capable, ids=_IDs(), webhook_url=WEBHOOK
    )


def _respond(
    store: SQLDocumentStore, responder: PeppolInvoiceResponder, request: InvoiceResponseRequest
) -> str | None:
    with store.unit_of_work() as uow:
        queued = responder.respond(uow, request)
        uow.commit()
    return queued


def test_each_configured_status_is_queued_valid_with_its_job_and_webhook(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    received = _inbound(store, (_examples(artefacts_dir) / "base-example.xml").read_bytes())
    responder = _responder(validation_engine)
    for status in ("AB", "AP", "RE", "UQ", "PD"):  # the default statuses
        request = InvoiceResponseRequest(received.id, status, T0, note=f"status {status}")
        assert _respond(store, responder, request) is not None
    for status in ("IP", "CA", "XX"):  # not configured, or unknown: nothing
        assert _respond(store, responder, InvoiceResponseRequest(received.id, status, T0)) is None
    without_ab = PeppolInvoiceResponder(
        validation=validation_engine,
        can_receive=lambda *_: True,
        ids=_IDs(),
        statuses=frozenset({ResponseCode.ACCEPTED, ResponseCode.REJECTED}),
    )
    assert _respond(store, without_ab, InvoiceResponseRequest(received.id, "AB", T0)) is None
    queued = _queued(store, DocumentKind.INVOICE_RESPONSE)
    assert len(queued) == 5
    assert _count(store, delivery_jobs) == 5
    assert _count(store, webhook_outbox) == 5
    for document in queued:
        assert document.status is DeliveryStatus.ACCEPTED
        assert (document.sender, document.receiver) == (COOP, ParticipantID.parse("0088:9482348239847239874"))
        assert document.document_type == INVOICE_RESPONSE
        with store.unit_of_work(read_only=True) as uow:
            content = uow.outbound.get_content(document.id)
        assert content is not None
        assert content.validation_report is not None
        assert content.validation_report["valid"] is True
        read = read_application_response(content.body)
        assert read.document_id == "Snippet1"
        assert read.document_type_code == "380"
        if read.code in ("RE", "UQ"):
            assert read.reasons == ("OTH",)  # PEPPOL-T111-R001: a clarification code is always given


def test_a_credit_note_is_answered_with_its_type_code(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    received = _inbound(store, (_examples(artefacts_dir) / "base-creditnote-correction.xml").read_bytes())
    assert _respond(store, _responder(validation_engine), InvoiceResponseRequest(received.id, "AP", T0))
    [document] = _queued(store, DocumentKind.INVOICE_RESPONSE)
    with store.unit_of_work(read_only=True) as uow:
        content = uow.outbound.get_content(document.id)
    assert content is not None
    assert read_application_response(content.body).document_type_code == "381"


def test_a_response_with_a_fatal_finding_is_never_queued(
    store: SQLDocumentStore, validation_engine: ValidationEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # Received for a GLN with a bad check digit (the kit's buyer): our T111 would fire PEPPOL-COMMON-R040.
    received = _inbound(store, KIT.read_bytes(), receiver=ParticipantID.parse("0088:7300010000002"))
    with caplog.at_level(logging.ERROR, logger="gateway.responses"):
        assert (
            _respond(store, _responder(validation_engine), InvoiceResponseRequest(received.id, "AP", T0))
            is None
        )
    assert "PEPPOL-COMMON-R040" in caplog.text
    # Recorded for support, failed with the rules it fails, and never queued.
    [recorded] = _queued(store, DocumentKind.INVOICE_RESPONSE)
    assert recorded.status is DeliveryStatus.FAILED
    assert recorded.status_reason is not None
    assert "PEPPOL-COMMON-R040" in recorded.status_reason
    assert _count(store, delivery_jobs) == 0
    with store.unit_of_work(read_only=True) as uow:
        content = uow.outbound.get_content(recorded.id)
    assert content is not None
    assert content.validation_report is not None
    assert content.validation_report["valid"] is False


def test_a_supplier_without_t111_gets_nothing(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    received = _inbound(store, (_examples(artefacts_dir) / "base-example.xml").read_bytes())
    responder = _responder(validation_engine, capable=False)
    assert (
        _respond(store, responder, InvoiceResponseRequest(received.id, "RE", T0, ("PRI",), "price")) is None
    )
    assert _queued(store, DocumentKind.INVOICE_RESPONSE) == []


class _ReadCounting:
    """The store, counting the read-only units of work opened on it."""

    def __init__(self, inner: SQLDocumentStore) -> None:
        self.inner = inner
        self.reads = 0

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        self.reads += read_only
        return self.inner.unit_of_work(read_only=read_only)


def _mls_service(
    store: SQLDocumentStore, engine: ValidationEngine, routable: set[str]
) -> MessageStatusService:
    def can_receive(participant: ParticipantID, document_type: object, process: object) -> bool:
        assert (document_type, process) == (MLS_DOCUMENT_TYPE, MLS_PROCESS)
        return str(participant) in routable

    return MessageStatusService(
        store=store,
        validation=engine,
        can_receive=can_receive,
        clock=_Clock(),
        ids=_IDs(),
        our_spid=OUR_SPID,
        seller_id=str(COOP),
    )


INVALID_REPORT = {
    "rule_set": "peppol-bis-billing-3.0.21",
    "valid": False,
    "issues": [
        {
            "rule": "XSD",
            "severity": "fatal",
            "layer": "xsd",
            "message": "bad element",
            "location": "/Invoice",
        },
        {"rule": "BR-16", "severity": "fatal", "layer": "cen", "message": "no line", "location": ""},
        {"rule": "BR-W", "severity": "warning", "layer": "cen", "message": "a warning", "location": ""},
    ],
}


@pytest.mark.parametrize(
    ("status", "envelope", "expected"),
    [
        # FAILURE_ONLY (absent or explicit): only a rejection is sent.
        (InboundStatus.VALID, ReceivedEnvelope("POP000001"), None),
        (InboundStatus.VALID, ReceivedEnvelope("POP000001", "0242:000001", "FAILURE_ONLY"), None),
        (InboundStatus.INVALID, ReceivedEnvelope("POP000001"), ("0242:000001", "RE")),
        # ALWAYS_SEND: every verdict; MLS_TO wins over the seat id; an invalid MLS_TO falls back to it.
        (
            InboundStatus.VALID,
            ReceivedEnvelope("POP000001", "0242:000009", "ALWAYS_SEND"),
            ("0242:000009", "AP"),
        ),
        (InboundStatus.RECEIVED, ReceivedEnvelope("POP000001", None, "ALWAYS_SEND"), ("0242:000001", "AB")),
        (
            InboundStatus.VALID,
            ReceivedEnvelope("POP000001", "0242:bad", "ALWAYS_SEND"),
            ("0242:000001", "AP"),
        ),
        # No seat id and no MLS_TO, or an addressee the directory cannot route: nothing.
        (InboundStatus.INVALID, ReceivedEnvelope("not-a-seat"), None),
        (InboundStatus.INVALID, ReceivedEnvelope("POP000001", "0242:000003"), None),
    ],
)
@pytest.mark.parametrize("handed_on", [False, True], ids=["read-back", "handed-on"])
def test_mls_policy(
    store: SQLDocumentStore,
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    status: InboundStatus,
    envelope: ReceivedEnvelope,
    expected: tuple[str, str] | None,
    handed_on: bool,
) -> None:
    counting = _ReadCounting(store)
    service = _mls_service(counting, validation_engine, {"0242:000001", "0242:000009"})  # type: ignore[arg-type]
    report = INVALID_REPORT if status is InboundStatus.INVALID else None
    body = (_examples(artefacts_dir) / "base-example.xml").read_bytes()
    received = _inbound(store, body, status, report)
    if handed_on:  # as the receiver does: decided before the verdict's unit of work, queued in it
        known = RecordedVerdict(received.document_type, status, report)
        envelope = replace(envelope, instance_id=received.sbdh_instance_id, recorded=known)
        planned = service.prepare(received.id, envelope, None)  # an invoice: no answer read
        queued = None
        if planned is not None:
            with counting.unit_of_work() as uow:
                queued = service.queue(uow, planned)
                uow.commit()
        assert service.on_received(received.id, envelope) is None  # a business document: nothing more
    else:
        queued = service.on_received(received.id, envelope)
    # Handed on, the decision reads nothing back (the same MLS either way).
    assert counting.reads == (0 if handed_on else 1)
    mls = _queued(store, DocumentKind.MLS)
    if expected is None:
        assert queued is None
        assert mls == []
        return
    [document] = mls
    assert document.id == queued
    assert (str(document.receiver), document.sender) == (expected[0], OUR_SPID)
    with store.unit_of_work(read_only=True) as uow:
        content = uow.outbound.get_content(document.id)
    assert content is not None
    read = read_application_response(content.body)
    assert (read.code, read.document_id) == (expected[1], received.sbdh_instance_id)
    if expected[1] == "RE":
        assert read.reasons == ("SV", "BV")  # one line per fatal finding; XSD findings are syntax


def _due(store: SQLDocumentStore, document_id: str) -> datetime:
    with store.engine.connect() as connection:
        due = connection.execute(
            select(delivery_jobs.c.due_at).where(delivery_jobs.c.document_id == document_id)
        ).scalar_one()
    return due.astimezone(UTC)  # type: ignore[no-any-return]


def test_answers_queued_while_a_document_is_received_wait_for_the_senders_receipt(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    """The MLS and the AB response are queued before our receipt reaches the sending AP: sent at once, they
    could arrive before that AP has recorded the receipt, and be dropped there. Their first attempt waits
    ``answer_delay``; a response that follows a person's action (AP) goes at once."""
    delay = timedelta(seconds=2)
    received = _inbound(store, (_examples(artefacts_dir) / "base-example.xml").read_bytes())
    responder = PeppolInvoiceResponder(
        validation=validation_engine,
        can_receive=lambda *_: True,
        ids=_IDs(),
        statuses=frozenset({ResponseCode.ACKNOWLEDGED, ResponseCode.ACCEPTED}),
        answer_delay=delay,
    )
    ab = _respond(store, responder, InvoiceResponseRequest(received.id, "AB", T0))
    ap = _respond(store, responder, InvoiceResponseRequest(received.id, "AP", T0))
    assert ab is not None
    assert ap is not None
    assert (_due(store, ab), _due(store, ap)) == (T0 + delay, T0)
    service = MessageStatusService(
        store=store,
        validation=validation_engine,
        can_receive=lambda *_: True,
        clock=_Clock(),
        ids=_IDs(),
        our_spid=OUR_SPID,
        seller_id=str(COOP),
        answer_delay=delay,
    )
    mls = service.on_received(received.id, ReceivedEnvelope("POP000001", "0242:000001", "ALWAYS_SEND"))
    assert mls is not None
    assert _due(store, mls) == T0 + delay


def test_each_response_names_the_unfinished_response_to_the_same_document_queued_before_it(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    # The deliverer keeps them in order (bis-billing.md §9): each waits for the one it names (a chain).
    body = (_examples(artefacts_dir) / "base-example.xml").read_bytes()
    first, other = _inbound(store, body), _inbound(store, body)
    responder = _responder(validation_engine)
    ab = _respond(store, responder, InvoiceResponseRequest(first.id, "AB", T0))
    other_ab = _respond(store, responder, InvoiceResponseRequest(other.id, "AB", T0))
    uq = _respond(store, responder, InvoiceResponseRequest(first.id, "UQ", T0))
    ap = _respond(store, responder, InvoiceResponseRequest(first.id, "AP", T0))
    assert None not in (ab, other_ab, uq, ap)
    with store.unit_of_work() as uow:
        details = {d: uow.outbound.timeline(d)[0].detail for d in (ab, other_ab, uq, ap) if d is not None}
        assert uow.outbound.earlier_response(str(ab)) is None
        assert uow.outbound.earlier_response(str(ap)) == (uq, DeliveryStatus.ACCEPTED)
        # A final one is not waited for: the next names the one before it that is not.
        uow.outbound.transition(str(ap), DeliveryEvent.PERMANENT_FAILURE, at=T0, reason="test")
        uow.commit()
    assert details == {
        ab: {"answers_inbound_document_id": first.id},
        other_ab: {"answers_inbound_document_id": other.id},  # another invoice of the same supplier
        uq: {"answers_inbound_document_id": first.id, "after_response_document_id": ab},
        ap: {"answers_inbound_document_id": first.id, "after_response_document_id": uq},
    }
    pd = _respond(store, responder, InvoiceResponseRequest(first.id, "PD", T0))
    assert pd is not None
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.timeline(pd)[0].detail == {
            "answers_inbound_document_id": first.id,
            "after_response_document_id": uq,
        }
        assert uow.outbound.earlier_response(str(ap)) == (uq, DeliveryStatus.ACCEPTED)


def test_a_response_dated_a_little_before_the_documents_arrival_is_still_named(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    # The AB may be queued by a process whose clock is slightly behind the receiving one's.
    received = _inbound(store, (_examples(artefacts_dir) / "base-example.xml").read_bytes())
    responder = _responder(validation_engine)
    early = T0 - timedelta(minutes=1)
    ab = _respond(store, responder, InvoiceResponseRequest(received.id, "AB", early))
    ap = _respond(store, responder, InvoiceResponseRequest(received.id, "AP", T0))
    assert ab is not None
    assert ap is not None
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.earlier_response(ap) == (ab, DeliveryStatus.ACCEPTED)


def test_the_response_queued_right_after_one_is_found_whatever_its_status(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    # A failed response is not retried by request once a later one exists (it may have gone already).
    body = (_examples(artefacts_dir) / "base-example.xml").read_bytes()
    first, other = _inbound(store, body), _inbound(store, body)
    responder = _responder(validation_engine)
    ab = _respond(store, responder, InvoiceResponseRequest(first.id, "AB", T0))
    other_ab = _respond(store, responder, InvoiceResponseRequest(other.id, "AB", T0))
    uq = _respond(store, responder, InvoiceResponseRequest(first.id, "UQ", T0))
    ap = _respond(store, responder, InvoiceResponseRequest(first.id, "AP", T0))
    assert ab is not None
    assert other_ab is not None
    assert uq is not None
    assert ap is not None
    with store.unit_of_work() as uow:
        uow.outbound.transition(ap, DeliveryEvent.PERMANENT_FAILURE, at=T0, reason="test")
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        found = {d: uow.outbound.later_response(d) for d in (ab, other_ab, uq, ap, "no-such-document")}
    assert found == {ab: uq, other_ab: None, uq: ap, ap: None, "no-such-document": None}


def test_the_later_response_is_found_whatever_clock_dated_it(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    # The UQ is queued after the AB by a process whose clock runs behind: dated before the AB, it is still
    # the response queued after it (queue order decides, not the dates), and the AB dated an hour before
    # the document's arrival is still the one the UQ waits for (no date bounds the search).
    received = _inbound(store, (_examples(artefacts_dir) / "base-example.xml").read_bytes())
    responder = _responder(validation_engine)
    ab = _respond(store, responder, InvoiceResponseRequest(received.id, "AB", T0 - timedelta(hours=1)))
    uq = _respond(store, responder, InvoiceResponseRequest(received.id, "UQ", T0 - timedelta(hours=2)))
    ap = _respond(store, responder, InvoiceResponseRequest(received.id, "AP", T0))
    assert None not in (ab, uq, ap)
    with store.unit_of_work(read_only=True) as uow:
        later = {d: uow.outbound.later_response(str(d)) for d in (ab, uq, ap)}
        earlier = {d: uow.outbound.earlier_response(str(d)) for d in (ab, uq, ap)}
    assert later == {ab: uq, uq: ap, ap: None}
    assert earlier == {
        ab: None,
        uq: (ab, DeliveryStatus.ACCEPTED),
        ap: (uq, DeliveryStatus.ACCEPTED),
    }


def test_the_response_queued_right_after_one_is_the_next_queued_not_the_earliest_dated(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    # AB, then UQ, then AP queued by a process whose clock runs two hours behind: the response right after
    # the AB is the UQ (queued next), though the AP is dated before it; the AP is the one queued last.
    received = _inbound(store, (_examples(artefacts_dir) / "base-example.xml").read_bytes())
    responder = _responder(validation_engine)
    ab = _respond(store, responder, InvoiceResponseRequest(received.id, "AB", T0))
    uq = _respond(store, responder, InvoiceResponseRequest(received.id, "UQ", T0 + timedelta(minutes=1)))
    ap = _respond(store, responder, InvoiceResponseRequest(received.id, "AP", T0 - timedelta(hours=2)))
    assert None not in (ab, uq, ap)
    with store.unit_of_work(read_only=True) as uow:
        later = {d: uow.outbound.later_response(str(d)) for d in (ab, uq, ap)}
        latest = uow.outbound.latest_unfinished_response(received.id)
    assert later == {ab: uq, uq: ap, ap: None}
    assert latest == ap
