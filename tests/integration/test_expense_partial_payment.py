"""A partial payment over HTTP on SQLite and PostgreSQL: marking an expense paid in part sends the supplier
Invoice Response PD with status reason PPD and the explanation (the amount first, if given), audits it and
announces it by webhook; bad input is a 422 that changes nothing; PD being final, the rest of the payment is
recorded only (``settle``). The response the real InvoiceResponder builds passes the official T111 rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from gateway.api.webhook_schemas import ExpenseEventBody
from gateway.errors import InvalidTransition
from gateway.model import ParticipantID
from gateway.model.expense import Actor, ActorRole, ExpenseAction, ExpenseStatus
from gateway.model.responses import InvoiceResponse, ResponseCode, ResponseParty, StatusReason
from gateway.services.expenses import ActionInput, ExpenseWorkflow
from gateway.services.responses import T111_RULE_SET, PeppolInvoiceResponder
from gateway.store.tables import webhook_outbox
from gateway.ubl.application_response import build_invoice_response
from gateway.validation import ValidationEngine
from tests.integration.conftest import problem_of
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    UUIDs,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)
from tests.integration.test_expense_cycle import only, post, setup_units

NOTE = "the rest after the credit note"
_NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def approved(app: ExpenseApp, engine: ValidationEngine, number: str = "F-2026-2001") -> dict[str, Any]:
    """An invoice received over AS4, routed to PU-04711 and approved by its member."""
    setup_units(app)
    ubl = supplier_document(
        engine, "be-domestic-mixed-rates.json", number=number, buyer_reference="Ref pu 04711 site"
    )
    deliver(app.client, ubl)
    expense = only(app, "member-a")
    assert post(app, "member-a", expense["id"], "approve").json()["status"] == "approved"
    return expense


def webhooks(app: ExpenseApp, kind: str) -> list[dict[str, Any]]:
    with app.store.engine.connect() as connection:
        payloads = [row.payload for row in connection.execute(select(webhook_outbox))]
    return [p for p in payloads if p["type"] == kind]


def test_a_partial_payment_sends_pd_with_ppd_and_the_text_then_the_rest_is_recorded_only(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    expense = approved(app, validation_engine)
    eid, due = expense["id"], Decimal(expense["amount"])
    assert due > 600
    body = {"partially_paid": True, "reason": NOTE, "paid_amount": "600.00"}
    paid = post(app, "support", eid, "mark-paid", body)
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["status_reason"]) == ("paid", NOTE)
    request = app.responder.requests[-1]
    assert (request.status, request.reason_codes) == ("PD", ("PPD",))
    assert request.note == f"Paid 600.00 of {due} {expense['currency']}: {NOTE}"

    detail = app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a")).json()
    event = detail["events"][-1]
    assert (event["action"], event["to_status"]) == ("mark-paid", "paid")
    assert event["detail"] == {
        "partial": True,
        "paid_amount": "600.00",
        "currency": expense["currency"],
        "reason": NOTE,
        "reason_codes": ["PPD"],
        "response_document_id": f"response-{len(app.responder.requests)}",
    }
    [hook] = webhooks(app, "expense.mark-paid")
    assert hook["data"]["payment"] == {
        "partial": True,
        "paid_amount": "600.00",
        "currency": expense["currency"],
        "reason": NOTE,
    }
    ExpenseEventBody.model_validate(hook)  # as the OpenAPI webhook schema describes it

    # A repeat is a repeat, whatever it says; PD is final: the rest is recorded, never sent.
    sent = len(app.responder.requests)
    assert post(app, "support", eid, "mark-paid", {"partially_paid": True, "reason": "x"}).status_code == 200
    settled = post(app, "member-a", eid, "settle")
    assert settled.status_code == 200, settled.text
    assert (settled.json()["status"], settled.json()["status_reason"]) == ("paid", None)
    assert post(app, "member-a", eid, "settle").status_code == 200  # a repeat: no second entry
    assert len(app.responder.requests) == sent
    trail = app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a")).json()["events"]
    assert [(e["action"], e["invoice_response"]) for e in trail[-2:]] == [
        ("mark-paid", {"code": "PD", "sent": True, "document_id": f"response-{sent}"}),
        ("settle", None),
    ]
    assert len(webhooks(app, "expense.settle")) == 1
    assert problem_of(post(app, "member-b", eid, "settle"))["status"] == 404  # another unit's


def test_a_full_payment_says_so_and_has_nothing_to_settle(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    eid = approved(app, validation_engine)["id"]
    assert post(app, "support", eid, "mark-paid").json()["status"] == "paid"
    request = app.responder.requests[-1]
    assert (request.status, request.reason_codes, request.note) == ("PD", (), None)
    [hook] = webhooks(app, "expense.mark-paid")
    assert hook["data"]["payment"] == {
        "partial": False,
        "paid_amount": None,
        "currency": None,
        "reason": None,
    }
    ExpenseEventBody.model_validate(hook)
    refused = post(app, "support", eid, "settle")
    assert refused.status_code == 409
    assert problem_of(refused)["type"] == "/problems/status-conflict"


def _trail(app: ExpenseApp, eid: str) -> list[tuple[str, int]]:
    """(action, webhooks of that action) per audit entry: what a repeat must leave as it was."""
    with app.store.unit_of_work(read_only=True) as uow:
        actions = [e.action.value for e in uow.expenses.events(eid)]
    return [(a, len(webhooks(app, f"expense.{a}"))) for a in actions]


PAID_IN_PART = {"partially_paid": True, "reason": NOTE, "paid_amount": "600.00"}


@pytest.mark.parametrize(
    "retry",
    [
        PAID_IN_PART,
        {"partially_paid": True, "reason": f"  {NOTE} ", "paid_amount": "600"},  # the same, written otherwise
    ],
)
def test_a_mark_paid_retried_after_the_settle_answers_the_current_state(
    app: ExpenseApp, validation_engine: ValidationEngine, retry: dict[str, Any]
) -> None:
    """A client's mark-paid retried (a network retry) after support settled the rest is a repeat, as it
    is right after the payment: 200 with the current state, no event, no Invoice Response, no webhook."""
    eid = approved(app, validation_engine)["id"]
    assert post(app, "support", eid, "mark-paid", PAID_IN_PART).status_code == 200
    settled = post(app, "member-a", eid, "settle")
    assert settled.status_code == 200, settled.text
    sent, trail = len(app.responder.requests), _trail(app, eid)
    again = post(app, "support", eid, "mark-paid", retry)
    assert again.status_code == 200, again.text
    assert again.json() == settled.json()
    assert (len(app.responder.requests), _trail(app, eid)) == (sent, trail)
    assert trail[-2:] == [("mark-paid", 1), ("settle", 1)]


@pytest.mark.parametrize(
    "other",
    [
        None,  # in full
        {"partially_paid": True, "reason": NOTE},  # without the amount
        {"partially_paid": True, "reason": NOTE, "paid_amount": "700.00"},
        {"partially_paid": True, "reason": "another explanation", "paid_amount": "600.00"},
    ],
)
def test_another_mark_paid_after_the_settle_is_a_conflict(
    app: ExpenseApp, validation_engine: ValidationEngine, other: dict[str, Any] | None
) -> None:
    eid = approved(app, validation_engine)["id"]
    assert post(app, "support", eid, "mark-paid", PAID_IN_PART).status_code == 200
    assert post(app, "member-a", eid, "settle").status_code == 200
    sent, trail = len(app.responder.requests), _trail(app, eid)
    refused = post(app, "support", eid, "mark-paid", other)
    assert refused.status_code == 409, refused.text
    assert problem_of(refused)["type"] == "/problems/status-conflict"
    assert (len(app.responder.requests), _trail(app, eid)) == (sent, trail)


def test_the_workflow_answers_a_retried_mark_paid_after_the_settle_and_refuses_another(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    """The same at the service: the retry of the recorded payment returns the expense as it stands; a
    payment saying something else raises InvalidTransition; neither records, sends or announces anything."""
    eid = approved(app, validation_engine)["id"]
    workflow = app.services.expenses
    support = Actor("helpdesk", ActorRole.SUPPORT)
    paid_in_part = ActionInput(partial=True, reason=NOTE, paid_amount="600,00")  # as typed in a French form
    workflow.act(eid, ExpenseAction.MARK_PAID, support, paid_in_part)
    settled = workflow.act(eid, ExpenseAction.SETTLE, support, ActionInput())
    sent, trail = len(app.responder.requests), _trail(app, eid)
    again = workflow.act(eid, ExpenseAction.MARK_PAID, support, paid_in_part)
    assert again == settled
    assert (again.status, again.status_reason) == (ExpenseStatus.PAID, None)
    for other in (ActionInput(), ActionInput(partial=True, reason=NOTE, paid_amount="600.01")):
        with pytest.raises(InvalidTransition):
            workflow.act(eid, ExpenseAction.MARK_PAID, support, other)
    assert (len(app.responder.requests), _trail(app, eid)) == (sent, trail)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"partially_paid": True}, None),  # no explanation
        ({"partially_paid": True, "reason": " \u200b "}, None),  # nothing visible
        ({"partially_paid": True, "reason": ""}, "reason"),
        ({"partially_paid": True, "reason": "x" * 501}, "reason"),
        ({"partially_paid": True, "reason": "a\u0007b"}, "reason"),
        ({"partially_paid": True, "reason": NOTE, "paid_amount": "0"}, None),
        ({"partially_paid": True, "reason": NOTE, "paid_amount": "0.00"}, None),
        ({"partially_paid": True, "reason": NOTE, "paid_amount": "-5"}, "paid_amount"),
        ({"partially_paid": True, "reason": NOTE, "paid_amount": "1.234"}, "paid_amount"),
        ({"partially_paid": True, "reason": NOTE, "paid_amount": "6e2"}, "paid_amount"),
        ({"partially_paid": True, "reason": NOTE, "paid_amount": 600}, "paid_amount"),
        ({"partially_paid": True, "reason": NOTE, "paid_amount": "DUE"}, None),  # the amount due itself
        ({"partially_paid": True, "reason": NOTE, "paid_amount": "99999999.00"}, None),
        ({"reason": NOTE}, None),  # a text without partially_paid is not dropped silently
        ({"paid_amount": "600.00"}, None),
        ({"partially_paid": "yes", "reason": NOTE}, "partially_paid"),
        ({"partially_paid": True, "reason": NOTE, "amount": "600.00"}, "amount"),
    ],
)
def test_a_bad_partial_payment_is_a_422_that_changes_nothing(
    app: ExpenseApp, validation_engine: ValidationEngine, body: dict[str, Any], field: str | None
) -> None:
    expense = approved(app, validation_engine)
    if body.get("paid_amount") == "DUE":
        body = {**body, "paid_amount": expense["amount"]}
    sent = len(app.responder.requests)
    refused = post(app, "support", expense["id"], "mark-paid", body)
    assert refused.status_code == 422, refused.text
    problem = problem_of(refused)
    if field is None:
        assert problem["type"] == "/problems/expense-request-invalid"
    else:
        assert problem["type"] == "/problems/request-invalid"
        assert [e["location"] for e in problem["errors"]] == [f"body.{field}"]
    assert len(app.responder.requests) == sent
    after = app.client.get(f"/v1/expenses/{expense['id']}", headers=auth("member-a")).json()
    assert after["status"] == "approved"
    assert webhooks(app, "expense.mark-paid") == []


def test_the_real_responder_builds_a_pd_with_ppd_that_passes_the_t111_rules(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    expense = approved(app, validation_engine, number="F-2026-2002")
    responder = PeppolInvoiceResponder(validation=validation_engine, can_receive=lambda *_: True, ids=UUIDs())
    workflow = ExpenseWorkflow(store=app.store, clock=app.services.clock, ids=UUIDs(), responder=responder)
    support = Actor("helpdesk", ActorRole.SUPPORT)
    data = ActionInput(partial=True, reason=NOTE, paid_amount="600,00")  # as typed in a French form
    paid = workflow.act(expense["id"], ExpenseAction.MARK_PAID, support, data)
    assert paid.status is ExpenseStatus.PAID
    with app.store.unit_of_work(read_only=True) as uow:
        [event] = [e for e in uow.expenses.events(expense["id"]) if e.action is ExpenseAction.MARK_PAID]
        assert event.detail is not None
        document_id = event.detail["response_document_id"]
        assert isinstance(document_id, str)  # queued: it passed the T111 rules when built
        content = uow.outbound.get_content(document_id)
    assert content is not None
    assert content.validation_report is not None
    assert content.validation_report["valid"] is True
    report = validation_engine.validate(content.body, rule_set=T111_RULE_SET)
    assert report.valid, [f.rule for f in report.fatal]
    root = etree.fromstring(content.body)
    assert root.findtext("cac:DocumentResponse/cac:Response/cbc:ResponseCode", namespaces=_NS) == "PD"
    [status] = root.findall("cac:DocumentResponse/cac:Response/cac:Status", namespaces=_NS)
    code = status.find("cbc:StatusReasonCode", namespaces=_NS)
    assert code is not None
    assert (code.text, code.get("listID")) == ("PPD", "OPStatusReason")
    due = Decimal(expense["amount"])
    assert status.findtext("cbc:StatusReason", namespaces=_NS) == (
        f"Paid 600.00 of {due} {expense['currency']}: {NOTE}"
    )


def test_the_t111_rules_refuse_ppd_without_a_text_or_with_another_code(
    validation_engine: ValidationEngine,
) -> None:
    """The rule set the responder runs really checks that PPD comes with a text (R004). Its R005 ("PPD only
    with PD") never fires: the official assertion is ``exists(/cbc:ResponseCode='PD')``, the existence of a
    boolean, always true; the responder keeps PPD off other codes itself (``services/responses.py``)."""
    party = ResponseParty(ParticipantID.parse("0208:0739484052"), "Coop")
    supplier = ResponseParty(ParticipantID.parse("0208:0412345614"), "Supplier")

    def rules(code: ResponseCode, note: str | None) -> set[str]:
        response = InvoiceResponse(
            id=str(uuid.uuid4()),
            issued=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
            sender=party,
            receiver=supplier,
            code=code,
            document_id="F-1",
            document_type_code="380",
            reasons=(StatusReason.PARTIALLY_PAID,),
            note=note,
            document_issue_date="2026-12-01",
        )
        report = validation_engine.validate(build_invoice_response(response), rule_set=T111_RULE_SET)
        return {f.rule for f in report.fatal}

    assert rules(ResponseCode.PAID, NOTE) == set()
    assert "PEPPOL-T111-R004" in rules(ResponseCode.PAID, None)
    assert rules(ResponseCode.ACCEPTED, NOTE) == set()  # R005 as published checks nothing
