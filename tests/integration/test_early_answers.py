"""Answers that overtake our receipt, between two gateways over real AS4 HTTP on loopback (SQLite and
PostgreSQL): B receives A's invoice, answers the receipt, and its MLS and AB Invoice Response reach A while
A's worker has not yet recorded that receipt (A's invoice is still ``sending``). A holds both and applies
them in the unit of work that records the receipt: nothing is lost, whatever the answer delay."""

from __future__ import annotations

from delivery_support import UUIDs, queue_document

from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind
from gateway.services.ports.responses import InvoiceResponseRequest
from gateway.services.responses import PeppolInvoiceResponder, endpoint_capability
from gateway.transport.directory import load_directory
from tests.integration.test_business_responses import (  # noqa: F401 - the two-gateway fixture
    COOP,
    NUMBER,
    SUPPLIER,
    VALID_INVOICE,
    Gateway,
    _timeline,
    gateways,
)


def _ab_responder(gateway: Gateway) -> PeppolInvoiceResponder:
    assert gateway.directory_path is not None
    return PeppolInvoiceResponder(
        validation=gateway.validation,
        can_receive=endpoint_capability(load_directory(gateway.directory_path)),
        ids=UUIDs(),
        statuses=frozenset({"AB", "AP", "RE"}),
    )


def test_an_mls_and_an_ab_response_that_overtake_the_receipt_are_applied_with_it(
    gateways: tuple[Gateway, Gateway],  # noqa: F811 - the fixture
) -> None:
    a, b = gateways
    invoice_id = queue_document(
        a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes()
    )
    seen: list[DeliveryStatus] = []

    def b_answers_at_once() -> None:
        # B has answered the receipt and queued its MLS; its buyer acknowledges (AB) at once too. Both go
        # to A before A's worker has looked at the receipt.
        [received] = b.received()
        with b.store.unit_of_work() as uow:
            request = InvoiceResponseRequest(received.id, "AB", b.clock.now())
            assert _ab_responder(b).respond(uow, request) is not None
            uow.commit()
        sent = b.deliver_all()
        assert sorted(r.status for r in sent) == [DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED]
        with a.store.unit_of_work(read_only=True) as uow:
            document = uow.outbound.get(invoice_id)
        assert document is not None
        seen.append(document.status)

    [result] = a.deliver_all(before_answer=b_answers_at_once)

    assert seen == [DeliveryStatus.SENDING]  # both answers arrived before the receipt was recorded
    assert result.status is DeliveryStatus.DELIVERED  # the outcome of the attempt itself
    [invoice] = a.outbound(DocumentKind.INVOICE)
    assert invoice.status is DeliveryStatus.CONFIRMED
    # Both answers were held at the same (test clock) time: either may be applied first.
    events = _timeline(a, invoice_id)
    assert events[-3] is DeliveryEvent.RECEIPT_RECEIVED
    assert set(events[-2:]) == {DeliveryEvent.MLS_ACCEPTED, DeliveryEvent.RESPONSE_RECEIVED}
    with a.store.unit_of_work(read_only=True) as uow:
        details = [e.detail or {} for e in uow.outbound.timeline(invoice_id)[-2:]]
    assert {d.get("mls_code") or d.get("response_code") for d in details} == {"AP", "AB"}
