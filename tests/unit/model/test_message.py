"""The outbound delivery state machine: properties of the TRANSITIONS table and apply_event."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidTransition
from gateway.model.message import (
    INITIAL_STATUS,
    TRANSITIONS,
    DeliveryEvent,
    DeliveryStatus,
    InboundStatus,
    allowed_events,
    apply_event,
)

S = DeliveryStatus
E = DeliveryEvent


def reachable(start: DeliveryStatus) -> set[DeliveryStatus]:
    seen, todo = {start}, [start]
    while todo:
        status = todo.pop()
        for event in allowed_events(status):
            target = apply_event(status, event)
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_wire_values_are_stable() -> None:
    # These strings are stored in the database and shown by the API: renaming one needs a migration.
    assert [s.value for s in S] == [
        "accepted",
        "sending",
        "delivered",
        "retrying",
        "failed",
        "confirmed",
        "rejected",
        "delivered_by_email",
    ]
    assert [s.value for s in InboundStatus] == ["received", "valid", "invalid"]
    assert INITIAL_STATUS is S.ACCEPTED


def test_the_usual_life_cycles() -> None:
    assert apply_event(S.ACCEPTED, E.SEND_STARTED) is S.SENDING
    assert apply_event(S.SENDING, E.RECEIPT_RECEIVED) is S.DELIVERED
    assert apply_event(S.SENDING, E.RETRYABLE_FAILURE) is S.RETRYING
    assert apply_event(S.RETRYING, E.SEND_STARTED) is S.SENDING
    assert apply_event(S.SENDING, E.RETRIES_EXHAUSTED) is S.FAILED
    assert apply_event(S.FAILED, E.RETRY_REQUESTED) is S.RETRYING


def test_a_crashed_attempt_can_be_resumed() -> None:
    # The worker died while SENDING; after the lease expires another worker starts the attempt again.
    assert apply_event(S.SENDING, E.SEND_STARTED) is S.SENDING


BUSINESS_EVENTS = {E.MLS_ACCEPTED, E.MLS_REJECTED, E.RESPONSE_RECEIVED}


def test_delivered_is_terminal_for_delivery() -> None:
    # Only the business-level answers (MLS, Invoice Response) move on from delivered; no delivery step does.
    assert allowed_events(S.DELIVERED) == BUSINESS_EVENTS
    for event in set(E) - BUSINESS_EVENTS:
        with pytest.raises(InvalidTransition) as caught:
            apply_event(S.DELIVERED, event)
        assert (caught.value.status, caught.value.event) == (S.DELIVERED, event)


def test_mls_outcomes_are_final_and_come_once() -> None:
    assert apply_event(S.DELIVERED, E.MLS_ACCEPTED) is S.CONFIRMED
    assert apply_event(S.DELIVERED, E.MLS_REJECTED) is S.REJECTED
    for outcome in (S.CONFIRMED, S.REJECTED):
        assert allowed_events(outcome) == {E.RESPONSE_RECEIVED}
        assert apply_event(outcome, E.RESPONSE_RECEIVED) is outcome
    for status in (S.ACCEPTED, S.SENDING, S.RETRYING, S.FAILED):
        assert not allowed_events(status) & BUSINESS_EVENTS


def test_only_a_receipt_during_sending_delivers() -> None:
    into_delivered = {
        pair for pair, target in TRANSITIONS.items() if target is S.DELIVERED and pair[0] is not target
    }
    assert into_delivered == {(S.SENDING, E.RECEIPT_RECEIVED)}


def test_only_an_accepted_email_during_sending_delivers_by_email() -> None:
    into = {pair for pair, target in TRANSITIONS.items() if target is S.DELIVERED_BY_EMAIL}
    assert into == {(S.SENDING, E.EMAIL_ACCEPTED)}
    # Final: no delivery step, no MLS (no AP answers an e-mail), no retry moves it on.
    assert allowed_events(S.DELIVERED_BY_EMAIL) == frozenset()
    for status in (S.ACCEPTED, S.RETRYING, S.FAILED, S.DELIVERED):
        with pytest.raises(InvalidTransition):
            apply_event(status, E.EMAIL_ACCEPTED)


def test_failed_is_left_only_by_a_retry_request() -> None:
    assert allowed_events(S.FAILED) == {E.RETRY_REQUESTED}
    assert {event for (_, event), target in TRANSITIONS.items() if target is S.FAILED} == {
        E.PERMANENT_FAILURE,
        E.RETRIES_EXHAUSTED,
    }


def test_submitted_creates_and_never_transitions() -> None:
    assert all(event is not E.SUBMITTED for (_, event) in TRANSITIONS)
    with pytest.raises(InvalidTransition):
        apply_event(S.ACCEPTED, E.SUBMITTED)


def test_a_receipt_cannot_arrive_before_sending() -> None:
    for status in (S.ACCEPTED, S.RETRYING, S.FAILED):
        with pytest.raises(InvalidTransition):
            apply_event(status, E.RECEIPT_RECEIVED)


def test_every_status_is_reachable_and_every_document_can_end() -> None:
    assert reachable(INITIAL_STATUS) == set(S)
    for status in S:
        assert reachable(status) & {S.DELIVERED, S.FAILED, S.CONFIRMED, S.REJECTED, S.DELIVERED_BY_EMAIL}, (
            status
        )


def test_is_final() -> None:
    assert {s for s in S if s.is_final} == {
        S.DELIVERED,
        S.FAILED,
        S.CONFIRMED,
        S.REJECTED,
        S.DELIVERED_BY_EMAIL,
    }


def test_the_table_is_total_over_its_keys() -> None:
    # Every pair outside the table is refused; every pair inside gives its target.
    for status in S:
        for event in E:
            if (status, event) in TRANSITIONS:
                assert apply_event(status, event) is TRANSITIONS[(status, event)]
                assert event in allowed_events(status)
            else:
                assert event not in allowed_events(status)
                with pytest.raises(InvalidTransition):
                    apply_event(status, event)


def test_the_attempt_limit_ends_every_document_still_in_the_automatic_cycle() -> None:
    # A never-sent document (ACCEPTED) that fails before sending on its last allowed attempt ends FAILED
    # with the event that says so, like a SENDING or RETRYING one (no special case in the deliverer).
    for status in (S.ACCEPTED, S.SENDING, S.RETRYING):
        assert apply_event(status, E.RETRIES_EXHAUSTED) is S.FAILED
