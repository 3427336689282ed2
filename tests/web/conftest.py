"""A real gateway (API and pages) served by uvicorn on loopback, on SQLite, with people, units, a failed and
a delivered outbound document and received supplier invoices (one routed, one in triage)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from as4_support import dev_pki
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.bootstrap import Services, SystemClock
from gateway.config import Role, Settings
from gateway.model.message import DeliveryEvent
from gateway.model.units import ProductionUnit
from gateway.services.units import save_units
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.people import SQLPeopleStore
from gateway.validation import ValidationEngine
from gateway.web.accounts import save_account
from tests.integration.expense_support import (
    COOP,
    DOCUMENTS,
    KEYS,
    RecordingResponder,
    auth,
    deliver,
    settings_for,
    supplier_document,
)

PASSWORD = "correct horse battery"
PEOPLE = {
    "sam": (Role.SUPPORT, []),
    "ada": (Role.ADMIN, []),
    "mia": (Role.MEMBER, ["PU-04711"]),
    "max": (Role.MEMBER, ["PU-00123"]),
}
FAILED_NUMBER = "WEB-2026-0001"
DELIVERED_NUMBER = "WEB-2026-0002"
FAILURE = "EBMS:0004: the receiving access point refused the message (Other)"


@dataclass
class Site:
    """The running gateway: its base URL, services and the ids the tests look for."""

    url: str
    services: Services
    people: SQLPeopleStore
    failed_id: str
    delivered_id: str
    attached_id: str
    routed_expense: str
    triage_expense: str


def _listening_socket() -> socket.socket:
    """A socket listening on a port the OS picks, held until the server takes it: a port found free and
    bound again later could meanwhile go to another pytest-xdist worker's server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _submit(client: TestClient, number: str, sample: str = "be-domestic-mixed-rates.json") -> str:
    data = json.loads((DOCUMENTS / sample).read_text(encoding="utf-8"))
    data["number"] = number
    response = client.post("/v1/outbound/invoices", json=data, headers=auth("sender"))
    assert response.status_code == 202, response.text
    document_id: str = response.json()["id"]
    return document_id


def _move(store: SQLDocumentStore, document_id: str, *events: DeliveryEvent, reason: str) -> None:
    at = datetime.now(UTC)
    with store.unit_of_work() as uow:
        for step, event in enumerate(events):
            detail = {"attempt": 1}
            if event is DeliveryEvent.PERMANENT_FAILURE:
                detail = {"ebms_code": "EBMS:0004", "error": reason}
            uow.outbound.transition(
                document_id, event, at=at + timedelta(seconds=step), reason=reason, detail=detail
            )
        if DeliveryEvent.PERMANENT_FAILURE in events:
            leases = uow.jobs.lease(
                now=at + timedelta(hours=1), limit=10, lease_for=timedelta(minutes=5), token="t"
            )
            for lease in leases:
                if lease.document_id == document_id:
                    uow.jobs.fail(document_id, "t", error=reason)
                else:
                    uow.jobs.reschedule(lease.document_id, "t", due_at=at)
        uow.commit()


@pytest.fixture(scope="module")
def site(
    artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'gateway.db'}"
    upgrade_database(url)
    settings: Settings = settings_for(artefacts_dir, folder / "cache", url)
    store = SQLDocumentStore.from_url(url)
    p = dev_pki()
    services = Services(
        settings=settings,
        validation=validation_engine,
        store=store,
        clock=SystemClock(),
        identity=p.receiver,
        trust=p.trust,
        served=frozenset({COOP}),
        responder=RecordingResponder(),
    )
    save_units(
        store,
        [ProductionUnit("PU-04711", "Vegetables Nord"), ProductionUnit("PU-00123", "Dairy Sud")],
        clock=services.clock,
    )
    people = SQLPeopleStore(store.engine)
    for name, (role, units) in PEOPLE.items():
        save_account(people, name, role, units, PASSWORD, clock=services.clock)
    app = create_app(settings, services=services, warm=False)
    with TestClient(app) as client:  # seeds through the real API and /as4
        failed_id = _submit(client, FAILED_NUMBER)
        delivered_id = _submit(client, DELIVERED_NUMBER)
        attached_id = _submit(client, "WEB-2026-0003", "attachment-pdf.json")
        deliver(
            client,
            supplier_document(
                validation_engine, "be-zero-rated.json", number="SUP-7001", buyer_reference="PU-04711"
            ),
        )
        deliver(
            client,
            supplier_document(
                validation_engine, "be-exempt-text.json", number="SUP-7002", buyer_reference=None
            ),
        )
        listed = client.get("/v1/expenses", headers=auth("support")).json()["items"]
    _move(store, failed_id, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, reason=FAILURE)
    _move(store, delivered_id, DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED, reason="receipt")
    by_number = {item["number"]: item for item in listed}
    assert by_number["SUP-7002"]["status"] == "to_triage", by_number
    listener = _listening_socket()
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield Site(
        url=base,
        services=services,
        people=people,
        failed_id=failed_id,
        delivered_id=delivered_id,
        attached_id=attached_id,
        routed_expense=by_number["SUP-7001"]["id"],
        triage_expense=by_number["SUP-7002"]["id"],
    )
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()
    services.close()


def login_token(client: httpx.Client) -> str:
    page = client.get("/web/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


@pytest.fixture(name="new_client")
def new_client_fixture(site: Site) -> Iterator[Callable[[], httpx.Client]]:
    """Makes HTTP clients of the site, each with its own cookies; closes them after the test."""
    made: list[httpx.Client] = []

    def make() -> httpx.Client:
        made.append(httpx.Client(base_url=site.url, follow_redirects=False))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture(name="login")
def login_fixture(new_client: Callable[[], httpx.Client]) -> Callable[[str], httpx.Client]:
    """Logs a person in; the client holds the session cookie."""

    def log_in(name: str) -> httpx.Client:
        client = new_client()
        token = login_token(client)
        answer = client.post("/web/login", data={"csrf_token": token, "name": name, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        return client

    return log_in


def csrf_of(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


__all__ = ["KEYS", "PASSWORD", "Site", "csrf_of", "login_token"]
