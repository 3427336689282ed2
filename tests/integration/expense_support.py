"""Shared material of the expense tests: supplier invoices made from the sample documents (seller and buyer
swapped so the cooperative is the buyer), an app with an AS4 identity and expense roles on both databases,
AS4 delivery of a UBL to ``/as4`` and a responder that records what the workflow asked for."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from as4_support import NOW, counter_ids, dev_pki
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.as4 import build_user_message
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.services.conversion import convert_document, parse_document_json
from gateway.services.ports import InvoiceResponseRequest, UnitOfWork
from gateway.store import SQLDocumentStore
from gateway.ubl import build_sbd
from gateway.validation import ValidationEngine
from tests.integration.conftest import backend_store

DOCUMENTS = Path(__file__).resolve().parents[1] / "data" / "documents"
RULES = "peppol-bis-billing-3.0.21"
COOP = ParticipantID.parse("0208:0739484052")
SUPPLIER = ParticipantID.parse("0208:0412345614")
SUPPLIER_IBAN = "BE68539007547034"
WEBHOOK_URL = "http://127.0.0.1:9/hooks"
KEYS = {
    "sender": ("invoicing", "sender-key-0123456789abcdefghij", []),
    "support": ("helpdesk", "support-key-0123456789abcdefghij", []),
    "admin": ("admin", "admin-key-0123456789abcdefghijkl", []),
    "member-a": ("member-a", "member-a-key-0123456789abcdefgh", ["PU-04711"]),
    "member-b": ("member-b", "member-b-key-0123456789abcdefgh", ["pu 00123"]),
    "member-c": ("member-c", "member-c-key-0123456789abcdefgh", []),
}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who][1]}"}


class StepClock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


class UUIDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


@dataclass
class RecordingResponder:
    """The InvoiceResponder port, recording each request with the unit of work it came in."""

    requests: list[InvoiceResponseRequest] = field(default_factory=list)
    silent: set[str] = field(default_factory=set)
    """Statuses for which nothing is queued (None), as for a supplier that does not receive T111."""

    def respond(self, uow: UnitOfWork, request: InvoiceResponseRequest) -> str | None:
        assert uow.expenses is not None  # called inside the workflow's unit of work
        self.requests.append(request)
        if request.status in self.silent:
            return None
        return f"response-{len(self.requests)}"

    def codes(self) -> list[str]:
        return [r.status for r in self.requests]


def supplier_document(
    engine: ValidationEngine, sample: str, *, number: str, buyer_reference: str | None, **changes: Any
) -> bytes:
    """A valid UBL from a sample with the cooperative as buyer and the sample's buyer as supplier."""
    data = json.loads((DOCUMENTS / sample).read_text(encoding="utf-8"))
    coop, supplier = data["seller"], data["buyer"]
    coop.pop("activity", None)
    coop.pop("iban", None)
    coop.pop("additional_legal_info", None)
    supplier["iban"] = SUPPLIER_IBAN
    data["seller"], data["buyer"] = supplier, coop
    data.pop("payment_means", None)
    data["number"] = number
    data["buyer_reference"] = buyer_reference
    if buyer_reference is None:
        data.setdefault("purchase_order_reference", "4500012345")
    data.update(changes)
    conversion = convert_document(
        parse_document_json(json.dumps(data).encode()), engine=engine, rule_set=RULES
    )
    assert conversion.report.valid, [f.rule for f in conversion.report.fatal]
    return conversion.ubl


def supplier_message(ubl: bytes, *, credit: bool = False, sender: ParticipantID = SUPPLIER) -> Any:
    """The AS4 message the supplier's AP sends us with ``ubl`` (``sender``: the SBDH sender, the supplier
    its access point vouches for): its ``headers`` and ``body``."""
    p = dev_pki()
    sbd = build_sbd(
        ubl,
        sender=sender,
        receiver=COOP,
        document_type=BIS_CREDIT_NOTE if credit else BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id=str(uuid.uuid4()),
        created=NOW,
    )
    return build_user_message(
        sbd,
        sender=p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id=f"{uuid.uuid4()}@supplier.test",
        timestamp=NOW,
        new_id=counter_ids(),
    )


def deliver(client: TestClient, ubl: bytes, *, credit: bool = False, sender: ParticipantID = SUPPLIER) -> Any:
    """Send ``ubl`` from the supplier's AP to our /as4 endpoint (``supplier_message``); returns the HTTP
    response."""
    message = supplier_message(ubl, credit=credit, sender=sender)
    response = client.post("/as4", content=message.body, headers=dict(message.headers))
    assert response.status_code == 200
    assert b"Receipt" in response.content
    return response


@dataclass
class ExpenseApp:
    client: TestClient
    store: SQLDocumentStore
    responder: RecordingResponder
    services: Services


def settings_for(artefacts_dir: Path, cache: Path, url: str) -> Settings:
    return Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": cache},
            "api": {
                "keys": [
                    {"name": name, "role": role.split("-")[0], "key": key, "units": units}
                    for role, (name, key, units) in KEYS.items()
                ]
            },
            "as4": {"served": [str(COOP)], "message_id_domain": "gw.test"},
            "database": {"url": url},
            "validation": {"rule_set": RULES},
            "webhooks": {"url": WEBHOOK_URL, "secret": "webhook-secret-0123456789"},
            "truststore": {"stage": "development"},
        }
    )


@pytest.fixture(name="app", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def app_fixture(
    request: pytest.FixtureRequest,
    module_stores: dict[str, SQLDocumentStore],
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ExpenseApp]:
    store = backend_store(request, module_stores)
    url = store.engine.url.render_as_string(hide_password=False)
    settings = settings_for(artefacts_dir, tmp_path_factory.mktemp("cache"), url)
    p = dev_pki()
    responder = RecordingResponder()
    services = Services(
        settings=settings,
        validation=validation_engine,
        store=store,
        clock=StepClock(),
        ids=UUIDs(),
        identity=p.receiver,
        trust=p.trust,
        served=frozenset({COOP}),
        responder=responder,
    )
    with TestClient(create_app(settings, services=services, warm=False)) as client:
        yield ExpenseApp(client, store, responder, services)
