"""The sweep of received documents left awaiting their verdict (``AS4Receiver.sweep_pending`` and the timer of
``gateway serve``): it finishes a document whose verdict could not be recorded after its receipt without a
restart, steps over documents younger than its age threshold and those whose work after the receipt is
still to run, and - run while a document is pending, while one is done, or beside the work it might race in
another process - hands every document on exactly once (one MLS decision, one expense draft). Real
validation engine, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from as4_support import NOW, RECEIVER, dev_pki
from fastapi import FastAPI

from gateway.api.routes import as4 as as4_route
from gateway.model import ParticipantID
from gateway.model.message import InboundStatus
from gateway.services.message_status import ReceivedEnvelope
from gateway.services.receive import AfterReceipt, AS4Receiver, ReceiveOutcome
from gateway.services.receive_finish import IN_FLIGHT_HOLD, InboundFinisher
from gateway.store.documents import SQLInboundDocumentRepository
from gateway.ubl.sbdh import read_sbd_header
from gateway.validation import ValidationEngine
from tests.integration.test_as4_endpoint import (  # noqa: F401 - fixtures
    FlakyStore,
    UUIDs,
    inbound_documents,
    make_app,
    make_message,
    official_example,
    sbd_of,
    serve,
    settings_for,
    sql_store,
    store,
)

AGE = timedelta(minutes=5)


class MovingClock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


class HandOns:
    """Counts what each document was handed on to (the MLS hook and the expense hook)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.valid: list[str] = []
        self.envelopes: list[ReceivedEnvelope] = []

    def on_received(self, document_id: str, envelope: ReceivedEnvelope) -> None:
        self.received.append(document_id)
        self.envelopes.append(envelope)

    def on_valid(self, uow: Any, document_id: str, validated: Any) -> None:
        assert validated.model is not None  # read from the validation's own tree
        self.valid.append(document_id)


def receiver_with(documents: Any, engine: ValidationEngine, clock: MovingClock, **hooks: Any) -> AS4Receiver:
    """A receiver of the dev PKI on ``documents`` whose after-verdict hooks (``on_received``, ``on_valid``,
    ``mls``) are ``hooks``."""
    p = dev_pki()
    return AS4Receiver(
        store=documents,
        validator=engine,
        identity=p.receiver,
        trust=p.trust,
        served={RECEIVER},
        clock=clock,
        ids=UUIDs(),
        rule_set=lambda: "peppol-bis-billing-3.0.21",
        message_id_domain="gw.test",
        **hooks,
    )


def make_receiver(
    documents: Any, engine: ValidationEngine, clock: MovingClock, hand_ons: HandOns
) -> AS4Receiver:
    return receiver_with(
        documents, engine, clock, on_received=hand_ons.on_received, on_valid=hand_ons.on_valid
    )


def deliver(receiver: AS4Receiver, artefacts_dir: Path, deferred: list[AfterReceipt]) -> str:
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    result = receiver.receive(tuple(msg.headers.items()), msg.body, defer=deferred.append)
    assert result.outcome is ReceiveOutcome.ACCEPTED
    assert result.document_id is not None
    return result.document_id


def statuses(flaky: FlakyStore) -> dict[str, InboundStatus]:
    return {document.id: document.status for document in inbound_documents(flaky)}


