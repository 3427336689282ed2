"""Received Invoice Responses (the official T111 use-case examples) are attached to the outbound invoice they
answer - reason, timeline and webhook - on SQLite and PostgreSQL; answers from anyone else are ignored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, INVOICE_RESPONSE, ParticipantID
from gateway.model.identifiers import INVOICE_RESPONSE_PROCESS
from gateway.model.message import (
    DeliveryEvent,
    DeliveryStatus,
    DocumentContent,
    DocumentKind,
    InboundDocument,
    InboundStatus,
    OutboundDocument,
)
from gateway.services.message_status import MessageStatusService, ReceivedEnvelope
from gateway.store import SQLDocumentStore
from gateway.store.tables import webhook_outbox
from gateway.validation import ValidationEngine

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SELLER_ID = "0208:0739484052"
BUYER = ParticipantID.parse("0196:6963495890")  # SenderParty of the official examples
SUPPLIER = ParticipantID.parse("0196:6841569459")
WEBHOOK = "https://erp.example.be/hooks/peppol"
T111_RULE_SET = "peppol-invoice-response-3-t111"


class _Clock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


class _IDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def _service(store: SQLDocumentStore) -> MessageStatusService:
    return MessageStatusService(
        store=store,
        validation=_NoValidation(),
        can_receive=None,
        clock=_Clock(),
        ids=_IDs(),
        our_spid=None,
        seller_id=SELLER_ID,
        webhook_url=WEBHOOK,
    )


class _NoValidation:
    def validate(self, xml: bytes, *, rule_set: str | None = None) -> object:
        raise AssertionError("no MLS is built here")


def _delivered_invoice(store: SQLDocumentStore, number: str, receiver: ParticipantID) -> str:
    document = OutboundDocument(
        id=str(uuid.uuid4()),
        kind=DocumentKind.INVOICE,
        seller_id=SELLER_ID,
        document_number=number,
        sender=SUPPLIER,
        receiver=receiver,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=DeliveryStatus.ACCEPTED,
        created_at=T0,
        updated_at=T0,
    )
    with store.unit_of_work() as uow:
        uow.outbound.add(document, DocumentContent(b"<Invoice/>", None))
        uow.outbound.transition(document.id, DeliveryEvent.SEND_STARTED, at=T0)
        uow.outbound.transition(document.id, DeliveryEvent.RECEIPT_RECEIVED, at=T0)
        uow.commit()
    return document.id


def _received(store: SQLDocumentStore, engine: ValidationEngine, body: bytes, sender: ParticipantID) -> str:
    report = engine.validate(body, rule_set=T111_RULE_SET)
    assert report.valid
    document = InboundDocument(
        id=str(uuid.uuid4()),
        as4_message_id=f"{uuid.uuid4()}@ap.example",
        sender=sender,
        receiver=SUPPLIER,
        document_type=INVOICE_RESPONSE,
        process=INVOICE_RESPONSE_PROCESS,
        status=InboundStatus.RECEIVED,
        received_at=T0,
        updated_at=T0,
        sbdh_instance_id=str(uuid.uuid4()),
    )
    with store.unit_of_work() as uow:
        uow.inbound.add(document, DocumentContent(body, None))
        uow.inbound.record_validation(
            document.id, status=InboundStatus.VALID, report=report.to_dict(), reason=None, at=T0
        )
        uow.commit()
    return document.id


def test_every_official_t111_example_is_attached_to_the_invoice_it_answers(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    invoice = _delivered_invoice(store, "inv021", BUYER)
    service = _service(store)
    examples = sorted((artefacts_dir / "peppol-invoice-response" / "examples").glob("T111-*.xml"))
    assert len(examples) == 13
    for path in examples:
        received = _received(store, validation_engine, path.read_bytes(), BUYER)
        assert service.on_received(received, ReceivedEnvelope("POP000009")) is None  # no MLS configured
        with store.unit_of_work(read_only=True) as uow:
            document = uow.outbound.get(invoice)
            entry = uow.outbound.timeline(invoice)[-1]
        assert document is not None
        assert entry.event is DeliveryEvent.RESPONSE_RECEIVED, path.name
        assert entry.detail is not None
        assert entry.detail["inbound_document_id"] == received
        code = entry.detail["response_code"]
        assert document.status is DeliveryStatus.DELIVERED
        assert document.status_reason is not None
        assert "by buyer" in document.status_reason, path.name
        if code == "RE":
            assert document.status_reason.startswith("rejected by buyer (REF"), document.status_reason
    with store.engine.connect() as connection:
        payloads = [row.payload for row in connection.execute(select(webhook_outbox.c.payload))]
    events = [p["data"] for p in payloads if p["data"]["event"] == "response-received"]
    assert len(events) == 13
    assert {e["document_id"] for e in events} == {invoice}
    assert any(str(e["reason"]).startswith("rejected by buyer") for e in events)


def test_a_response_from_someone_else_or_about_an_unknown_number_is_not_attached(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    invoice = _delivered_invoice(store, "inv021", ParticipantID.parse("0208:0123456749"))
    service = _service(store)
    example = artefacts_dir / "peppol-invoice-response" / "examples" / "T111-uc004a-Invoice is rejected.xml"
    # BUYER is not the participant inv021 was sent to.
    service.on_received(
        _received(store, validation_engine, example.read_bytes(), BUYER), ReceivedEnvelope("x")
    )
    with store.unit_of_work(read_only=True) as uow:
        assert [e.event for e in uow.outbound.timeline(invoice)][-1] is DeliveryEvent.RECEIPT_RECEIVED
    # A number we never sent.
    other = example.read_bytes().replace(b"<cbc:ID>inv021</cbc:ID>", b"<cbc:ID>inv999</cbc:ID>")
    service.on_received(_received(store, validation_engine, other, BUYER), ReceivedEnvelope("x"))
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(invoice)
    assert document is not None
    assert document.status_reason is None
