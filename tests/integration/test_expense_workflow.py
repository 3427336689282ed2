"""The expense workflow on the real stores (SQLite and PostgreSQL), below the API: the recovery pass, the
receive hook failing without losing the document, a failing InvoiceResponder rolling the transition back,
concurrent creation of one draft, idempotent repeats, the webhook payload, and OpenAPI's error media type."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from gateway.bench.large import many_lines_invoice
from gateway.errors import GatewayError, InvalidTransition, StoreError
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.expense import Actor, ActorRole, ExpenseAction, ExpenseStatus
from gateway.model.message import DocumentContent, InboundDocument, InboundStatus
from gateway.model.units import ProductionUnit
from gateway.services import InboundQuery, expense_draft_reading
from gateway.services.expense_draft_result import DraftOutcome
from gateway.services.expenses import ActionInput
from gateway.services.ports import InvoiceResponseRequest, UnitOfWork
from gateway.services.units import save_units
from gateway.store.documents import SQLInboundDocumentRepository
from gateway.store.tables import expense_events, webhook_outbox
from gateway.ubl import read_ubl
from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    COOP,
    KEYS,
    SUPPLIER,
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)

MEMBER = Actor("member-a", ActorRole.MEMBER, frozenset({"PU04711"}))
SUPPORT = Actor("helpdesk", ActorRole.SUPPORT)


def seed_valid(
    app: ExpenseApp,
    ubl: bytes,
    *,
    received_at: datetime | None = None,
    receiver: ParticipantID | None = None,
) -> str:
    """A valid received document stored without its expense (as after a crash before the draft), sent by
    its seller's access point to its buyer (the SBDH sender is its BT-34, the receiver its BT-49 unless
    ``receiver`` is given)."""
    try:
        document = read_ubl(ubl)
        endpoint, buyer = document.seller.endpoint, document.buyer.endpoint
    except GatewayError:  # a document the draft cannot read (the tests of that): any sender
        endpoint = buyer = None
    sender = ParticipantID.parse(f"{endpoint.scheme}:{endpoint.value}") if endpoint else SUPPLIER
    if receiver is None:
        receiver = ParticipantID.parse(f"{buyer.scheme}:{buyer.value}") if buyer else COOP
    document_id = str(uuid.uuid4())
    now = received_at or app.services.clock.now()
    with app.store.unit_of_work() as uow:
        uow.inbound.add(
            InboundDocument(
                id=document_id,
                as4_message_id=f"{document_id}@supplier.test",
                sender=sender,
                receiver=receiver,
                document_type=BIS_INVOICE,
                process=BIS_BILLING_PROCESS,
                status=InboundStatus.VALID,
                received_at=now,
                updated_at=now,
            ),
            DocumentContent(ubl, {"rule_set": "x", "valid": True, "issues": []}),
        )
        uow.commit()
    return document_id


def units(app: ExpenseApp) -> None:
    save_units(app.store, [ProductionUnit("PU-04711", "De Eik")], clock=app.services.clock)


def invoice(engine: ValidationEngine, number: str = "F-9") -> bytes:
    return supplier_document(engine, "be-zero-rated.json", number=number, buyer_reference="PU-04711")


def test_recovery_creates_the_missing_drafts_once(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    units(app)
    first = seed_valid(app, invoice(validation_engine, "F-1"))
    second = seed_valid(app, invoice(validation_engine, "F-2"))
    assert app.services.expenses.recover(batch_size=1) == 2
    assert app.services.expenses.recover() == 0
    with app.store.unit_of_work(read_only=True) as uow:
        for inbound_id in (first, second):
            expense = uow.expenses.get_by_inbound(inbound_id)
            assert expense is not None
            assert (expense.status, expense.unit_code) == (ExpenseStatus.TO_APPROVE, "PU04711")


def test_the_receipt_stands_when_the_draft_fails_and_recovery_repairs_it(
    app: ExpenseApp, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    units(app)
    workflow = app.services.expenses

    def broken(uow: object, inbound_id: str, validated: object) -> Any:
        raise StoreError("database went away")

    monkeypatch.setattr(workflow._intake, "draft_validated", broken)
    deliver(app.client, invoice(validation_engine))  # asserts a receipt
    assert app.client.get("/v1/expenses", headers=auth("support")).json()["items"] == []
    monkeypatch.undo()
    assert workflow.recover() == 1
    assert len(app.client.get("/v1/expenses", headers=auth("support")).json()["items"]) == 1


def test_the_draft_is_built_from_the_validated_bytes_without_reading_them_back(
    app: ExpenseApp, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The receive path reads the draft's facts from the tree its validation parsed and hands them to the
    # expense intake (issue 12: parse once per side): neither the stored bytes nor a second parse.
    units(app)

    def unavailable(self: object, document_id: str) -> Any:
        raise StoreError("the content column is not read on this path")

    def second_parse(data: bytes) -> Any:
        raise AssertionError("the business document was parsed a second time")

    monkeypatch.setattr(SQLInboundDocumentRepository, "get_content", unavailable)
    monkeypatch.setattr(expense_draft_reading, "read_ubl", second_parse)
    monkeypatch.setattr(expense_draft_reading, "read_ubl_line_by_line", second_parse)
    deliver(app.client, invoice(validation_engine))  # asserts a receipt
    items = app.client.get("/v1/expenses", headers=auth("support")).json()["items"]
    assert len(items) == 1


def test_a_large_documents_expense_read_line_by_line_is_the_one_its_whole_model_gives(
    app: ExpenseApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From LINE_BY_LINE_ABOVE_BYTES up the draft is read line by line (BENCHMARKS.md, Memory, eighth pass):
    # the same stored draft and routing as from the whole document's model, line references included.
    units(app)
    line_end = b"</cac:InvoiceLine>"
    reference = b"<cbc:AccountingCost>site PU-04711</cbc:AccountingCost>" + line_end
    expenses = []
    for tag, threshold in (("whole", 10**9), ("lines", 0)):
        ubl = many_lines_invoice(300, tag=tag).ubl.replace(line_end, reference, 2)
        monkeypatch.setattr(expense_draft_reading, "LINE_BY_LINE_ABOVE_BYTES", threshold)
        result = app.services.expenses.create_from_inbound(seed_valid(app, ubl))
        assert result.outcome is DraftOutcome.CREATED
        with app.store.unit_of_work(read_only=True) as uow:
            stored = uow.expenses.get(result.expense.id if result.expense else "")
        assert stored is not None
        expenses.append(stored)
    whole, lines = expenses
    assert len(lines.draft["lines"]) == 300
    assert lines.routing == whole.routing
    assert lines.routing["unit"] == "PU04711"
    assert {**lines.draft, "number": None} == {**whole.draft, "number": None}
    assert (lines.amount, lines.status, lines.unit_code) == (whole.amount, whole.status, whole.unit_code)


def test_a_received_twin_is_flagged_on_the_first_expense_not_created_twice(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # The receive path inserts the draft without looking for its twin first (expense_intake.draft_validated):
    # the duplicate key refuses the twin and it is flagged on the first expense, as a look-up would.
    units(app)
    ubl = invoice(validation_engine, "F-7")
    deliver(app.client, ubl)  # asserts a receipt
    deliver(app.client, ubl)  # the same invoice in a new message and a new SBDH instance
    items = app.client.get("/v1/expenses", headers=auth("support")).json()["items"]
    assert len(items) == 1
    with app.store.unit_of_work(read_only=True) as uow:
        received = uow.inbound.search(InboundQuery()).items
        assert len(received) == 2
        assert {d.status for d in received} == {InboundStatus.VALID}
        first = uow.expenses.get(items[0]["id"])
        assert first is not None
        assert len(first.duplicates) == 1
        assert first.inbound_document_id != first.duplicates[0]
        assert {first.inbound_document_id, first.duplicates[0]} == {d.id for d in received}
        assert [e.action for e in uow.expenses.events(first.id)] == [
            ExpenseAction.CREATED,
            ExpenseAction.ROUTE,
            ExpenseAction.DUPLICATE,
        ]


@pytest.mark.parametrize(
    ("buyer_reference", "step", "status"),
    [
        ("PU-04711", ExpenseAction.ROUTE, ExpenseStatus.TO_APPROVE),
        (None, ExpenseAction.TRIAGE, ExpenseStatus.TO_TRIAGE),
    ],
)
def test_a_received_invoices_draft_is_one_row_and_one_statement_of_audit_entries(
    app: ExpenseApp,
    validation_engine: ValidationEngine,
    buyer_reference: str | None,
    step: ExpenseAction,
    status: ExpenseStatus,
) -> None:
    # The draft is inserted as it stands after routing, with its two audit entries in one executemany:
    # no UPDATE of the row just inserted and no second INSERT under the write lock (issue 12).
    units(app)
    engine = app.store.engine
    written: list[tuple[str, Any, bool]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "expense" in statement and not statement.lstrip().upper().startswith("SELECT"):
            written.append((statement.split("(")[0].strip(), parameters, many))

    ubl = supplier_document(
        validation_engine, "be-zero-rated.json", number="D-1", buyer_reference=buyer_reference
    )
    event.listen(engine, "before_cursor_execute", capture)
    try:
        deliver(app.client, ubl)  # asserts a receipt
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert [(statement, many) for statement, _, many in written] == [
        ("INSERT INTO expenses", False),
        ("INSERT INTO expense_events", True),
    ]
    assert len(written[1][1]) == 2  # both audit entries
    [item] = app.client.get("/v1/expenses", headers=auth("support")).json()["items"]
    with app.store.unit_of_work(read_only=True) as uow:
        expense = uow.expenses.get(item["id"])
        assert expense is not None
        assert expense.status is status
        assert expense.unit_code == ("PU04711" if buyer_reference else None)
        assert (expense.status_reason is None) == (buyer_reference is not None)
        events = uow.expenses.events(expense.id)
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        (ExpenseAction.CREATED, None, ExpenseStatus.RECEIVED),
        (step, ExpenseStatus.RECEIVED, status),
    ]
    assert events[1].unit_code == expense.unit_code


def test_concurrent_creation_makes_one_expense(app: ExpenseApp, validation_engine: ValidationEngine) -> None:
    units(app)
    inbound_id = seed_valid(app, invoice(validation_engine))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: app.services.expenses.create_from_inbound(inbound_id), range(4)))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes.count(DraftOutcome.CREATED.value) == 1
    assert {r.expense.id for r in results if r.expense} == {results[0].expense.id}  # type: ignore[union-attr]


class FailingResponder:
    def respond(self, uow: UnitOfWork, request: InvoiceResponseRequest) -> str | None:
        if request.status == "AP":
            raise StoreError("outbound queue unavailable")
        return None


def test_a_failing_responder_rolls_the_transition_back(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    units(app)
    created = app.services.expenses.create_from_inbound(seed_valid(app, invoice(validation_engine)))
    assert created.expense is not None
    eid = created.expense.id
    app.services.expenses._responder = FailingResponder()  # type: ignore[assignment]
    with pytest.raises(StoreError):
        app.services.expenses.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput())
    response = app.client.post(f"/v1/expenses/{eid}/approve", headers=auth("member-a"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    with app.store.unit_of_work(read_only=True) as uow:
        expense = uow.expenses.get(eid)
        assert expense is not None
        assert expense.status is ExpenseStatus.TO_APPROVE
        assert [e.action for e in uow.expenses.events(eid)] == [ExpenseAction.CREATED, ExpenseAction.ROUTE]


def test_repeats_record_nothing_even_after_a_duplicate_arrived(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    units(app)
    ubl = invoice(validation_engine)
    created = app.services.expenses.create_from_inbound(seed_valid(app, ubl))
    assert created.expense is not None
    eid = created.expense.id
    workflow = app.services.expenses
    workflow.act(eid, ExpenseAction.QUERY, MEMBER, ActionInput(question="Which order?"))
    duplicate = workflow.create_from_inbound(seed_valid(app, ubl))
    assert duplicate.outcome is DraftOutcome.DUPLICATE
    assert duplicate.expense is not None
    assert duplicate.expense.id == eid
    again = workflow.act(eid, ExpenseAction.QUERY, MEMBER, ActionInput(question="Which order?"))
    assert again.status is ExpenseStatus.UNDER_QUERY
    with pytest.raises(InvalidTransition):
        workflow.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput())
    with app.store.engine.connect() as connection:
        actions = [r.action for r in connection.execute(select(expense_events).order_by(expense_events.c.id))]
        rows = list(connection.execute(select(webhook_outbox)))
    payloads = [r.payload for r in rows]
    assert actions == ["created", "route", "query", "duplicate"]
    # The outbox names the configured target, never the URL (it may carry a token; issue 13).
    assert {r.target for r in rows} == {"default"}
    query = next(p for p in payloads if p["type"] == "expense.query")
    assert query["data"]["status"] == "under_query"
    assert query["data"]["previous_status"] == "to_approve"
    assert query["data"]["unit"] == "PU04711"
    assert query["data"]["actor"] == "member-a"
    assert query["data"]["detail"]["question"] == "Which order?"


def test_an_expired_supplier_mapping_is_renewed_at_the_next_triage(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    units(app)
    ubl = supplier_document(validation_engine, "be-zero-rated.json", number="T-1", buyer_reference=None)
    created = app.services.expenses.create_from_inbound(seed_valid(app, ubl))
    assert created.expense is not None
    assert created.expense.status is ExpenseStatus.TO_TRIAGE
    app.services.expenses.act(created.expense.id, ExpenseAction.ASSIGN, SUPPORT, ActionInput(unit="PU-04711"))
    with app.store.unit_of_work(read_only=True) as uow:
        mapping = uow.units.get_mapping(SUPPLIER.key)
    assert mapping is not None
    assert mapping.unit_code == "PU04711"
    assert mapping.expires_at - mapping.set_at == timedelta(days=365)


def test_openapi_documents_expense_errors_as_problem_json(app: ExpenseApp) -> None:
    spec = app.client.get("/openapi.json", headers={"X-API-Key": KEYS["admin"][1]}).json()
    approve = spec["paths"]["/v1/expenses/{expense_id}/approve"]["post"]["responses"]
    for status in ("403", "404", "409", "422"):
        assert list(approve[status]["content"]) == ["application/problem+json"], status
    listing = spec["paths"]["/v1/expenses"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"unit", "status", "supplier", "since", "cursor"}
    assert "/v1/units/{code}" in spec["paths"]


def test_recovery_skips_flagged_duplicates_and_steps_over_unreadable_documents(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    units(app)
    ubl = invoice(validation_engine)
    seed_valid(app, b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>")
    first = seed_valid(app, ubl)
    assert app.services.expenses.recover(batch_size=1) == 1  # the unreadable one does not block the rest
    repeat = seed_valid(app, ubl)
    assert app.services.expenses.recover() == 1  # flagged as a duplicate of the first
    # A flagged duplicate has no expense of its own, yet it is handled: never taken up again.
    assert app.services.expenses.recover() == 0
    with app.store.unit_of_work(read_only=True) as uow:
        expense = uow.expenses.get_by_inbound(first)
        assert expense is not None
        assert expense.duplicates == (repeat,)
        assert uow.expenses.get_by_inbound(repeat) is None


def test_listing_filters_and_pages_with_a_cursor(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    save_units(
        app.store,
        [ProductionUnit("PU-04711", "De Eik"), ProductionUnit("PU-00123", "Het Graan")],
        clock=app.services.clock,
    )
    made = []
    for n in range(5):
        reference = "PU-04711" if n % 2 == 0 else "PU-00123"
        ubl = supplier_document(
            validation_engine, "be-zero-rated.json", number=f"L-{n}", buyer_reference=reference
        )
        result = app.services.expenses.create_from_inbound(seed_valid(app, ubl))
        assert result.expense is not None
        made.append(result.expense)
    newest_first = [e.id for e in reversed(made)]

    def page(query: str, who: str = "support") -> tuple[list[str], str | None]:
        body = app.client.get(f"/v1/expenses?{query}", headers=auth(who)).json()
        return [item["id"] for item in body["items"]], body["next_cursor"]

    first, cursor = page("limit=2")
    second, cursor2 = page(f"limit=2&cursor={cursor}")
    third, last = page(f"limit=2&cursor={cursor2}")
    assert first + second + third == newest_first
    assert last is None
    assert page("unit=pu 04711")[0] == [made[4].id, made[2].id, made[0].id]
    assert page("unit=PU-04711", who="member-a")[0] == [made[4].id, made[2].id, made[0].id]
    assert page("unit=PU-00123", who="member-a")[0] == []  # not its unit: nothing, whatever the filter
    assert page("status=to_approve&supplier=0208:0412345614")[0] == newest_first
    assert page("supplier=0088:5798000000001")[0] == []
    since = made[3].created_at.isoformat().replace("+", "%2B")
    assert page(f"since={since}")[0] == [made[4].id, made[3].id]
    assert app.client.get("/v1/expenses?cursor=garbage", headers=auth("support")).status_code == 400
    assert app.client.get("/v1/expenses?unit=12", headers=auth("support")).status_code == 422


def test_concurrent_approvals_record_one_event_and_one_response(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    units(app)
    created = app.services.expenses.create_from_inbound(seed_valid(app, invoice(validation_engine)))
    assert created.expense is not None
    eid = created.expense.id
    approve = lambda _: app.services.expenses.act(eid, ExpenseAction.APPROVE, MEMBER, ActionInput())  # noqa: E731
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(approve, range(4)))
    assert {r.status for r in results} == {ExpenseStatus.APPROVED}
    with app.store.unit_of_work(read_only=True) as uow:
        assert [e.action for e in uow.expenses.events(eid)].count(ExpenseAction.APPROVE) == 1
    assert app.responder.codes().count("AP") == 1