def test_the_sweep_finishes_only_old_abandoned_documents_and_hands_each_on_once(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    deferred: list[AfterReceipt] = []
    done = deliver(receiver, artefacts_dir, deferred)
    pending = deliver(receiver, artefacts_dir, deferred)
    finish_done, finish_pending = deferred
    assert finish_done() is InboundStatus.VALID
    # Young documents are never swept, in flight or not.
    assert receiver.sweep_pending(older_than=AGE) == 0
    clock.at = NOW + AGE + timedelta(seconds=1)
    # Old, but its work after the receipt is still to run here: stepped over; the done one stays done.
    assert receiver.sweep_pending(older_than=AGE) == 0
    assert statuses(store) == {done: InboundStatus.VALID, pending: InboundStatus.RECEIVED}
    assert (hand_ons.received, hand_ons.valid) == ([done], [done])
    # That work gives up (the store fails on every try): the document is the sweep's now.
    store.down = True
    with pytest.raises(Exception, match="OperationalError"):
        finish_pending()
    finish_pending.release()  # its caller gives up on it (its last try)
    store.down = False
    assert receiver.sweep_pending(older_than=AGE) == 1
    assert statuses(store) == {done: InboundStatus.VALID, pending: InboundStatus.VALID}
    assert sorted(hand_ons.received) == sorted([done, pending])
    assert sorted(hand_ons.valid) == sorted([done, pending])
    # Swept again, and recovered as at a start-up: nothing is validated or handed on twice.
    assert receiver.sweep_pending(older_than=AGE) == 0
    assert receiver.recover_pending() == 0
    assert len(hand_ons.received) == len(hand_ons.valid) == 2


def test_a_sweep_of_another_process_racing_the_work_after_a_receipt_hands_it_on_once(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    clock, hand_ons = MovingClock(), HandOns()
    here = make_receiver(store, validation_engine, clock, hand_ons)
    elsewhere = make_receiver(store, validation_engine, clock, hand_ons)  # a second API process
    deferred: list[AfterReceipt] = []
    document = deliver(here, artefacts_dir, deferred)
    clock.at = NOW + AGE + timedelta(seconds=1)  # its work waited longer than the age (a burst)
    assert elsewhere.sweep_pending(older_than=AGE) == 1  # the other process knows nothing of it
    [finish] = deferred
    assert finish() is InboundStatus.VALID  # validated again, but the verdict was already recorded
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])
    assert statuses(store) == {document: InboundStatus.VALID}


def test_serve_sweeps_a_document_whose_verdict_could_not_be_recorded(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(as4_route, "AFTER_RECEIPT_PAUSE_SECONDS", 0.01)
    settings = settings_for(
        artefacts_dir, tmp_path, pending_sweep_interval_seconds=0.1, pending_sweep_age_seconds=0
    )
    app: FastAPI = make_app(settings, store, validation_engine)
    validate = validation_engine.validate
    validations = [0]

    def validate_then_store_down(*args: Any, **kwargs: Any) -> Any:
        validations[0] += 1
        if validations[0] == 1:
            store.down = True  # every try after the receipt fails to record the verdict
        return validate(*args, **kwargs)

    run_after_receipt = as4_route._run_after_receipt
    gave_up = threading.Event()
    tries: list[int] = []

    def run_then_store_up(work: Any) -> None:
        run_after_receipt(work)  # three tries, then it gives up
        tries.append(validations[0])  # counted before the store is back: the sweep may validate at once
        store.down = False
        gave_up.set()

    monkeypatch.setattr(validation_engine, "validate", validate_then_store_down)
    monkeypatch.setattr(as4_route, "_run_after_receipt", run_then_store_up)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    with serve(app) as url, httpx.Client(timeout=60) as http:
        response = http.post(url, content=msg.body, headers=dict(msg.headers))
        assert response.status_code == 200
        assert gave_up.wait(30), "the work after the receipt never gave up"
        assert tries == [as4_route.AFTER_RECEIPT_TRIES]
        deadline = time.monotonic() + 30
        while inbound_documents(store)[0].status is InboundStatus.RECEIVED:
            assert time.monotonic() < deadline, "the sweep never finished the document"
            time.sleep(0.05)
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID
    assert validations[0] == as4_route.AFTER_RECEIPT_TRIES + 1  # three tries, then one sweep


def test_a_document_whose_work_after_the_receipt_never_ran_is_swept_once_the_hold_has_passed(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    # The answer could not be sent (the sender hung up), so the web server never ran the work it carried.
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    lost: list[AfterReceipt] = []
    document = deliver(receiver, artefacts_dir, lost)
    clock.at = NOW + AGE + timedelta(seconds=1)
    assert receiver.sweep_pending(older_than=AGE) == 0  # still taken for queued work
    clock.at = NOW + IN_FLIGHT_HOLD + timedelta(seconds=1)
    assert receiver.sweep_pending(older_than=AGE) == 1
    assert statuses(store) == {document: InboundStatus.VALID}
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])


