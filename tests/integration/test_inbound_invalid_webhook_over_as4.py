"""A supplier's invalid invoice, received over AS4 at ``/as4`` of the composed app (real validation engine),
is announced as ``inbound.invalid`` and POSTed by the composed webhook dispatcher to a loopback receiver that
checks the signature; the event's ``report_url`` serves the full report. Both databases."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from as4_support import dev_pki
from fastapi.testclient import TestClient
from lxml import etree

from gateway.api.app import create_app
from gateway.api.webhook_schemas import ExpenseEventBody, InboundInvalid
from gateway.bootstrap import Services
from gateway.config.operations import WebhookSettings
from gateway.model.message import InboundStatus
from gateway.services.inbound_webhooks import MAX_FINDINGS
from gateway.services.ports import InboundQuery
from gateway.services.webhook_signature import SIGNATURE_HEADER, SignatureCheck, check_webhook_signature
from gateway.services.webhooks import WebhookOutcome
from gateway.store import SQLDocumentStore
from gateway.validation import ValidationEngine
from tests.integration.conftest import backend_store
from tests.integration.expense_support import (
    COOP,
    SUPPLIER,
    RecordingResponder,
    StepClock,
    UUIDs,
    auth,
    deliver,
    settings_for,
    supplier_document,
)

SECRET = "webhook-secret-inbound-0123456789"


@dataclass
class HookReceiver:
    """A loopback webhook endpoint: 204 when the signature verifies (at the gateway's clock), else 401."""

    clock: StepClock
    received: list[tuple[dict[str, Any], SignatureCheck, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        verdict = check_webhook_signature(
            body, handler.headers.get(SIGNATURE_HEADER), secret=SECRET.encode(), now=self.clock.at
        )
        self.received.append((json.loads(body), verdict, dict(handler.headers.items())))
        handler.send_response(204 if verdict is SignatureCheck.VALID else 401)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def hooks(clock: StepClock) -> Iterator[HookReceiver]:
    state = HookReceiver(clock)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class App:
    client: TestClient
    store: SQLDocumentStore
    services: Services


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app(
    request: pytest.FixtureRequest,
    module_stores: dict[str, SQLDocumentStore],
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
    clock: StepClock,
    hooks: HookReceiver,
) -> Iterator[App]:
    store = backend_store(request, module_stores)
    url = store.engine.url.render_as_string(hide_password=False)
    settings = settings_for(artefacts_dir, tmp_path_factory.mktemp("cache"), url)
    settings = settings.model_copy(
        update={"webhooks": WebhookSettings.model_validate({"url": hooks.url, "secret": SECRET})}
    )
    p = dev_pki()
    services = Services(
        settings=settings,
        validation=validation_engine,
        store=store,
        clock=clock,
        ids=UUIDs(),
        identity=p.receiver,
        trust=p.trust,
        served=frozenset({COOP}),
        responder=RecordingResponder(),
    )
    with TestClient(create_app(settings, services=services, warm=False)) as client:
        yield App(client, store, services)


def dispatch_all(services: Services) -> list[Any]:
    dispatcher = services.webhook_dispatcher
    assert dispatcher is not None

    async def run() -> list[Any]:
        attempts = await dispatcher.dispatch_due()
        await services.aclose()
        return attempts

    return anyio.run(run)


def test_an_invalid_supplier_invoice_reaches_the_webhook_receiver_signed(
    app: App, hooks: HookReceiver, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid = supplier_document(
        validation_engine, "be-zero-rated.json", number="F-BAD-1", buyer_reference="PU-04711"
    )
    invalid = valid.replace(b"<cbc:InvoiceTypeCode>380<", b"<cbc:InvoiceTypeCode>999<", 1)
    assert invalid != valid
    # The event reads the number from the tree validation parsed: the document is still parsed once.
    trees: list[int] = []

    def counting(real: Any) -> Any:
        def parse(text: Any, *args: Any, **kwargs: Any) -> Any:
            data = text.encode() if isinstance(text, str) else bytes(text)
            parser = args[0] if args else kwargs.get("parser")
            if b"F-BAD-1" in data and getattr(parser, "target", None) is None:
                trees.append(len(data))
            return real(text, *args, **kwargs)

        return parse

    for name in ("fromstring", "XML"):
        monkeypatch.setattr(etree, name, counting(getattr(etree, name)))
    deliver(app.client, invalid)  # asserts a receipt: an invalid document is still received
    monkeypatch.undo()
    assert len(trees) == 1
    with app.store.unit_of_work(read_only=True) as uow:
        [document] = uow.inbound.search(InboundQuery(limit=10)).items
    assert document.status is InboundStatus.INVALID

    attempts = dispatch_all(app.services)
    assert all(a.outcome is WebhookOutcome.DELIVERED for a in attempts)
    events = [(body, verdict) for body, verdict, _ in hooks.received if body["type"] == "inbound.invalid"]
    [(event, verdict)] = events
    assert verdict is SignatureCheck.VALID
    InboundInvalid.model_validate(event)
    data = event["data"]
    assert data["inbound_document_id"] == document.id
    assert data["as4_message_id"] == document.as4_message_id
    assert data["sender"] == str(SUPPLIER)
    assert data["document_number"] == "F-BAD-1"
    assert "BR-CL-01" in data["reason"]
    assert data["findings"][0]["flag"] == "fatal"
    assert "BR-CL-01" in [f["rule"] for f in data["findings"]]
    assert data["fatal_total"] >= 1
    # The full report, through the API at the path the event names.
    shown = app.client.get(data["report_url"], headers=auth("support"))
    assert shown.status_code == 200
    assert len(shown.json()["report"]["issues"]) == data["findings_total"]

    # Nothing more is sent: the entry is delivered, and no second event exists for the document.
    assert dispatch_all(app.services) == []


def test_a_valid_supplier_invoice_sends_no_inbound_invalid(
    app: App, hooks: HookReceiver, validation_engine: ValidationEngine
) -> None:
    deliver(
        app.client,
        supplier_document(
            validation_engine, "be-zero-rated.json", number="F-OK-1", buyer_reference="PU-04711"
        ),
    )
    dispatch_all(app.services)
    assert hooks.received  # the expense's own webhooks went out, as the OpenAPI document describes them
    assert all(body["type"] != "inbound.invalid" for body, _, _ in hooks.received)
    for body, verdict, _ in hooks.received:
        assert verdict is SignatureCheck.VALID
        ExpenseEventBody.model_validate(body)


def test_the_openapi_document_describes_the_webhook_events(app: App) -> None:
    document = app.client.get("/openapi.json", headers=auth("admin")).json()
    hooks = document["webhooks"]
    assert set(hooks) == {"outbound.status_changed", "expense.<action>", "inbound.invalid"}
    body = hooks["inbound.invalid"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/InboundInvalid"}
    data = document["components"]["schemas"]["InboundInvalidData"]["properties"]
    assert data["findings"]["maxItems"] == MAX_FINDINGS
    headers = {p["name"] for p in hooks["inbound.invalid"]["post"]["parameters"]}
    assert headers == {"X-Gateway-Signature", "X-Gateway-Event-Id", "X-Gateway-Delivery-Attempt"}
