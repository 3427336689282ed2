"""The Idempotency-Key of an expense action that changed nothing (a repeat, an assignment to the unit the
expense is in) is remembered too, on SQLite and PostgreSQL: the same key with the same request answers the
current state (200) whatever happened since, with another action or body 409 idempotency-conflict, as the
key of a recorded action does. It is kept in ``expense_action_keys`` (no audit entry to keep it in), scoped
per client and expense, never shown to the expense's readers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from gateway.errors import IdempotencyConflict
from gateway.model.expense import Actor, ActorRole, ExpenseAction, ExpenseStatus
from gateway.services.expenses import ActionInput, ExpenseWorkflow
from gateway.store.tables import expense_action_keys
from gateway.validation import ValidationEngine
from tests.integration.conftest import problem_of
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
)
from tests.integration.test_expense_action_keys import act, events, received, webhooks

MEMBER = Actor("member-a", ActorRole.MEMBER, frozenset({"PU04711"}))
SUPPORT = Actor("helpdesk", ActorRole.SUPPORT)


def kept(app: ExpenseApp, eid: str) -> int:
    with app.store.engine.connect() as connection:
        t = expense_action_keys
        return int(connection.execute(select(func.count()).where(t.c.expense_id == eid)).scalar_one())


def test_api_a_key_whose_first_request_was_a_repeat_replays_after_the_expense_moved_on(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "N-2026-0001")
    assert act(app, "member-a", eid, "approve").status_code == 200
    # A repeat: no audit entry, but the key is remembered with its request.
    assert act(app, "member-a", eid, "approve", key="late").json()["status"] == "approved"
    assert act(app, "support", eid, "mark-paid").status_code == 200
    trail, sent, hooks = events(app, eid), app.responder.codes(), webhooks(app, eid)

    again = act(app, "member-a", eid, "approve", key="late")

    assert (again.status_code, again.json()["status"]) == (200, "paid"), again.text
    assert problem_of(act(app, "member-a", eid, "approve"))["status"] == 409  # without the key: as before
    assert (events(app, eid), app.responder.codes(), webhooks(app, eid)) == (trail, sent, hooks)
    assert kept(app, eid) == 1
    shown = app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a"))
    assert "late" not in shown.text


def test_api_a_no_op_requests_key_with_another_action_or_body_is_a_409_conflict(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "N-2026-0002")
    body = {"question": "Which order?", "reason_codes": ["REF"]}
    assert act(app, "member-a", eid, "query", body).status_code == 200
    assert act(app, "member-a", eid, "query", {"question": "Which delivery?"}, key="q").status_code == 200
    trail = events(app, eid)
    for action, other in (("query", body), ("answer", {"answer": "order 1"}), ("reject", {"reason": "No."})):
        refused = act(app, "member-a", eid, action, other, key="q")
        problem = problem_of(refused)
        assert (problem["status"], problem["type"]) == (409, "/problems/idempotency-conflict"), problem
    assert events(app, eid) == trail
    assert app.responder.codes() == ["AB", "UQ"]


def test_an_assignment_to_the_unit_the_expense_is_in_keeps_its_key(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "N-2026-0003")
    workflow: ExpenseWorkflow = app.services.expenses
    same = ActionInput(unit="PU-04711")
    assert (
        workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, same, idempotency_key="stay").unit_code == "PU04711"
    )
    trail = events(app, eid)
    with pytest.raises(IdempotencyConflict):
        workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, ActionInput(unit="PU-00123"), idempotency_key="stay")
    # Its retry, after an assignment elsewhere, answers the current state and moves nothing back.
    workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, ActionInput(unit="PU-00123"))
    moved = events(app, eid)
    again = workflow.act(eid, ExpenseAction.ASSIGN, SUPPORT, same, idempotency_key="stay")
    assert again.unit_code == "PU00123"
    assert events(app, eid) == moved
    assert len(moved) == len(trail) + 1


def test_no_op_keys_are_scoped_per_client_and_per_expense_and_kept_once(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    first = received(app, validation_engine, "N-2026-0004")
    second = received(app, validation_engine, "N-2026-0005")
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(first, ExpenseAction.APPROVE, MEMBER, ActionInput())
    workflow.act(first, ExpenseAction.APPROVE, MEMBER, ActionInput(), idempotency_key="shared")
    workflow.act(first, ExpenseAction.APPROVE, MEMBER, ActionInput(), idempotency_key="shared")  # replay
    assert kept(app, first) == 1
    # Another expense: the key is new there.
    asked = ActionInput(question="Which order?")
    assert workflow.act(second, ExpenseAction.QUERY, MEMBER, asked, idempotency_key="shared").status is (
        ExpenseStatus.UNDER_QUERY
    )
    # Another client: its key is its own (a payment, not a conflict with member-a's approval).
    paid = workflow.act(first, ExpenseAction.MARK_PAID, SUPPORT, ActionInput(), idempotency_key="shared")
    assert paid.status is ExpenseStatus.PAID
    # A key of a recorded action is kept in its audit entry only.
    assert kept(app, second) == 0
    assert kept(app, first) == 1


def test_concurrent_no_op_requests_with_the_same_key_keep_it_once_and_all_answer(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # The expense's row lock (PostgreSQL; without it a second insert of the key is a unique violation) or the
    # write lock (SQLite: BEGIN IMMEDIATE) orders them: the first
    # keeps the key, the others find it (a replay), none fails on the key's primary key.
    eid = received(app, validation_engine, "N-2026-0006")
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput())
    trail = events(app, eid)
    threads = 6
    start = threading.Barrier(threads)

    def repeat(key: str) -> ExpenseStatus:
        start.wait()
        return workflow.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput(), idempotency_key=key).status

    keys = [f"same-{n}" for n in range(5)]
    with ThreadPoolExecutor(threads) as pool:
        for key in keys:  # a few rounds: each a race of all the threads on one new key
            answers = [future.result() for future in [pool.submit(repeat, key) for _ in range(threads)]]
            assert answers == [ExpenseStatus.APPROVED] * threads

    assert kept(app, eid) == len(keys)
    assert events(app, eid) == trail
