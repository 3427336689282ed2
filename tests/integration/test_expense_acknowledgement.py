"""The AB Invoice Response with the gateway's default settings, on SQLite and PostgreSQL (bis-billing.md §9:
"received and routed to an activity -> AB, automatic", first response within 3 working days): a valid
invoice received over /as4 and routed to a production unit gets its AB queued without anyone acting, after
the answer delay, to a supplier that receives Invoice Responses; one in triage gets it when support assigns
it; a supplier that does not list T111 gets none; an operator who leaves AB out of
GATEWAY_RESPONSES__INVOICE_RESPONSE_STATUSES sends none."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from as4_support import dev_pki
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import select

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import ResponseSettings, Settings
from gateway.errors import ParticipantNotRegistered
from gateway.model import INVOICE_RESPONSE, DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import DocumentKind
from gateway.model.responses import ResponseCode
from gateway.services.ports import OutboundQuery
from gateway.store import SQLDocumentStore
from gateway.store.tables import delivery_jobs
from gateway.validation import ValidationEngine
from tests.integration.conftest import backend_store
from tests.integration.expense_support import (
    SUPPLIER,
    StepClock,
    UUIDs,
    auth,
    deliver,
    settings_for,
    supplier_document,
)
from tests.integration.test_expense_cycle import UNITS

_CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"


class _Directory:
    """A participant directory in which only ``receives_t111`` list the Invoice Response document type."""

    def __init__(self) -> None:
        self.receives_t111: set[ParticipantID] = {SUPPLIER}
        self.lookups: list[ParticipantID] = []

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Any:
        self.lookups.append(receiver)
        if document_type != INVOICE_RESPONSE or receiver not in self.receives_t111:
            raise ParticipantNotRegistered(f"{receiver} receives no {document_type}")
        return object()


@dataclass
class _Gateway:
    client: TestClient
    store: SQLDocumentStore
    clock: StepClock
    directory: _Directory


@pytest.fixture(name="gateway_for")
def gateway_for_fixture(
    request: pytest.FixtureRequest,
    module_stores: dict[str, SQLDocumentStore],
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    """Start the gateway with the default response settings, or with ``responses`` given."""
    store = backend_store(request, module_stores)
    url = store.engine.url.render_as_string(hide_password=False)
    started: list[TestClient] = []

    def start(responses: dict[str, Any] | None = None) -> _Gateway:
        settings = settings_for(artefacts_dir, tmp_path_factory.mktemp("cache"), url)
        if responses is not None:
            settings = settings.model_copy(update={"responses": ResponseSettings.model_validate(responses)})
        p, clock, directory = dev_pki(), StepClock(), _Directory()
        services = Services(
            settings=settings,
            validation=validation_engine,
            store=store,
            clock=clock,
            ids=UUIDs(),
            identity=p.receiver,
            trust=p.trust,
            directory=directory,
            served=frozenset({ParticipantID.parse(s) for s in settings.as4.served}),
        )
        client = TestClient(create_app(settings, services=services, warm=False))
        client.__enter__()
        started.append(client)
        client.put("/v1/units", json=UNITS, headers=auth("admin")).raise_for_status()
        return _Gateway(client, store, clock, directory)

    yield start
    for client in started:
        client.__exit__(None, None, None)


def expenses(gateway: _Gateway, who: str, query: str = "") -> list[dict[str, Any]]:
    response = gateway.client.get(f"/v1/expenses?{query}", headers=auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def post(gateway: _Gateway, who: str, expense_id: str, action: str, body: Any = None) -> Any:
    return gateway.client.post(f"/v1/expenses/{expense_id}/{action}", json=body, headers=auth(who))


_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _responses(store: SQLDocumentStore) -> list[tuple[str, str, str, datetime, datetime]]:
    """Per queued Invoice Response: (code, receiver, invoice number answered, created, first attempt due)."""
    with store.unit_of_work(read_only=True) as uow:
        documents = [
            d
            for d in uow.outbound.search(OutboundQuery(limit=50)).items
            if d.kind is DocumentKind.INVOICE_RESPONSE
        ]
        bodies = {d.id: uow.outbound.get_content(d.id) for d in documents}
    found = []
    for document in sorted(documents, key=lambda d: d.created_at):
        content = bodies[document.id]
        assert content is not None
        assert content.validation_report is not None
        assert content.validation_report["valid"] is True  # passed the T111 rules
        root = etree.fromstring(content.body)
        with store.engine.connect() as connection:
            due = connection.execute(
                select(delivery_jobs.c.due_at).where(delivery_jobs.c.document_id == document.id)
            ).scalar_one()
        found.append(
            (
                root.findtext(f".//{_CBC}ResponseCode"),
                str(document.receiver),
                root.findtext(f".//{{*}}DocumentReference/{_CBC}ID"),
                document.created_at.astimezone(UTC),
                due.astimezone(UTC),
            )
        )
    return found


@pytest.mark.parametrize("gateway_for", _BACKENDS, indirect=True)
def test_by_default_a_routed_invoice_is_acknowledged_after_the_answer_delay(
    gateway_for: Any, validation_engine: ValidationEngine
) -> None:
    gateway = gateway_for()
    assert ResponseCode.ACKNOWLEDGED in Settings().responses.invoice_response_statuses
    deliver(
        gateway.client,
        supplier_document(
            validation_engine, "be-domestic-mixed-rates.json", number="F-AB-1", buyer_reference="PU-04711"
        ),
    )
    [(code, receiver, number, created, due)] = _responses(gateway.store)
    assert (code, receiver, number) == ("AB", str(SUPPLIER), "F-AB-1")
    assert due - created == timedelta(seconds=Settings().responses.answer_delay_seconds)
    [expense] = expenses(gateway, "member-a")
    # Nobody acted: the next answer (AP) follows the member's approval, after the AB.
    assert post(gateway, "member-a", expense["id"], "approve").json()["status"] == "approved"
    assert [r[0] for r in _responses(gateway.store)] == ["AB", "AP"]


@pytest.mark.parametrize("gateway_for", _BACKENDS, indirect=True)
def test_by_default_a_triaged_invoice_is_acknowledged_when_support_assigns_it(
    gateway_for: Any, validation_engine: ValidationEngine
) -> None:
    gateway = gateway_for()
    deliver(
        gateway.client,
        supplier_document(validation_engine, "be-zero-rated.json", number="F-AB-2", buyer_reference=None),
    )
    assert _responses(gateway.store) == []
    assert gateway.directory.lookups == []  # not even looked up while in triage
    [triaged] = expenses(gateway, "support", "status=to_triage")
    assigned = post(gateway, "support", triaged["id"], "assign", {"unit": "PU-00123"})
    assert assigned.json()["status"] == "to_approve"
    [(code, receiver, number, _created, _due)] = _responses(gateway.store)
    assert (code, receiver, number) == ("AB", str(SUPPLIER), "F-AB-2")
    trail = gateway.client.get(triaged["url"], headers=auth("support")).json()["events"]
    assert trail[-1]["action"] == "assign"
    assert trail[-1]["invoice_response"]["code"] == "AB"
    assert trail[-1]["invoice_response"]["sent"] is True


@pytest.mark.parametrize("gateway_for", _BACKENDS, indirect=True)
def test_a_supplier_without_t111_and_an_operator_without_ab_get_no_acknowledgement(
    gateway_for: Any, validation_engine: ValidationEngine
) -> None:
    gateway = gateway_for()
    gateway.directory.receives_t111.clear()
    deliver(
        gateway.client,
        supplier_document(
            validation_engine, "be-domestic-mixed-rates.json", number="F-AB-3", buyer_reference="PU-04711"
        ),
    )
    assert gateway.directory.lookups == [SUPPLIER]  # asked, and told no
    assert _responses(gateway.store) == []

    # The operator's list without AB: the supplier receives T111, and still gets no AB (but the AP).
    pinned = gateway_for({"invoice_response_statuses": ["AP", "RE", "UQ", "PD"]})
    deliver(
        pinned.client,
        supplier_document(
            validation_engine, "be-domestic-mixed-rates.json", number="F-AB-4", buyer_reference="PU-04711"
        ),
    )
    assert _responses(pinned.store) == []
    [expense] = [e for e in expenses(pinned, "member-a") if e["number"] == "F-AB-4"]
    assert post(pinned, "member-a", expense["id"], "approve").json()["status"] == "approved"
    assert [r[0] for r in _responses(pinned.store)] == ["AP"]
