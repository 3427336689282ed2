"""A Message Level Status that arrives before our receipt of the message it answers is recorded is held,
not dropped, and applied in the unit of work that records the receipt - or by the start-up recovery pass -
on SQLite and PostgreSQL; an early MLS from another access point than the one that signed our receipt is
still refused when it is applied."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import event, func, select

from gateway.api.pending_sweep import run_pending_sweep
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    DocumentContent,
    DocumentKind,
    InboundDocument,
    InboundStatus,
    OutboundDocument,
    RawHTTPMessage,
    SignalKind,
)
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, MessageLevelStatus, MLSCode
from gateway.services.message_status import MessageStatusService, ReceivedEnvelope, RecordedVerdict
from gateway.services.received_answers import AnswerOutcome, ReceivedAnswers
from gateway.store import SQLDocumentStore
from gateway.store.tables import pending_answers
from gateway.ubl.application_response import build_mls, read_application_response
from gateway.worker.loop import recover_held_answers

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SELLER_ID = "0208:0739484052"
BUYER = ParticipantID.parse("0208:0123456749")
OUR_SPID = ParticipantID.parse("0242:000001")
THEIR_SPID = ParticipantID.parse("0242:000002")
THEIR_SEAT = "POP000002"  # the AP that received our invoice and signed the receipt


class _Clock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


class _IDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def _answers(store: SQLDocumentStore) -> ReceivedAnswers:
    return ReceivedAnswers(store=store, clock=_Clock(), ids=_IDs(), seller_id=SELLER_ID, webhook_url=None)


def _status_service(store: SQLDocumentStore) -> MessageStatusService:
    return MessageStatusService(
        store=store,
        validation=_NoValidation(),
        can_receive=None,
        clock=_Clock(),
        ids=_IDs(),
        our_spid=None,
        seller_id=SELLER_ID,
        answers=_answers(store),
    )


class _NoValidation:
    def validate(self, xml: bytes, *, rule_set: str | None = None) -> object:
        raise AssertionError("no MLS is built here")


def _sending_invoice(store: SQLDocumentStore) -> tuple[str, str, str]:
    """An invoice whose AS4 message was sent, its receipt not recorded yet: (document, message, instance)."""
    document = OutboundDocument(
        id=str(uuid.uuid4()),
        kind=DocumentKind.INVOICE,
        seller_id=SELLER_ID,
        document_number=f"INV-{uuid.uuid4().hex[:8]}",
        sender=ParticipantID.parse(SELLER_ID),
        receiver=BUYER,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=DeliveryStatus.ACCEPTED,
        created_at=T0,
        updated_at=T0,
    )
    message_id, instance_id = f"{uuid.uuid4()}@gw.test", str(uuid.uuid4())
    with store.unit_of_work() as uow:
        uow.outbound.add(document, DocumentContent(b"<Invoice/>", None))
        uow.messages.add(
            AS4MessageRecord(
                message_id=message_id,
                direction=Direction.OUT,
                request=RawHTTPMessage((), b"sent"),
                created_at=T0,
                document_id=document.id,
                sbdh_instance_id=instance_id,
            )
        )
        uow.outbound.transition(document.id, DeliveryEvent.SEND_STARTED, at=T0, as4_message_id=message_id)
        uow.commit()
    return document.id, message_id, instance_id


def _record_receipt(
    store: SQLDocumentStore, document_id: str, message_id: str, hook: ReceivedAnswers | None
) -> None:
    """What the deliverer's outcome unit of work does for a verified receipt (signed by THEIR_SEAT)."""
    receipt = AS4Signal(
        SignalKind.RECEIPT, RawHTTPMessage((), b"receipt"), T0, None, {"signer": THEIR_SEAT, "references": 2}
    )
    with store.unit_of_work() as uow:
        uow.messages.record_signal(message_id, Direction.OUT, receipt)
        uow.outbound.transition(document_id, DeliveryEvent.RECEIPT_RECEIVED, at=T0)
        if hook is not None:
            hook.after_receipt(uow, document_id)
        uow.commit()