def test_a_document_whose_work_was_not_queued_is_left_to_the_sweep_and_handed_on_once(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    # The work after receipts is at its bound in this process (api/routes/as4.py): not queued, not held.
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    result = receiver.receive(tuple(msg.headers.items()), msg.body, defer=lambda work: False)
    assert result.outcome is ReceiveOutcome.ACCEPTED
    document = result.document_id
    assert document is not None
    assert statuses(store) == {document: InboundStatus.RECEIVED}
    assert receiver.sweep_pending(older_than=AGE) == 0  # young: another process's work may still run
    clock.at = NOW + AGE + timedelta(seconds=1)
    assert receiver.sweep_pending(older_than=AGE) == 1  # no hold to wait for
    assert statuses(store) == {document: InboundStatus.VALID}
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])
    assert receiver.sweep_pending(older_than=AGE) == 0
    assert receiver.recover_pending() == 0
    assert (hand_ons.received, hand_ons.valid) == ([document], [document])


def test_a_swept_document_keeps_the_mls_scopes_its_sender_asked_for(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
) -> None:
    # MLS_TO and MLS_TYPE live in the SBDH, which is not stored: the receipt summary keeps them, so the MLS
    # of a swept (or recovered, or resent) document goes where and when its sender asked.
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    sbd = sbd_of(
        official_example(artefacts_dir), mls_to=ParticipantID.parse("0242:000009"), mls_type="ALWAYS_SEND"
    )
    msg = make_message(sbd)
    result = receiver.receive(tuple(msg.headers.items()), msg.body, defer=[].append)
    assert result.outcome is ReceiveOutcome.ACCEPTED
    clock.at = NOW + IN_FLIGHT_HOLD + timedelta(seconds=1)  # its work never ran
    assert receiver.sweep_pending(older_than=AGE) == 1
    [envelope] = hand_ons.envelopes
    assert (envelope.mls_to, envelope.mls_type) == ("0242:000009", "ALWAYS_SEND")
    assert envelope.instance_id == read_sbd_header(sbd, max_bytes=len(sbd)).instance_id
    assert envelope.from_party  # the sending AP's seat id, as before


@pytest.mark.parametrize("startup", [False, True], ids=["sweep", "start-up"])
def test_a_pass_over_pending_documents_holds_one_body_at_a_time(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    startup: bool,
) -> None:
    # The documents beyond the after-receipt backlog's bound are left to this sweep: reading a batch's
    # bodies before validating any held up to 50 x MAX_MESSAGE_BYTES at once. One is read, finished and
    # released before the next is read.
    clock, hand_ons = MovingClock(), HandOns()
    receiver = make_receiver(store, validation_engine, clock, hand_ons)
    documents = []
    for _ in range(3):
        msg = make_message(sbd_of(official_example(artefacts_dir)))
        result = receiver.receive(tuple(msg.headers.items()), msg.body, defer=lambda work: False)
        assert result.outcome is ReceiveOutcome.ACCEPTED
        documents.append(result.document_id)
    clock.at = NOW + AGE + timedelta(seconds=1)
    steps: list[str] = []
    live = [0, 0]  # bodies read and not finished yet, the most at once
    read_content, finish = SQLInboundDocumentRepository.get_content, InboundFinisher.finish

    def reading(self: Any, document_id: str) -> Any:
        steps.append(f"read {document_id}")
        live[0] += 1
        live[1] = max(live)
        return read_content(self, document_id)

    def finishing(self: Any, facts: Any, business: Any) -> Any:
        steps.append(f"finish {facts.document_id}")
        try:
            return finish(self, facts, business)
        finally:
            live[0] -= 1

    monkeypatch.setattr(SQLInboundDocumentRepository, "get_content", reading)
    monkeypatch.setattr(InboundFinisher, "finish", finishing)
    swept = receiver.recover_pending() if startup else receiver.sweep_pending(older_than=AGE)

    assert swept == 3
    assert live == [0, 1]  # never two bodies at once
    # Each document read, then finished, before the next one is read (oldest first: here all are as old).
    order = [step.split()[1] for step in steps[::2]]
    assert steps == [f"{step} {document}" for document in order for step in ("read", "finish")]
    assert sorted(order) == sorted(documents)
    assert statuses(store) == dict.fromkeys(documents, InboundStatus.VALID)
    assert sorted(hand_ons.received) == sorted(documents)
