"""Independent peers against our running POST /as4 (uvicorn on 127.0.0.1, the kit's ap2 key, root + AP CA
trust): as4 accepts our receipt strictly, peppol-py delivers, msg-tamper vectors are refused with the right
ebMS code, a replay gets the original receipt again and no second document."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from interop_kit import Interop

from gateway.api.app import create_app
from gateway.api.routes import as4 as as4_routes
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.model import ParticipantID
from gateway.model.message import Direction, InboundStatus
from gateway.services.ports import InboundQuery
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.ubl import parse_sbd
from gateway.validation import ValidationEngine

pytestmark = pytest.mark.interop

#: The kit's default participants (peer-send: UBL EndpointIDs of samples/invoice.xml).
SERVED = ["0088:7300010000002"]


class Endpoint:
    """Our endpoint under test and its store."""

    def __init__(self, url: str, store: SQLDocumentStore) -> None:
        self.url = url
        self.store = store

    def documents(self) -> list[Any]:
        with self.store.unit_of_work(read_only=True) as uow:
            return list(uow.inbound.search(InboundQuery(limit=500)).items)

    def content(self, document_id: str) -> Any:
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.inbound.get_content(document_id)

    def record(self, message_id: str) -> Any:
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.messages.get(message_id, Direction.IN)


@pytest.fixture(scope="module")
def endpoint(
    interop: Interop,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Endpoint]:
    url = f"sqlite:///{tmp_path_factory.mktemp('as4-interop') / 'gateway.db'}"
    upgrade_database(url)
    store = SQLDocumentStore.from_url(url)
    settings = Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path_factory.mktemp("cache")},
            "api": {"keys": [{"name": "t", "role": "admin", "key": "interop-key-0123456789abcdef"}]},
            "as4": {"served": SERVED, "message_id_domain": "gw.interop"},
        }
    )
    services = Services(
        settings=settings,
        validation=validation_engine,
        store=store,
        identity=interop.key("ap2"),
        trust=interop.trust,
        served=frozenset(ParticipantID.parse(p) for p in SERVED),
    )  # real clock: the kit PKI is valid around the time setup.sh ran
    app: FastAPI = create_app(settings, services=services, warm=False)
    if not any(getattr(route, "path", None) == "/as4" for route in app.routes):
        app.include_router(as4_routes.router)  # until the lead wires routes.as4 into create_app
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started
    try:
        yield Endpoint(f"http://127.0.0.1:{port}/as4", store)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        store.close()


def _meta(d: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((d / "meta.json").read_text())
    return meta


def _delivered(endpoint: Endpoint, d: Path) -> Any:
    """The inbound document stored for the message in ``d``; its body is the SBD's business document."""
    message_id = _meta(d)["message_id"]
    # The receipt is answered once the message is stored; its validation runs after the answer: wait for it.
    deadline = time.monotonic() + 30
    while True:
        [document] = [doc for doc in endpoint.documents() if doc.as4_message_id == message_id]
        if document.status is not InboundStatus.RECEIVED or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    expected = parse_sbd((d / "sbd.xml").read_bytes(), max_bytes=10**7).business_document
    assert endpoint.content(document.id).body == expected
    record = endpoint.record(message_id)
    assert record.request.body == (d / "body.bin").read_bytes()  # byte-exact evidence
    return document


def test_as4_peer_accepts_our_receipt_strictly(interop: Interop, endpoint: Endpoint, tmp_path: Path) -> None:
    m = tmp_path / "m"
    verdict = interop.json("peer-send", "--impl", "as4", "--url", endpoint.url, "--out", m)
    assert verdict["state"] == "acknowledged", verdict
    document = _delivered(endpoint, m)
    # The kit's sample invoice breaks PEPPOL-COMMON-R040 (GLN check digit): received, flagged invalid.
    assert document.status is InboundStatus.INVALID
    assert document.status_reason == "PEPPOL-COMMON-R040"


def test_peppol_py_delivers_to_us(interop: Interop, endpoint: Endpoint, tmp_path: Path) -> None:
    m = tmp_path / "m"
    verdict = interop.json("peer-send", "--impl", "peppol-py", "--url", endpoint.url, "--out", m)
    assert verdict["http_status"] == 200, verdict
    assert verdict["receipt_present"] is True
    _delivered(endpoint, m)
    # peppol-py does not check receipts; libxmlsec1 does (signed with ap2, covers Messaging and Body).
    interop.run(
        "receipt-verify",
        m / "response.body",
        "--cert",
        interop.pki / "ap2.cert.pem",
        "--expect-kind",
        "receipt",
        "--expect-ref",
        _meta(m)["message_id"],
    )


def test_replay_gets_the_original_receipt_and_no_second_document(
    interop: Interop, endpoint: Endpoint, tmp_path: Path
) -> None:
    m = tmp_path / "m"
    interop.run("peer-send", "--impl", "as4", "--out", m)
    before = len(endpoint.documents())
    interop.run("peer-replay", m, "--url", endpoint.url, "--out", tmp_path / "r1")
    interop.run("peer-replay", m, "--url", endpoint.url, "--out", tmp_path / "r2")
    first = (tmp_path / "r1" / "response.body").read_bytes()
    assert (tmp_path / "r2" / "response.body").read_bytes() == first
    assert len(endpoint.documents()) == before + 1
    verdict = interop.json("peer-send", "--check-receipt", tmp_path / "r2" / "response.body", "--out", m)
    assert verdict["state"] == "acknowledged", verdict  # the repeated receipt passes as4's strict check


@pytest.mark.parametrize(
    ("impl", "kind", "code"),
    [
        ("peppol-py", "final-recipient", "EBMS:0101"),
        ("as4", "to-party", "EBMS:0101"),
        ("as4", "signature-value", "EBMS:0101"),
        ("as4", "ciphertext", "EBMS:0102"),
    ],
)
def test_tampered_messages_are_refused(
    interop: Interop, endpoint: Endpoint, tmp_path: Path, impl: str, kind: str, code: str
) -> None:
    m, t = tmp_path / "m", tmp_path / "t"
    interop.run("peer-send", "--impl", impl, "--out", m)
    interop.run("msg-tamper", m, "--kind", kind, "--out", t)
    before = len(endpoint.documents())
    interop.run("peer-replay", t, "--url", endpoint.url, "--expect-error", code, "--out", tmp_path / "r")
    assert len(endpoint.documents()) == before
    # Our error is signed with ap2 (libxmlsec1 agrees).
    interop.run(
        "receipt-verify", tmp_path / "r" / "response.body", "--cert", interop.pki / "ap2.cert.pem",
        "--expect-kind", "error",
    )  # fmt: skip
    # The genuine message is not blocked by the tampered copy that claimed its MessageId.
    interop.run("peer-replay", m, "--url", endpoint.url)
    assert len(endpoint.documents()) == before + 1


def test_not_served_receiver_is_refused_with_not_serviced(
    interop: Interop, endpoint: Endpoint, tmp_path: Path
) -> None:
    m = tmp_path / "m"
    verdict = interop.json(
        "peer-send", "--impl", "as4", "--final-recipient", "0088:7300010000099", "--url", endpoint.url,
        "--out", m, expect=1,
    )  # fmt: skip
    assert verdict["state"] == "rejected", verdict
    assert verdict["ebms_error"] == "EBMS:0004"
    assert b"PEPPOL:NOT_SERVICED" in (m / "response.body").read_bytes()
