"""Idempotency-Keys of expense actions on SQLite and PostgreSQL, in the workflow and over HTTP: a client's
retry with the key its lost answer came with answers the current state even after other actions (no second
audit entry, Invoice Response or webhook); the same key with another action or body is a 409
idempotency-conflict, two different keys a 422; keys are scoped per client and per expense."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from gateway.errors import IdempotencyConflict
from gateway.model.expense import Actor, ActorRole, ExpenseAction, ExpenseEvent, ExpenseStatus
from gateway.services.expense_keys import IDEMPOTENCY_DETAIL_KEY
from gateway.services.expenses import ActionInput, ExpenseWorkflow
from gateway.store.tables import webhook_outbox
from gateway.validation import ValidationEngine
from tests.integration.conftest import problem_of
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)
from tests.integration.test_expense_cycle import only, setup_units

MEMBER = Actor("member-a", ActorRole.MEMBER, frozenset({"PU04711"}))
SUPPORT = Actor("helpdesk", ActorRole.SUPPORT)
QUESTION = ActionInput(question="Which order is this?", reason_codes=("REF",))


def received(app: ExpenseApp, engine: ValidationEngine, number: str) -> str:
    """The id of an invoice received over AS4 and routed to PU-04711 (waiting for approval)."""
    setup_units(app)
    ubl = supplier_document(
        engine, "be-domestic-mixed-rates.json", number=number, buyer_reference="Ref pu 04711 site"
    )
    deliver(app.client, ubl)
    expense = only(app, "member-a", f"number={number}")
    assert expense["status"] == "to_approve"
    return str(expense["id"])


def events(app: ExpenseApp, eid: str) -> list[ExpenseEvent]:
    with app.store.unit_of_work(read_only=True) as uow:
        return list(uow.expenses.events(eid))


def webhooks(app: ExpenseApp, eid: str) -> list[str]:
    with app.store.engine.connect() as connection:
        payloads = [row.payload for row in connection.execute(select(webhook_outbox))]
    return [p["type"] for p in payloads if p["data"].get("expense_id") == eid]


def act(app: ExpenseApp, who: str, eid: str, action: str, body: Any = None, key: str | None = None) -> Any:
    headers = auth(who) | ({"Idempotency-Key": key} if key else {})
    return app.client.post(f"/v1/expenses/{eid}/{action}", json=body, headers=headers)


# -- the workflow ------------------------------------------------------------------------------------------


def test_a_query_retried_after_the_answer_is_a_replay_sending_nothing(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0001")
    workflow: ExpenseWorkflow = app.services.expenses
    asked = workflow.act(eid, ExpenseAction.QUERY, MEMBER, QUESTION, idempotency_key="q-1")
    assert asked.status is ExpenseStatus.UNDER_QUERY
    workflow.act(eid, ExpenseAction.ANSWER, SUPPORT, ActionInput(reason="order 4500012345"))
    trail, sent, hooks = events(app, eid), app.responder.codes(), webhooks(app, eid)
    assert sent == ["AB", "UQ"]

    again = workflow.act(eid, ExpenseAction.QUERY, MEMBER, QUESTION, idempotency_key="q-1")

    assert app.responder.codes() == sent  # no second UQ to the supplier
    assert again.status is ExpenseStatus.TO_APPROVE  # the current state
    assert events(app, eid) == trail  # nothing recorded
    assert webhooks(app, eid) == hooks  # no second expense.query
    query = next(e for e in trail if e.action is ExpenseAction.QUERY)
    assert query.detail is not None
    assert query.detail[IDEMPOTENCY_DETAIL_KEY]["key"] == "q-1"


def test_an_approval_retried_after_the_payment_answers_the_paid_expense(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0002")
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput(), idempotency_key="a-1")
    workflow.act(eid, ExpenseAction.MARK_PAID, SUPPORT, ActionInput(), idempotency_key="p-1")
    trail, sent = events(app, eid), app.responder.codes()

    again = workflow.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput(), idempotency_key="a-1")
    assert again.status is ExpenseStatus.PAID
    paid = workflow.act(eid, ExpenseAction.MARK_PAID, SUPPORT, ActionInput(), idempotency_key="p-1")
    assert paid.status is ExpenseStatus.PAID
    assert (events(app, eid), app.responder.codes()) == (trail, sent)


def test_the_same_key_with_another_action_or_input_is_a_conflict_that_changes_nothing(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0003")
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(eid, ExpenseAction.QUERY, MEMBER, QUESTION, idempotency_key="k")
    trail = events(app, eid)
    other_question = ActionInput(question="Which delivery?", reason_codes=("REF",))
    with pytest.raises(IdempotencyConflict):
        workflow.act(eid, ExpenseAction.QUERY, MEMBER, other_question, idempotency_key="k")
    with pytest.raises(IdempotencyConflict):  # another action, allowed in the status
        workflow.act(eid, ExpenseAction.ANSWER, MEMBER, ActionInput(reason="order 1"), idempotency_key="k")
    assert events(app, eid) == trail
    # The input is compared normalised: spaces around the text and the case of a code do not count.
    same = ActionInput(question="  Which order is this? ", reason_codes=("ref",))
    assert workflow.act(eid, ExpenseAction.QUERY, MEMBER, same, idempotency_key="k").status is (
        ExpenseStatus.UNDER_QUERY
    )
    assert events(app, eid) == trail


def test_keys_are_scoped_per_client_and_per_expense(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    first = received(app, validation_engine, "K-2026-0004")
    second = received(app, validation_engine, "K-2026-0005")
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(first, ExpenseAction.QUERY, MEMBER, QUESTION, idempotency_key="shared")
    # Another expense: the key is new there.
    workflow.act(second, ExpenseAction.APPROVE, MEMBER, ActionInput(), idempotency_key="shared")
    assert [e.action for e in events(app, second)][-1] is ExpenseAction.APPROVE
    # Another client: its key is its own (an answer, not a conflict with member-a's query).
    answered = workflow.act(
        first, ExpenseAction.ANSWER, SUPPORT, ActionInput(reason="order 1"), idempotency_key="shared"
    )
    assert answered.status is ExpenseStatus.TO_APPROVE
    assert [e.action for e in events(app, first)][-1] is ExpenseAction.ANSWER


def test_a_keyed_action_reads_the_expenses_events_once(
    app: ExpenseApp, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = received(app, validation_engine, "K-2026-0006")
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(eid, ExpenseAction.QUERY, MEMBER, QUESTION, idempotency_key="q")
    reads: list[str] = []
    with app.store.unit_of_work(read_only=True) as uow:
        repository_type = type(uow.expenses)
    original = repository_type.events

    def counted(self: Any, expense_id: str) -> Any:
        reads.append(expense_id)
        return original(self, expense_id)

    monkeypatch.setattr(repository_type, "events", counted)
    workflow.act(eid, ExpenseAction.ANSWER, MEMBER, ActionInput(), idempotency_key="a")
    workflow.act(eid, ExpenseAction.QUERY, MEMBER, QUESTION, idempotency_key="q")
    assert reads == [eid, eid]


# -- over HTTP ---------------------------------------------------------------------------------------------


def test_api_query_retried_after_the_answer_answers_200_and_sends_no_second_response(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0101")
    body = {"question": "Which order is this?", "reason_codes": ["REF"]}
    asked = act(app, "member-a", eid, "query", body, key="ask-1")
    assert asked.status_code == 200, asked.text
    assert act(app, "support", eid, "answer", {"answer": "order 4500012345"}).status_code == 200
    sent, hooks = app.responder.codes(), webhooks(app, eid)
    trail = app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a")).json()["events"]
    assert [e["action"] for e in trail][-2:] == ["query", "answer"]
    assert IDEMPOTENCY_DETAIL_KEY not in trail[-2]["detail"]  # kept in the stored entry, never shown
    assert events(app, eid)[-2].detail[IDEMPOTENCY_DETAIL_KEY]["key"] == "ask-1"  # type: ignore[index]

    again = act(app, "member-a", eid, "query", body, key="ask-1")

    assert app.responder.codes() == sent == ["AB", "UQ"]  # no second Invoice Response queued
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "to_approve"
    assert webhooks(app, eid) == hooks
    assert app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a")).json()["events"] == trail
    # The webhook announcing the query does not carry the client's key.
    with app.store.engine.connect() as connection:
        payloads = [row.payload for row in connection.execute(select(webhook_outbox))]
    query_hook = next(
        p for p in payloads if p["data"].get("expense_id") == eid and p["type"] == "expense.query"
    )
    assert IDEMPOTENCY_DETAIL_KEY not in query_hook["data"]["detail"]


def test_a_keyed_actions_event_shows_other_readers_its_detail_but_not_the_key(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # A client's Idempotency-Key is its own request token: another member of the unit, and support, read
    # the action's detail without it; the stored audit entry keeps it (replays are judged from it).
    eid = received(app, validation_engine, "K-2026-0105")
    colleague = Actor("member-z", ActorRole.MEMBER, frozenset({"PU04711"}))
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(eid, ExpenseAction.QUERY, colleague, QUESTION, idempotency_key="z-private-1")
    workflow.act(eid, ExpenseAction.ANSWER, SUPPORT, ActionInput(), idempotency_key="z-private-2")
    stored = {e.action: e.detail for e in events(app, eid)}
    assert stored[ExpenseAction.QUERY][IDEMPOTENCY_DETAIL_KEY]["key"] == "z-private-1"  # type: ignore[index]
    for reader in ("member-a", "support"):
        response = app.client.get(f"/v1/expenses/{eid}", headers=auth(reader))
        assert response.status_code == 200, response.text
        assert "z-private" not in response.text
        shown = {e["action"]: e for e in response.json()["events"]}
        query = shown["query"]
        assert query["actor"] == "member-z"
        assert query["detail"] == {
            "question": "Which order is this?",
            "reason_codes": ["REF"],
            "response_document_id": stored[ExpenseAction.QUERY]["response_document_id"],  # type: ignore[index]
        }
        # An action keeping nothing else reads as the same action without a key would.
        assert shown["answer"]["detail"] is None


def test_api_approve_retried_after_mark_paid_answers_200(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0102")
    assert act(app, "member-a", eid, "approve", key="approve-1").status_code == 200
    assert act(app, "support", eid, "mark-paid", key="pay-1").json()["status"] == "paid"
    sent = app.responder.codes()
    assert sent == ["AB", "AP", "PD"]

    again = act(app, "member-a", eid, "approve", key="approve-1")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "paid"
    assert act(app, "member-a", eid, "approve").status_code == 409  # without the key: as before
    assert app.responder.codes() == sent


def test_api_the_same_key_with_another_body_or_action_is_a_409_conflict(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0103")
    assert act(app, "member-a", eid, "query", {"question": "Which order?"}, key="k-9").status_code == 200
    before = app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a")).json()
    for action, body in (("query", {"question": "Which delivery?"}), ("answer", {"answer": "order 1"})):
        refused = act(app, "member-a", eid, action, body, key="k-9")
        problem = problem_of(refused)
        assert (refused.status_code, problem["type"]) == (409, "/problems/idempotency-conflict"), problem
    assert app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a")).json() == before
    assert app.responder.codes() == ["AB", "UQ"]


def test_api_two_different_keys_are_a_422_and_a_bad_key_too(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0104")
    two = [*auth("member-a").items(), ("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2")]
    refused = app.client.post(f"/v1/expenses/{eid}/approve", headers=two)
    assert refused.status_code == 422
    assert "Two different Idempotency-Key values" in refused.text
    spaced = app.client.post(
        f"/v1/expenses/{eid}/approve", headers=auth("member-a") | {"Idempotency-Key": "a b"}
    )
    assert problem_of(spaced)["status"] == 422
    assert app.responder.codes() == ["AB"]  # nothing was approved
    same_twice = [*auth("member-a").items(), ("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-1")]
    assert app.client.post(f"/v1/expenses/{eid}/approve", headers=same_twice).json()["status"] == "approved"


def test_a_partial_payment_retried_with_its_key_compares_the_amount_by_value(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = received(app, validation_engine, "K-2026-0007")
    workflow: ExpenseWorkflow = app.services.expenses
    workflow.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput())
    paid = ActionInput(partial=True, reason="the rest later", paid_amount="600.00")
    workflow.act(eid, ExpenseAction.MARK_PAID, SUPPORT, paid, idempotency_key="pay")
    workflow.act(eid, ExpenseAction.SETTLE, SUPPORT, ActionInput())
    trail = events(app, eid)
    same = ActionInput(partial=True, reason=" the rest later", paid_amount="600")
    assert workflow.act(eid, ExpenseAction.MARK_PAID, SUPPORT, same, idempotency_key="pay").status is (
        ExpenseStatus.PAID
    )
    other = ActionInput(partial=True, reason="the rest later", paid_amount="601")
    with pytest.raises(IdempotencyConflict):
        workflow.act(eid, ExpenseAction.MARK_PAID, SUPPORT, other, idempotency_key="pay")
    assert events(app, eid) == trail