def _received_mls(store: SQLDocumentStore, instance_id: str, *, from_party: str, code: MLSCode) -> str:
    """An MLS about ``instance_id``, received over AS4 from ``from_party`` and recorded valid."""
    body = build_mls(
        MessageLevelStatus(
            id=str(uuid.uuid4()),
            issued=T0,
            sender=THEIR_SPID,
            receiver=OUR_SPID,
            code=code,
            instance_id=instance_id,
            description="Rejected due to validation errors" if code is MLSCode.REJECTED else None,
        )
    )
    message_id = f"{uuid.uuid4()}@their.ap"
    document = InboundDocument(
        id=str(uuid.uuid4()),
        as4_message_id=message_id,
        sender=THEIR_SPID,
        receiver=OUR_SPID,
        document_type=MLS_DOCUMENT_TYPE,
        process=MLS_PROCESS,
        status=InboundStatus.RECEIVED,
        received_at=T0,
        updated_at=T0,
        sbdh_instance_id=str(uuid.uuid4()),
    )
    our_receipt = AS4Signal(
        SignalKind.RECEIPT, RawHTTPMessage((), b"ours"), T0, None, {"fromParty": from_party}
    )
    with store.unit_of_work() as uow:
        uow.messages.add(
            AS4MessageRecord(
                message_id=message_id,
                direction=Direction.IN,
                request=RawHTTPMessage((), b"mls"),
                created_at=T0,
                document_id=document.id,
                sbdh_instance_id=document.sbdh_instance_id,
                signal=our_receipt,
            )
        )
        uow.inbound.add(document, DocumentContent(body, None))
        uow.inbound.record_validation(
            document.id, status=InboundStatus.VALID, report=None, reason=None, at=T0
        )
        uow.commit()
    return document.id


def _state(store: SQLDocumentStore, document_id: str) -> tuple[DeliveryStatus, list[DeliveryEvent]]:
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
        events = [entry.event for entry in uow.outbound.timeline(document_id)]
    assert document is not None
    return document.status, events


def _held(store: SQLDocumentStore) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(pending_answers)).scalar_one())


def test_an_mls_received_while_sending_is_applied_with_the_receipt(store: SQLDocumentStore) -> None:
    invoice, message_id, instance_id = _sending_invoice(store)
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)

    _status_service(store).on_received(mls, ReceivedEnvelope(THEIR_SEAT))
    assert _state(store, invoice)[0] is DeliveryStatus.SENDING  # not applicable yet, but not dropped
    assert _held(store) == 1

    _record_receipt(store, invoice, message_id, _answers(store))
    status, events = _state(store, invoice)
    assert status is DeliveryStatus.CONFIRMED
    assert events[-2:] == [DeliveryEvent.RECEIPT_RECEIVED, DeliveryEvent.MLS_ACCEPTED]
    assert _held(store) == 0


def test_an_early_rejection_is_applied_too(store: SQLDocumentStore) -> None:
    invoice, message_id, instance_id = _sending_invoice(store)
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.REJECTED)
    _status_service(store).on_received(mls, ReceivedEnvelope(THEIR_SEAT))
    _record_receipt(store, invoice, message_id, _answers(store))
    assert _state(store, invoice)[0] is DeliveryStatus.REJECTED


def test_a_forged_early_mls_from_another_access_point_is_not_applied(store: SQLDocumentStore) -> None:
    invoice, message_id, instance_id = _sending_invoice(store)
    # POP000009 knows the instance id, but our receipt is signed by POP000002.
    forged = _received_mls(store, instance_id, from_party="POP000009", code=MLSCode.REJECTED)
    _status_service(store).on_received(forged, ReceivedEnvelope("POP000009"))
    _record_receipt(store, invoice, message_id, _answers(store))
    status, events = _state(store, invoice)
    assert status is DeliveryStatus.DELIVERED
    assert events[-1] is DeliveryEvent.RECEIPT_RECEIVED
    assert _held(store) == 0  # checked once, dropped

    # The genuine MLS still applies afterwards.
    genuine = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    _status_service(store).on_received(genuine, ReceivedEnvelope(THEIR_SEAT))
    assert _state(store, invoice)[0] is DeliveryStatus.CONFIRMED


