"""The expense workflow: the TRANSITIONS table exhaustively (every status x action), repeats, final states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.errors import InvalidTransition
from gateway.model.expense import (
    INITIAL_STATUS,
    RECORDED_ON,
    RESPONSE_CODES,
    RESPONSE_DOCUMENT_KEY,
    STATUS_REASONS,
    TRANSITIONS,
    ActorRole,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
    SupplierAnswer,
    allowed_actions,
    apply_action,
    decide,
    is_repeat,
    response_code,
    supplier_answer,
)

S = ExpenseStatus
A = ExpenseAction

#: The table as the issue states it, written out independently of the module.
EXPECTED = {
    (S.RECEIVED, A.ROUTE): S.TO_APPROVE,
    (S.RECEIVED, A.TRIAGE): S.TO_TRIAGE,
    (S.TO_TRIAGE, A.ASSIGN): S.TO_APPROVE,
    (S.TO_APPROVE, A.ASSIGN): S.TO_APPROVE,
    (S.UNDER_QUERY, A.ASSIGN): S.UNDER_QUERY,
    (S.TO_APPROVE, A.APPROVE): S.APPROVED,
    (S.TO_APPROVE, A.REJECT): S.REJECTED,
    (S.TO_APPROVE, A.QUERY): S.UNDER_QUERY,
    (S.UNDER_QUERY, A.ANSWER): S.TO_APPROVE,
    (S.UNDER_QUERY, A.REJECT): S.REJECTED,
    (S.APPROVED, A.MARK_PAID): S.PAID,
    # The rest of a partial payment: recorded, no status change, no Invoice Response (PD is final).
    (S.PAID, A.SETTLE): S.PAID,
}


def test_wire_values_are_stable() -> None:
    assert [s.value for s in S] == [
        "received",
        "to_triage",
        "to_approve",
        "under_query",
        "approved",
        "rejected",
        "paid",
    ]
    assert INITIAL_STATUS is S.RECEIVED


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_status_and_action(status: ExpenseStatus, action: ExpenseAction) -> None:
    if (status, action) in EXPECTED:
        assert apply_action(status, action) is EXPECTED[(status, action)]
        assert action in allowed_actions(status)
        assert decide(status, action, None) is EXPECTED[(status, action)]
    else:
        assert action not in allowed_actions(status)
        with pytest.raises(InvalidTransition) as caught:
            apply_action(status, action)
        assert (caught.value.status, caught.value.event) == (status, action)
        # Without a matching last action nothing outside the table is accepted.
        with pytest.raises(InvalidTransition):
            decide(status, action, None)


def test_the_table_is_exactly_the_issue_s() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(A))
def test_a_repeat_is_a_no_op_only_in_the_state_the_action_leads_to(
    status: ExpenseStatus, action: ExpenseAction
) -> None:
    leads_to = {target for (_, a), target in EXPECTED.items() if a is action}
    repeat = action is not A.ASSIGN and status in leads_to
    assert is_repeat(status, action, action) is repeat
    if repeat:
        assert decide(status, action, action) is None
    # Another last action never makes a repeat.
    for other in A:
        if other is not action:
            assert is_repeat(status, action, other) is False


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(A))
def test_saying_the_same_repeats_only_a_mark_paid_after_its_settle(
    status: ExpenseStatus, action: ExpenseAction
) -> None:
    """A retried mark-paid arriving after the settle recorded on top of it is a repeat when it says what the
    recorded one said; nothing else becomes a repeat by saying the same."""
    assert dict(RECORDED_ON) == {A.SETTLE: A.MARK_PAID}
    for last in [None, *A]:
        same = is_repeat(status, action, last, says_the_same=True)
        retried = (status, action, last) == (S.PAID, A.MARK_PAID, A.SETTLE)
        assert same is (retried or is_repeat(status, action, last))
    assert is_repeat(status, action, A.SETTLE) is (status is S.PAID and action is A.SETTLE)


def test_a_mark_paid_after_the_settle_is_a_repeat_if_it_says_the_same_else_a_conflict() -> None:
    assert decide(S.PAID, A.MARK_PAID, A.SETTLE, says_the_same=True) is None
    with pytest.raises(InvalidTransition):
        decide(S.PAID, A.MARK_PAID, A.SETTLE)
    # Right after the payment, a mark-paid repeats it whatever it says (the expense shows what was recorded).
    assert decide(S.PAID, A.MARK_PAID, A.MARK_PAID) is None


def test_approve_twice_is_one_approval_but_approve_after_payment_conflicts() -> None:
    assert decide(S.APPROVED, A.APPROVE, A.APPROVE) is None
    with pytest.raises(InvalidTransition):
        decide(S.PAID, A.APPROVE, A.MARK_PAID)


def test_final_states_accept_nothing_but_settling_which_sends_nothing() -> None:
    for status in S:
        moving = {a for a in allowed_actions(status) if apply_action(status, a) is not status}
        assert status.is_final is (not moving and status is not S.RECEIVED)
    assert {s for s in S if s.is_final} == {S.REJECTED, S.PAID}
    assert allowed_actions(S.PAID) == {A.SETTLE}
    assert A.SETTLE not in RESPONSE_CODES  # PD is final: after a partial PD the supplier gets no second one


def test_every_status_is_reachable_and_every_expense_can_end() -> None:
    def reachable(start: ExpenseStatus) -> set[ExpenseStatus]:
        seen = {start}
        frontier = [start]
        while frontier:
            status = frontier.pop()
            for action in allowed_actions(status):
                target = apply_action(status, action)
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        return seen

    assert reachable(INITIAL_STATUS) == set(S)
    for status in S:
        assert reachable(status) & {S.REJECTED, S.PAID}, status


def test_responses_and_reasons() -> None:
    assert dict(RESPONSE_CODES) == {
        A.CREATED: "AB",
        A.APPROVE: "AP",
        A.REJECT: "RE",
        A.QUERY: "UQ",
        A.MARK_PAID: "PD",
    }
    assert "PPD" not in STATUS_REASONS
    assert "OTH" in STATUS_REASONS


def _event(action: ExpenseAction, detail: dict[str, object] | None) -> ExpenseEvent:
    at = datetime(2026, 12, 7, tzinfo=UTC)
    return ExpenseEvent(
        "e", at, "mia", ActorRole.MEMBER, action, S.TO_APPROVE, S.TO_APPROVE, "PU04711", detail
    )


def test_the_supplier_answer_of_an_action_says_whether_an_invoice_response_was_queued() -> None:
    sent = supplier_answer(_event(A.REJECT, {"reason": "x", RESPONSE_DOCUMENT_KEY: "doc-1"}))
    assert sent == SupplierAnswer("RE", "doc-1")
    assert sent.sent
    untold = supplier_answer(_event(A.QUERY, {"question": "which order?"}))
    assert untold == SupplierAnswer("UQ", None)
    assert not untold.sent
    assert supplier_answer(_event(A.APPROVE, None)) == SupplierAnswer("AP", None)
    # Actions that report nothing, and creation (its AB is not kept on the audit entry).
    for action in (A.ASSIGN, A.ANSWER, A.ROUTE, A.TRIAGE, A.DUPLICATE, A.CREATED):
        assert supplier_answer(_event(action, {RESPONSE_DOCUMENT_KEY: "doc-2"})) is None


def test_ab_goes_when_the_expense_first_reaches_a_unit() -> None:
    # bis-billing.md §9: "received and routed to an activity -> AB". Routed on receipt: on creation (the
    # creator asks only then); in triage: at support's assignment out of it, never at a reassignment.
    assert response_code(A.CREATED, None, reached=S.TO_APPROVE) == "AB"
    assert response_code(A.ASSIGN, S.TO_TRIAGE, reached=S.TO_APPROVE) == "AB"
    for status in (S.TO_APPROVE, S.UNDER_QUERY):
        assert response_code(A.ASSIGN, status, reached=status) is None
    assert response_code(A.ROUTE, S.RECEIVED, reached=S.TO_APPROVE) is None
    assert response_code(A.TRIAGE, S.RECEIVED, reached=S.TO_TRIAGE) is None
    assert response_code(A.ANSWER, S.UNDER_QUERY, reached=S.TO_APPROVE) is None
    assert response_code(A.SETTLE, S.PAID, reached=S.PAID) is None
    assert response_code(A.DUPLICATE, S.TO_APPROVE, reached=S.TO_APPROVE) is None
    assert response_code(A.APPROVE, S.TO_APPROVE, reached=S.APPROVED) == "AP"
    # The audit trail says the AB of an assignment from triage when one was queued, and nothing otherwise
    # (an acknowledgement the supplier did not get asks nothing of the person).
    at = datetime(2026, 12, 7, tzinfo=UTC)
    out_of_triage = ExpenseEvent(
        "e", at, "sam", ActorRole.SUPPORT, A.ASSIGN, S.TO_TRIAGE, S.TO_APPROVE, "PU04711", {"unit": "PU04711"}
    )
    assert supplier_answer(out_of_triage) is None
    queued = replace(out_of_triage, detail={"unit": "PU04711", RESPONSE_DOCUMENT_KEY: "doc-3"})
    assert supplier_answer(queued) == SupplierAnswer("AB", "doc-3")


def test_response_code_cannot_be_asked_without_the_status_reached() -> None:
    # Creation's AB depends on where routing left the expense: a call that does not say it must not
    # default to AB (a document in triage would acknowledge a unit it never reached), so it is refused.
    with pytest.raises(TypeError):
        response_code(A.CREATED, None)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        response_code(A.ASSIGN, S.TO_TRIAGE)  # type: ignore[call-arg]
    # Said, it must name a unit's status: a creation left unrouted (RECEIVED) reached none.
    assert response_code(A.CREATED, None, reached=S.RECEIVED) is None
    assert response_code(A.CREATED, None, reached=S.TO_APPROVE) == "AB"


def test_creation_acknowledges_only_when_routing_left_the_expense_at_a_unit() -> None:
    # The creator says where routing left the new expense; the model alone decides whether AB goes.
    assert response_code(A.CREATED, None, reached=S.TO_APPROVE) == "AB"
    assert response_code(A.CREATED, None, reached=S.TO_TRIAGE) is None
    # An assignment says the same with its own status: out of triage it is the first unit.
    assert response_code(A.ASSIGN, S.TO_TRIAGE, reached=S.TO_APPROVE) == "AB"
    assert response_code(A.ASSIGN, S.TO_APPROVE, reached=S.TO_APPROVE) is None
    assert response_code(A.APPROVE, S.TO_APPROVE, reached=S.APPROVED) == "AP"
