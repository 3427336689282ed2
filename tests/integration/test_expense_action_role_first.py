"""The role comes first for every expense action, with an Idempotency-Key or without, on SQLite and
PostgreSQL: a client whose role may not take the action is answered 403 whatever its input (body, key
header, expense id), so it learns nothing of how the input is checked; nor is a keyed request of it a
replay (the role is checked before the key is looked up, as an API's authorisation comes before its
idempotency)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ExpenseActionForbidden
from gateway.model.expense import Actor, ActorRole, ExpenseAction
from gateway.services.expenses import ActionInput, ExpenseWorkflow
from gateway.validation import ValidationEngine
from tests.integration.conftest import problem_of
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
)
from tests.integration.test_expense_action_keys import events, received

MEMBER = Actor("member-a", ActorRole.MEMBER, frozenset({"PU04711"}))
SUPPORT = Actor("helpdesk", ActorRole.SUPPORT)

#: (who, action, a body that action refuses): the role of ``who`` may not take the action.
REFUSED_ROLES = [
    ("member-a", "assign", b"{}"),
    ("member-a", "assign", b'{"unit": "PU-04711", "remember_suplier": false}'),
    ("support", "approve", b'{"x": 1}'),
    ("support", "reject", b'{"reason": ""}'),
    ("support", "query", b"{not json"),
]


def post(app: ExpenseApp, who: str, url: str, body: bytes | None, headers: list[tuple[str, str]]) -> Any:
    sent = [*auth(who).items(), ("Content-Type", "application/json"), *headers]
    return app.client.post(url, content=body, headers=sent)


@pytest.mark.parametrize(("who", "action", "body"), REFUSED_ROLES)
def test_api_a_role_that_may_not_take_the_action_gets_403_whatever_the_input_key_or_not(
    app: ExpenseApp, validation_engine: ValidationEngine, who: str, action: str, body: bytes
) -> None:
    eid = received(app, validation_engine, f"F-2026-{REFUSED_ROLES.index((who, action, body)):04d}")
    trail = events(app, eid)
    inputs: list[tuple[str, list[tuple[str, str]]]] = [
        (eid, []),  # no key
        (eid, [("Idempotency-Key", "k-1")]),
        (eid, [("Idempotency-Key", "a b")]),  # a key the header's syntax refuses
        (eid, [("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2")]),  # two keys
        ("x" * 129, [("Idempotency-Key", "k-1")]),  # an id the path refuses
        ("no-such-expense", [("Idempotency-Key", "k-1")]),
    ]
    for expense_id, headers in inputs:
        refused = post(app, who, f"/v1/expenses/{expense_id}/{action}", body, headers)
        problem = problem_of(refused)
        assert (problem["status"], problem["type"]) == (403, "/problems/expense-action-forbidden"), (
            expense_id,
            headers,
            problem,
        )
    assert events(app, eid) == trail


def test_a_role_that_may_not_take_the_action_is_refused_before_its_input_is_checked(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "F-2026-0100")
    workflow: ExpenseWorkflow = app.services.expenses
    for key in (None, "k"):
        with pytest.raises(ExpenseActionForbidden):  # not InvalidExpenseRequest: the reason is blank
            workflow.act(eid, ExpenseAction.REJECT, SUPPORT, ActionInput(reason=" "), idempotency_key=key)
        with pytest.raises(ExpenseActionForbidden):  # not InvalidExpenseRequest: no unit
            workflow.act(eid, ExpenseAction.ASSIGN, MEMBER, ActionInput(), idempotency_key=key)


def test_a_keyed_retry_after_the_clients_role_lost_the_action_is_refused(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # The role is checked before the key is looked up: a replay is a replay of an allowed request.
    eid = received(app, validation_engine, "F-2026-0101")
    workflow: ExpenseWorkflow = app.services.expenses
    question = ActionInput(question="Which order?", reason_codes=("REF",))
    workflow.act(eid, ExpenseAction.QUERY, MEMBER, question, idempotency_key="ask")
    trail = events(app, eid)
    with pytest.raises(ExpenseActionForbidden):
        workflow.act(
            eid, ExpenseAction.QUERY, Actor("member-a", ActorRole.SUPPORT), question, idempotency_key="ask"
        )
    assert events(app, eid) == trail