def test_recovery_applies_an_answer_left_held_after_a_restart(store: SQLDocumentStore) -> None:
    invoice, message_id, instance_id = _sending_invoice(store)
    other, _, other_instance = _sending_invoice(store)
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    still_early = _received_mls(store, other_instance, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    service = _status_service(store)
    service.on_received(mls, ReceivedEnvelope(THEIR_SEAT))
    service.on_received(still_early, ReceivedEnvelope(THEIR_SEAT))
    # The receipt is recorded by a worker that did not apply held answers (stopped before, older build).
    _record_receipt(store, invoice, message_id, None)
    assert _state(store, invoice)[0] is DeliveryStatus.DELIVERED

    # After a restart, the recovery pass applies it; the other document's answer stays held.
    assert _answers(store).recover(batch_size=1) == 1
    assert _state(store, invoice)[0] is DeliveryStatus.CONFIRMED
    assert _state(store, other)[0] is DeliveryStatus.SENDING
    assert _held(store) == 1
    assert _answers(store).recover() == 0


def test_an_mls_about_nothing_we_sent_is_ignored_and_not_held(store: SQLDocumentStore) -> None:
    mls = _received_mls(store, str(uuid.uuid4()), from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    _status_service(store).on_received(mls, ReceivedEnvelope(THEIR_SEAT))
    assert _held(store) == 0


def test_the_worker_applies_held_answers_at_start_up(store: SQLDocumentStore) -> None:
    invoice, message_id, instance_id = _sending_invoice(store)
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    _status_service(store).on_received(mls, ReceivedEnvelope(THEIR_SEAT))
    _record_receipt(store, invoice, message_id, None)
    services = Services(settings=Settings.model_validate({}), validation=cast(Any, object()), store=store)
    assert asyncio.run(recover_held_answers(services)) == 1
    assert _state(store, invoice)[0] is DeliveryStatus.CONFIRMED


def test_the_serve_sweep_applies_answers_left_held_without_waiting_for_a_start_up(
    store: SQLDocumentStore,
) -> None:
    invoice, message_id, instance_id = _sending_invoice(store)
    other, _, other_instance = _sending_invoice(store)
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    still_early = _received_mls(store, other_instance, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    service = _status_service(store)
    service.on_received(mls, ReceivedEnvelope(THEIR_SEAT))
    service.on_received(still_early, ReceivedEnvelope(THEIR_SEAT))
    _record_receipt(store, invoice, message_id, None)  # a worker that did not apply the held answer
    assert _held(store) == 2
    settings = Settings.model_validate({"as4": {"pending_sweep_interval_seconds": 0.05}})
    services = Services(settings=settings, validation=cast(Any, object()), store=store)

    async def sweep_until_applied() -> None:
        timer = asyncio.create_task(run_pending_sweep(services))
        try:
            deadline = time.monotonic() + 10
            while (await asyncio.to_thread(_state, store, invoice))[0] is not DeliveryStatus.CONFIRMED:
                assert time.monotonic() < deadline, "the periodic sweep never applied the held answer"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # a few more ticks: nothing is applied twice
        finally:
            timer.cancel()

    asyncio.run(sweep_until_applied())
    status, events = _state(store, invoice)
    assert status is DeliveryStatus.CONFIRMED
    assert events.count(DeliveryEvent.MLS_ACCEPTED) == 1
    assert _state(store, other)[0] is DeliveryStatus.SENDING  # still awaiting our receipt: left held
    assert _held(store) == 1


def test_an_answer_arriving_while_the_receipt_is_being_recorded_is_applied_once(
    store: SQLDocumentStore,
) -> None:
    invoice, message_id, instance_id = _sending_invoice(store)
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    receipt = AS4Signal(SignalKind.RECEIPT, RawHTTPMessage((), b"r"), T0, None, {"signer": THEIR_SEAT})
    with store.unit_of_work(read_only=True) as read:
        document, content = read.inbound.get(mls), read.inbound.get_content(mls)
    assert document is not None
    assert content is not None
    answer = read_application_response(content.body)
    outcome: list[AnswerOutcome] = []
    receiving = threading.Thread(target=lambda: outcome.append(_answers(store).receive(document, answer)))
    with store.unit_of_work() as uow:
        # The worker records the receipt and has looked for held answers (none yet) ...
        uow.messages.record_signal(message_id, Direction.OUT, receipt)
        uow.outbound.transition(invoice, DeliveryEvent.RECEIPT_RECEIVED, at=T0)
        assert _answers(store).after_receipt(uow, invoice) == 0
        # ... when the MLS is received: holding it waits for the document row until the receipt commits.
        receiving.start()
        receiving.join(timeout=0.5)
        assert receiving.is_alive()
        uow.commit()
    receiving.join(timeout=30)
    assert outcome == [AnswerOutcome.APPLIED]
    assert _state(store, invoice)[0] is DeliveryStatus.CONFIRMED
    assert _held(store) == 0


def test_an_mls_handed_on_with_its_verdict_is_applied_without_reading_its_body_back(
    store: SQLDocumentStore,
) -> None:
    # The receiver hands the bytes it has just validated and stored on with the verdict: applying the MLS
    # reads the document's row, not its body (nor its report) again.
    invoice, message_id, instance_id = _sending_invoice(store)
    _record_receipt(store, invoice, message_id, _answers(store))
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.REJECTED)
    with store.unit_of_work(read_only=True) as uow:
        content = uow.inbound.get_content(mls)
    assert content is not None
    verdict = RecordedVerdict(MLS_DOCUMENT_TYPE, InboundStatus.VALID, None, content.body)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        queued = _status_service(store).on_received(mls, ReceivedEnvelope(THEIR_SEAT, recorded=verdict))
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert queued is None  # no MLS answers an MLS
    assert _state(store, invoice)[0] is DeliveryStatus.REJECTED
    assert [s for s in statements if "from inbound_documents" in s]  # its row, for the checks
    assert not [s for s in statements if "inbound_document_bodies" in s or "validation_report" in s]


def test_an_mls_about_a_delivered_document_is_applied_without_holding_or_reading_message_bytes(
    store: SQLDocumentStore,
) -> None:
    # The common case (the MLS follows our recorded receipt): no pending_answers row is written and taken
    # back, and the authenticity check reads the receipt summaries, not every message's request body.
    invoice, message_id, instance_id = _sending_invoice(store)
    _record_receipt(store, invoice, message_id, _answers(store))
    mls = _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()).lower())

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        _status_service(store).on_received(mls, ReceivedEnvelope(THEIR_SEAT))
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert _state(store, invoice)[0] is DeliveryStatus.CONFIRMED
    assert not [
        s for s in statements if s.startswith(("insert into pending_answers", "delete from pending_answers"))
    ]
    assert not [s for s in statements if "as4_messages.request_body" in s]


