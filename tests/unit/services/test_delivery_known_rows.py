"""The delivery steps write the document as the attempt read it (``transition_if``), and fall back to reading
its row when that row changed since: the outcome is then judged on the row, as before the shortcut."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from as4_support import NOW
from delivery_support import SettableClock, UUIDs, queue_document

from gateway.model.message import (
    AS4Signal,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.delivery_attempt import AttemptMessage, DeliverySettings, StartedAttempt, StopAttempt
from gateway.services.delivery_outcome import AttemptOutcome, AttemptResult
from gateway.services.delivery_steps import DeliverySteps
from gateway.services.ports import DeliveryLease
from gateway.store import SQLDocumentStore
from gateway.worker import BackoffPolicy

LEASE = timedelta(minutes=5)


def steps(store: SQLDocumentStore) -> DeliverySteps:
    return DeliverySteps(
        store=store,
        clock=SettableClock(),
        ids=UUIDs(),
        retry=BackoffPolicy(base=timedelta(seconds=10), max_attempts=3),
        jitter=lambda: 0.5,
        settings=DeliverySettings(message_id_domain="unit.test", lease_for=LEASE),
    )


def started(store: SQLDocumentStore, recipe: DeliverySteps) -> tuple[DeliveryLease, StartedAttempt, str]:
    """A document leased and its SEND_STARTED committed, as the worker does before sending."""
    queue_document(store, buyer_country="BE")
    with store.unit_of_work() as uow:
        (lease,) = uow.jobs.lease(now=NOW, limit=1, lease_for=LEASE, token="w1")
        uow.commit()
    prepared = recipe.prepare(lease)
    outgoing: Any = SimpleNamespace(message_id="m1@unit.test", headers={"Content-Type": "x/y"}, body=b"bytes")
    endpoint: Any = SimpleNamespace(url="https://receiver.test/as4", certificate=None)
    attempt = recipe.start_attempt(lease, AttemptMessage(outgoing, "instance-1", True), endpoint, prepared)
    return lease, attempt, outgoing.message_id


def receipt() -> AttemptOutcome:
    signal = AS4Signal(
        SignalKind.RECEIPT,
        RawHTTPMessage((("Content-Type", "application/soap+xml"),), b"<receipt/>"),
        NOW,
        receipt_summary={"valid": True, "signer": "POP000002"},
    )
    return AttemptOutcome(AttemptResult.DELIVERED, None, signal=signal)


def test_send_started_leaves_the_document_as_it_is_stored(store: SQLDocumentStore) -> None:
    recipe = steps(store)
    _, attempt, message_id = started(store, recipe)
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.outbound.get(attempt.document.id)
        message = uow.messages.get(message_id, Direction.OUT)
    assert stored is not None
    assert message is not None
    assert (attempt.document.status, attempt.document.attempts) == (DeliveryStatus.SENDING, 1)
    assert (stored.status, stored.attempts, stored.as4_message_id) == (
        attempt.document.status,
        attempt.document.attempts,
        attempt.document.as4_message_id,
    )
    assert attempt.sent is not None
    assert (attempt.sent.sent_at, attempt.sent.buyer_country) == (message.created_at, "BE")


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param({"status": DeliveryStatus.DELIVERED}, id="a-status-the-event-is-refused-in"),
        pytest.param({"attempts": 0}, id="another-attempt-count"),
    ],
)
def test_an_outcome_on_a_document_changed_since_send_started_is_judged_on_its_row(
    store: SQLDocumentStore, stale: dict[str, Any]
) -> None:
    """The document the attempt holds is not the row any more (here made so by hand): the outcome reads the
    row and is recorded on it, as it was before the worker wrote rows as read; a status in which the event
    is refused is judged on the row too, not refused on the copy."""
    recipe = steps(store)
    lease, attempt, message_id = started(store, recipe)
    held = replace(attempt, document=replace(attempt.document, **stale))
    result = recipe.record_outcome(lease, message_id, receipt(), held)
    assert (result.status, result.event) == (DeliveryStatus.DELIVERED, DeliveryEvent.RECEIPT_RECEIVED)
    with store.unit_of_work(read_only=True) as uow:
        timeline = uow.outbound.timeline(attempt.document.id)
        document = uow.outbound.get(attempt.document.id)
        (counted,) = uow.reporting.transmissions(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [(e.from_status, e.event) for e in timeline[1:]] == [
        (DeliveryStatus.ACCEPTED, DeliveryEvent.SEND_STARTED),
        (DeliveryStatus.SENDING, DeliveryEvent.RECEIPT_RECEIVED),
    ]
    assert document is not None
    assert (document.status, document.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert counted.message_id == message_id


def test_an_outcome_on_a_document_that_became_final_meanwhile_records_nothing(
    store: SQLDocumentStore,
) -> None:
    recipe = steps(store)
    lease, attempt, message_id = started(store, recipe)
    with store.unit_of_work() as uow:  # another holder of the job ended it meanwhile
        uow.outbound.transition(attempt.document.id, DeliveryEvent.PERMANENT_FAILURE, at=NOW, reason="other")
        uow.commit()
    with pytest.raises(StopAttempt) as stopped:
        recipe.record_outcome(lease, message_id, receipt(), attempt)
    assert stopped.value.result.status is DeliveryStatus.FAILED
    with store.unit_of_work(read_only=True) as uow:
        last = uow.outbound.timeline(attempt.document.id)[-1]
        message = uow.messages.get(message_id, Direction.OUT)
    assert last.event is DeliveryEvent.PERMANENT_FAILURE
    assert message is not None
    assert message.signal is None  # no receipt recorded either
