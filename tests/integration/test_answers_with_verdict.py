"""A received answer (MLS, Invoice Response) about a document we sent is applied in the unit of work that
records its verdict, between two gateways over real AS4 HTTP on loopback (SQLite files and PostgreSQL): a
store failure or a stop right after that commit can no longer lose it. Before, the verdict (VALID) was
committed first and the answer applied in a second unit of work; if that failed the answer was only logged,
and nothing ever looked at the VALID document again, so our invoice never got the status it carries."""

from __future__ import annotations

from typing import Any

import pytest
from delivery_support import queue_document
from sqlalchemy import func, select

from gateway.errors import StoreDataRefused, StoreError
from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind, InboundStatus
from gateway.services import message_status
from gateway.services.ports.responses import InvoiceResponseRequest
from gateway.services.received_answers import AnswerOutcome, ReceivedAnswers
from gateway.store.tables import pending_answers
from gateway.ubl.application_response import ReadResponse, read_application_response
from tests.integration.test_business_responses import (  # noqa: F401 - the two-gateway fixture
    COOP,
    NUMBER,
    SUPPLIER,
    VALID_INVOICE,
    Gateway,
    _timeline,
    gateways,
)


def _answers_fail_after_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Applying an answer in a unit of work of its own (after the verdict's commit) fails, as when the
    store goes away, or the process stops, between the two commits."""

    def gone(self: ReceivedAnswers, document: object, read: object) -> AnswerOutcome:
        raise StoreError("connection lost after the verdict's commit")

    monkeypatch.setattr(ReceivedAnswers, "receive", gone)


def _held(gateway: Gateway) -> int:
    with gateway.store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(pending_answers)).scalar_one())


def _received(gateway: Gateway) -> list[InboundStatus]:
    return [document.status for document in gateway.received()]


def test_an_mls_is_not_lost_when_the_store_fails_right_after_its_verdict(
    gateways: tuple[Gateway, Gateway],  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = gateways
    invoice_id = queue_document(
        a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes()
    )
    [sent] = a.deliver_all()
    assert sent.status is DeliveryStatus.DELIVERED
    [_] = b.outbound(DocumentKind.MLS)  # B queued its MLS AP (A asked ALWAYS_SEND)

    _answers_fail_after_the_verdict(monkeypatch)
    [mls_sent] = b.deliver_all()  # B -> A: A validates the MLS and records it VALID, then the store fails

    assert mls_sent.status is DeliveryStatus.DELIVERED
    assert _received(a) == [InboundStatus.VALID]
    [invoice] = a.outbound(DocumentKind.INVOICE)
    assert invoice.id == invoice_id
    assert invoice.status is DeliveryStatus.CONFIRMED  # applied with the verdict, not after it
    assert _timeline(a, invoice_id)[-1] is DeliveryEvent.MLS_ACCEPTED
    assert _held(a) == 0


def test_an_invoice_response_is_not_lost_when_the_store_fails_right_after_its_verdict(
    gateways: tuple[Gateway, Gateway],  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = gateways
    invoice_id = _answered_by_b(a, b, "RE", note="Unknown production unit")

    _answers_fail_after_the_verdict(monkeypatch)
    [response_sent] = b.deliver_all()

    assert response_sent.status is DeliveryStatus.DELIVERED
    [invoice] = a.outbound(DocumentKind.INVOICE)
    assert invoice.status is DeliveryStatus.CONFIRMED  # a T111 keeps the status and tells the answer
    assert invoice.status_reason == "rejected by buyer (OTH): Unknown production unit"
    assert _timeline(a, invoice_id)[-1] is DeliveryEvent.RESPONSE_RECEIVED
    assert _held(a) == 0


def test_a_store_failure_while_the_answer_is_applied_rolls_its_verdict_back_and_it_is_applied_once_later(
    gateways: tuple[Gateway, Gateway],  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = gateways
    invoice_id = queue_document(
        a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes()
    )
    a.deliver_all()
    real = ReceivedAnswers.receive_in
    calls: list[str] = []

    def fails_once(self: ReceivedAnswers, uow: Any, document: Any, read: Any) -> AnswerOutcome:
        calls.append(document.id)
        if len(calls) == 1:
            raise StoreError("update outbound document: OperationalError (database is locked)")
        return real(self, uow, document, read)

    monkeypatch.setattr(ReceivedAnswers, "receive_in", fails_once)
    b.deliver_all()  # A stores the MLS with its receipt; its verdict and the answer fail together

    assert _received(a) == [InboundStatus.RECEIVED]  # still pending: not VALID without its effect
    [invoice] = a.outbound(DocumentKind.INVOICE)
    assert invoice.status is DeliveryStatus.DELIVERED

    receiver = a.receiver()
    assert receiver.recover_pending() == 1  # the start-up recovery (or the sweep, or a resend) finishes it
    assert receiver.recover_pending() == 0
    assert _received(a) == [InboundStatus.VALID]
    [invoice] = a.outbound(DocumentKind.INVOICE)
    assert invoice.status is DeliveryStatus.CONFIRMED
    assert _timeline(a, invoice_id).count(DeliveryEvent.MLS_ACCEPTED) == 1
    assert _held(a) == 0


def test_an_answer_the_store_refuses_for_good_gets_its_verdict_and_is_not_left_pending(
    gateways: tuple[Gateway, Gateway],  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An integrity or data error repeats on every retry: kept pending, the MLS would be validated again by
    # every sweep, forever. Its verdict is recorded alone (logged), the answer handed on after the commit.
    a, b = gateways
    invoice_id = queue_document(
        a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes()
    )
    a.deliver_all()
    calls: list[str] = []

    def refused(self: ReceivedAnswers, uow: Any, document: Any, read: Any) -> AnswerOutcome:
        calls.append(document.id)
        raise StoreDataRefused("pending answers.hold: integrity constraint failed")

    monkeypatch.setattr(ReceivedAnswers, "receive_in", refused)
    with caplog.at_level("ERROR", logger="gateway.receive"):
        b.deliver_all()  # A stores the MLS with its receipt; applying it fails for good

    assert _received(a) == [InboundStatus.VALID]  # recorded: no sweep looks at it again
    assert any("the store refused the answer" in record.getMessage() for record in caplog.records)
    assert len(calls) == 2  # with the verdict (rolled back), then handed on after the commit, as before
    [invoice] = a.outbound(DocumentKind.INVOICE)
    assert invoice.status is DeliveryStatus.DELIVERED
    assert _timeline(a, invoice_id)[-1] is DeliveryEvent.RECEIPT_RECEIVED
    assert a.receiver().recover_pending() == 0
    assert len(calls) == 2


def test_a_received_invoice_response_is_read_once_for_its_mls_and_its_effect(
    gateways: tuple[Gateway, Gateway],  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Whether an MLS answers it (none answers an MLS) and the answer applied with its verdict: one read of
    # the ApplicationResponse's bytes, handed to both, not one each.
    a, b = gateways
    invoice_id = _answered_by_b(a, b, "AP")
    reads: list[bytes] = []

    def counted(data: bytes, **kwargs: Any) -> ReadResponse:
        reads.append(data)
        return read_application_response(data, **kwargs)

    monkeypatch.setattr(message_status, "read_application_response", counted)
    [response_sent] = b.deliver_all()

    assert response_sent.status is DeliveryStatus.DELIVERED
    assert len(reads) == 1
    assert _timeline(a, invoice_id)[-1] is DeliveryEvent.RESPONSE_RECEIVED


def _answered_by_b(a: Gateway, b: Gateway, code: str, *, note: str | None = None) -> str:
    """A's invoice delivered to B and confirmed by B's MLS; B then queues an Invoice Response ``code`` for
    it. Returns the invoice's outbound id at A."""
    invoice_id = queue_document(
        a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes()
    )
    a.deliver_all()
    b.deliver_all()  # the MLS AP: A's invoice is confirmed
    [received] = b.received()
    with b.store.unit_of_work() as uow:
        request = InvoiceResponseRequest(received.id, code, b.clock.now(), note=note)
        assert b.responder().respond(uow, request) is not None
        uow.commit()
    return invoice_id
