"""A keyed retry of an expense action on SQLite and PostgreSQL answers as its first request did (the current
state), whatever changed since: the unit it assigned to deactivated, the status moved on. Only what the
caller may do and see still counts: a role that may no longer take the action is refused (403, checked
first), an expense moved out of a member's units is not found, key or not. Reason codes are compared in
their order, which the Invoice Response keeps (the text goes with the first one)."""

from __future__ import annotations

import pytest

from gateway.errors import (
    DocumentNotFound,
    ExpenseActionForbidden,
    IdempotencyConflict,
    InvalidExpenseRequest,
)
from gateway.model.expense import Actor, ActorRole, ExpenseAction, ExpenseStatus
from gateway.services.expenses import ActionInput, ExpenseWorkflow
from gateway.validation import ValidationEngine
from tests.integration.conftest import problem_of
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
)
from tests.integration.test_expense_action_keys import act, events, received

MEMBER = Actor("member-a", ActorRole.MEMBER, frozenset({"PU04711"}))
SUPPORT = Actor("helpdesk", ActorRole.SUPPORT)
BAKERY = [{"code": "PU-00123", "name": "Bakkerij Het Graan", "members": ["member-c"], "active": False}]


def test_api_an_assignment_retried_after_its_unit_was_deactivated_answers_200(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "R-2026-0001")
    body = {"unit": "PU-00123"}
    moved = act(app, "support", eid, "assign", body, key="move-1")
    assert (moved.status_code, moved.json()["unit"]) == (200, "PU00123"), moved.text
    assert app.client.put("/v1/units/PU-00123", json=BAKERY[0], headers=auth("admin")).status_code == 200
    trail = events(app, eid)

    again = act(app, "support", eid, "assign", body, key="move-1")

    assert again.status_code == 200, again.text
    assert (again.json()["unit"], again.json()["status"]) == ("PU00123", "to_approve")
    assert events(app, eid) == trail
    # Without the key, or with another one, the unit is checked as for any assignment.
    for key in (None, "move-2"):
        refused = act(app, "support", eid, "assign", body, key=key)
        assert problem_of(refused)["status"] == 422, refused.text
        assert "not an active production unit" in refused.text
    assert events(app, eid) == trail


def test_an_assignment_retried_after_its_unit_was_deactivated_is_a_replay(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "R-2026-0002")
    workflow: ExpenseWorkflow = app.services.expenses
    data = ActionInput(unit="pu 00123")
    workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, data, idempotency_key="move")
    assert app.client.put("/v1/units", json=BAKERY, headers=auth("admin")).status_code == 200
    trail, sent = events(app, eid), app.responder.codes()

    again = workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, data, idempotency_key="move")

    assert (again.unit_code, again.status) == ("PU00123", ExpenseStatus.TO_APPROVE)
    assert (events(app, eid), app.responder.codes()) == (trail, sent)
    with pytest.raises(IdempotencyConflict):  # another unit with that key: still a conflict
        workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, ActionInput(unit="PU-04711"), idempotency_key="move")


ROLE_CHANGES = {
    # action: (its input, who took it, the same client in a role that may not take it any more)
    "approve": (ExpenseAction.APPROVE, ActionInput(), MEMBER, Actor("member-a", ActorRole.SUPPORT)),
    "reject": (
        ExpenseAction.REJECT,
        ActionInput(reason="price differs", reason_codes=("PRI",)),
        MEMBER,
        Actor("member-a", ActorRole.SUPPORT),
    ),
    "query": (
        ExpenseAction.QUERY,
        ActionInput(question="Which order?", reason_codes=("REF",)),
        MEMBER,
        Actor("member-a", ActorRole.SUPPORT),
    ),
    "assign": (
        ExpenseAction.ASSIGN,
        ActionInput(unit="PU-00123"),
        SUPPORT,
        Actor("helpdesk", ActorRole.MEMBER, frozenset({"PU00123"})),
    ),
}


@pytest.mark.parametrize("name", list(ROLE_CHANGES))
def test_an_action_retried_after_the_clients_role_lost_it_is_refused_key_or_not(
    app: ExpenseApp, validation_engine: ValidationEngine, name: str
) -> None:
    eid = received(app, validation_engine, f"R-2026-01{list(ROLE_CHANGES).index(name):02d}")
    action, data, before, after = ROLE_CHANGES[name]
    workflow: ExpenseWorkflow = app.services.expenses
    done = workflow.act(eid, action, before, data, idempotency_key="k")
    trail, sent = events(app, eid), app.responder.codes()

    # The role is checked first, before the key is looked up: the same key, another, or none.
    for key in ("k", "other", None):
        with pytest.raises(ExpenseActionForbidden):
            workflow.act(eid, action, after, data, idempotency_key=key)
    assert (events(app, eid), app.responder.codes()) == (trail, sent)
    # Back in a role that may take it, the key replays (the current state, nothing recorded or sent).
    again = workflow.act(eid, action, before, data, idempotency_key="k")
    assert (again.status, again.unit_code) == (done.status, done.unit_code)
    assert (events(app, eid), app.responder.codes()) == (trail, sent)


def test_a_keyed_retry_of_a_member_whose_units_no_longer_hold_the_expense_is_not_found(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "R-2026-0003")
    workflow: ExpenseWorkflow = app.services.expenses
    question = ActionInput(question="Which order?", reason_codes=("REF",))
    workflow.act(eid, ExpenseAction.QUERY, MEMBER, question, idempotency_key="ask")
    workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, ActionInput(unit="PU-00123"))
    with pytest.raises(DocumentNotFound):
        workflow.act(eid, ExpenseAction.QUERY, MEMBER, question, idempotency_key="ask")
    body = {"question": "Which order?", "reason_codes": ["REF"]}
    gone = act(app, "member-a", eid, "query", body, key="ask")
    assert problem_of(gone)["status"] == 404


def test_reason_codes_in_another_order_are_another_request_as_the_response_pairs_the_text_with_the_first(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "R-2026-0004")
    workflow: ExpenseWorkflow = app.services.expenses
    first = ActionInput(reason="price differs", reason_codes=("PRI", "QTY"))
    workflow.act(eid, ExpenseAction.REJECT, MEMBER, first, idempotency_key="no")
    assert app.responder.requests[-1].reason_codes == ("PRI", "QTY")
    trail = events(app, eid)
    # The same codes once each, whatever their case: the same request.
    same = ActionInput(reason="price differs", reason_codes=("pri", "QTY", "PRI"))
    assert workflow.act(eid, ExpenseAction.REJECT, MEMBER, same, idempotency_key="no").status is (
        ExpenseStatus.REJECTED
    )
    reordered = ActionInput(reason="price differs", reason_codes=("QTY", "PRI"))
    with pytest.raises(IdempotencyConflict):
        workflow.act(eid, ExpenseAction.REJECT, MEMBER, reordered, idempotency_key="no")
    with pytest.raises(InvalidExpenseRequest):  # the input's own checks still come first
        workflow.act(eid, ExpenseAction.REJECT, MEMBER, ActionInput(reason=" "), idempotency_key="no")
    assert events(app, eid) == trail