def test_settleable_lists_only_held_answers_whose_document_no_longer_awaits_our_receipt(
    store: SQLDocumentStore,
) -> None:
    delivered, _, delivered_instance = _sending_invoice(store)
    _, _, sending_instance = _sending_invoice(store)
    failed, _, failed_instance = _sending_invoice(store)  # failed after a message was built: still awaits
    service = _status_service(store)
    answers = [
        _received_mls(store, instance, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED)
        for instance in (delivered_instance, sending_instance, failed_instance, delivered_instance)
    ]
    for answer in answers:
        service.on_received(answer, ReceivedEnvelope(THEIR_SEAT))
    with store.unit_of_work() as uow:
        uow.outbound.transition(failed, DeliveryEvent.PERMANENT_FAILURE, at=T0, reason="refused")
        uow.outbound.transition(delivered, DeliveryEvent.RECEIPT_RECEIVED, at=T0)
        uow.commit()
    assert _held(store) == 4

    with store.unit_of_work(read_only=True) as uow:
        everything = uow.answers.settleable(limit=10)
        first = uow.answers.settleable(limit=1)
        rest = uow.answers.settleable(limit=10, after=first[0])
    assert sorted(held.inbound_document_id for held in everything) == sorted([answers[0], answers[3]])
    assert {held.outbound_document_id for held in everything} == {delivered}
    assert [held.inbound_document_id for held in first + rest] == [
        held.inbound_document_id for held in everything
    ]


def test_a_recovery_pass_opens_no_writing_unit_of_work_for_answers_still_awaiting_our_receipt(
    store: SQLDocumentStore, monkeypatch: Any
) -> None:
    service = _status_service(store)
    for _ in range(4):
        _, _, instance = _sending_invoice(store)
        service.on_received(
            _received_mls(store, instance, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED),
            ReceivedEnvelope(THEIR_SEAT),
        )
    invoice, message_id, instance_id = _sending_invoice(store)
    service.on_received(
        _received_mls(store, instance_id, from_party=THEIR_SEAT, code=MLSCode.ACCEPTED),
        ReceivedEnvelope(THEIR_SEAT),
    )
    assert _held(store) == 5
    writes: list[bool] = []
    opened = store.unit_of_work

    def counting(*, read_only: bool = False) -> Any:
        if not read_only:
            writes.append(True)
        return opened(read_only=read_only)

    monkeypatch.setattr(store, "unit_of_work", counting)
    assert _answers(store).recover(batch_size=2) == 0
    assert writes == []  # five held answers, all still awaiting our receipt: not one write lock taken
    assert _held(store) == 5

    monkeypatch.setattr(store, "unit_of_work", opened)
    _record_receipt(store, invoice, message_id, None)  # a worker that did not apply the held answer
    monkeypatch.setattr(store, "unit_of_work", counting)
    assert _answers(store).recover(batch_size=2) == 1
    assert writes == [True]  # one writing unit of work: the answer applied
    assert _answers(store).recover(batch_size=2) == 0
    assert len(writes) == 1
    status, events = _state(store, invoice)
    assert status is DeliveryStatus.CONFIRMED
    assert events.count(DeliveryEvent.MLS_ACCEPTED) == 1
    assert _held(store) == 4
