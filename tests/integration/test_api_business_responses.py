"""The status API shows the business-level answers to what we sent: the buyer's Invoice Response (reason,
timeline entry with its codes) and the receiving AP's MLS (``rejected`` with the reasons), on both databases.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from gateway.model import INVOICE_RESPONSE, ParticipantID
from gateway.model.identifiers import INVOICE_RESPONSE_PROCESS
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    DeliveryEvent,
    Direction,
    DocumentContent,
    InboundDocument,
    InboundStatus,
    RawHTTPMessage,
    SignalKind,
)
from gateway.model.responses import (
    MLS_DOCUMENT_TYPE,
    MLS_PROCESS,
    InvoiceResponse,
    MessageLevelStatus,
    MLSCode,
    MLSIssue,
    MLSReason,
    ResponseCode,
    ResponseParty,
    StatusReason,
)
from gateway.services.message_status import ReceivedEnvelope
from gateway.ubl.application_response import build_invoice_response, build_mls
from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    docs_fixture,
)
from tests.unit.model.model_builders import invoice_data

BUYER = ParticipantID.parse("0208:0412345614")  # the buyer (BT-49) of invoice_data()
US = ParticipantID.parse("0208:0739484052")


def _receive(
    docs: DocumentAPI,
    body: bytes,
    *,
    document_type: object,
    process: object,
    at: datetime,
    from_party: str = "POP000002",
) -> str:
    message_id = f"{uuid.uuid4()}@buyer-ap.example"
    document = InboundDocument(
        id=str(uuid.uuid4()),
        as4_message_id=message_id,
        sender=BUYER,
        receiver=US,
        document_type=document_type,  # type: ignore[arg-type]
        process=process,  # type: ignore[arg-type]
        status=InboundStatus.RECEIVED,
        received_at=at,
        updated_at=at,
        sbdh_instance_id=str(uuid.uuid4()),
    )
    receipt = AS4Signal(SignalKind.RECEIPT, RawHTTPMessage((), b"r"), at, None, {"fromParty": from_party})
    with docs.store.unit_of_work() as uow:
        uow.messages.add(
            AS4MessageRecord(
                message_id, Direction.IN, RawHTTPMessage((), b"x"), at, document.id, "i", receipt
            )
        )
        uow.inbound.add(document, DocumentContent(body, None))
        uow.inbound.record_validation(
            document.id, status=InboundStatus.VALID, report=None, reason=None, at=at
        )
        uow.commit()
    docs.services.message_status.on_received(document.id, ReceivedEnvelope(from_party))
    return document.id


def test_the_status_shows_the_buyers_answer_and_the_mls_outcome(docs: DocumentAPI) -> None:
    posted = docs.client.post("/v1/outbound/invoices", content=json.dumps(invoice_data()).encode())
    assert posted.status_code == 202, posted.text
    document_id = posted.json()["id"]
    at = docs.clock.now()
    with docs.store.unit_of_work() as uow:
        # Sent and receipted (the delivery suite covers how); the message carried SBDH instance "inst-1".
        # Receipted by POP000002: only that AP may send the MLS about it.
        signed = AS4Signal(SignalKind.RECEIPT, RawHTTPMessage((), b"r"), at, None, {"signer": "POP000002"})
        uow.messages.add(
            AS4MessageRecord(
                "m-1@gw", Direction.OUT, RawHTTPMessage((), b"x"), at, document_id, "inst-1", signed
            )
        )
        uow.outbound.transition(document_id, DeliveryEvent.SEND_STARTED, at=at, as4_message_id="m-1@gw")
        uow.outbound.transition(document_id, DeliveryEvent.RECEIPT_RECEIVED, at=at)
        uow.commit()

    t111 = InvoiceResponse(
        id="IR-7",
        issued=at,
        sender=ResponseParty(BUYER, "Buyer"),
        receiver=ResponseParty(US, "Coop"),
        code=ResponseCode.REJECTED,
        document_id="2026-0004711",
        reasons=(StatusReason.PRICES_INCORRECT,),
        note="Price differs from the contract",
    )
    body = build_invoice_response(t111)
    _receive(docs, body, document_type=INVOICE_RESPONSE, process=INVOICE_RESPONSE_PROCESS, at=at)
    shown = docs.client.get(f"/v1/outbound/{document_id}").json()
    assert shown["status"] == "delivered"
    assert shown["status_reason"] == "rejected by buyer (PRI): Price differs from the contract"
    last = shown["timeline"][-1]
    assert (last["event"], last["from_status"], last["to_status"]) == (
        "response-received",
        "delivered",
        "delivered",
    )
    assert (last["detail"]["response_code"], last["detail"]["reasons"]) == ("RE", ["PRI"])

    mls = MessageLevelStatus(
        id="MLS-1",
        issued=at,
        sender=ParticipantID.parse("0242:000002"),
        receiver=ParticipantID.parse("0242:000001"),
        code=MLSCode.REJECTED,
        instance_id="inst-1",
        description="Rejected due to validation errors",
        issues=(MLSIssue(MLSReason.BUSINESS_RULE_VIOLATION, "[BR-CO-15] totals"),),
    )
    # Another access point cannot report on our message.
    _receive(
        docs,
        build_mls(mls),
        document_type=MLS_DOCUMENT_TYPE,
        process=MLS_PROCESS,
        at=at,
        from_party="POP000003",
    )
    assert docs.client.get(f"/v1/outbound/{document_id}").json()["status"] == "delivered"
    _receive(docs, build_mls(mls), document_type=MLS_DOCUMENT_TYPE, process=MLS_PROCESS, at=at)
    shown = docs.client.get(f"/v1/outbound/{document_id}").json()
    assert shown["status"] == "rejected"
    assert "BV: [BR-CO-15] totals" in shown["status_reason"]
    assert shown["timeline"][-1]["event"] == "mls-rejected"
    assert shown["retry_allowed"] is False
    listed = docs.client.get("/v1/outbound?status=rejected").json()
    assert [item["id"] for item in listed["items"]] == [document_id]
