"""POST /as4 end to end: our sender -> the endpoint (in-process and over real loopback HTTP with uvicorn) ->
receipt verified strictly, evidence and inbound document stored with its validation report; duplicates,
not-served receivers, tampering, garbage, store failures and concurrent deliveries; SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from as4_support import NOW, RECEIVER, SENDER, counter_ids, dev_pki, make_sbd
from asgi_calls import call
from cryptography import x509
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.api.app import create_app
from gateway.api.pending_sweep import sweep_pending_once
from gateway.api.routes import as4 as as4_route
from gateway.as4 import PEPPOL_NOT_SERVICED, OutgoingMessage, build_user_message, read_signal, verify_receipt
from gateway.as4.signal_check import load_signal, verify_signal_signature
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.crypto import RevocationChecker, RevocationStatus
from gateway.errors import StoreError
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import AS4MessageRecord, Direction, InboundStatus, RawHTTPMessage, SignalKind
from gateway.services.ports import InboundQuery
from gateway.services.receive import REJECTED_KEY_PREFIX
from gateway.services.rejected_evidence import DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES
from gateway.store import SQLDocumentStore
from gateway.store.tables import as4_messages
from gateway.ubl import build_sbd
from gateway.validation import ValidationEngine
from tests.contract.store_databases import BACKENDS
from tests.integration.conftest import backend_store

API_KEY = "as4-tests-key-0123456789abcdef"
SOAP = "application/soap+xml"


# --- databases --------------------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def sql_store(request: pytest.FixtureRequest, module_stores: dict[str, SQLDocumentStore]) -> SQLDocumentStore:
    """An emptied, migrated store of the backend under test."""
    return backend_store(request, module_stores)


class FlakyStore:
    """The real store, switchable to "database down"."""

    def __init__(self, inner: SQLDocumentStore) -> None:
        self.inner = inner
        self.down = False

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        if self.down:
            raise StoreError("begin transaction: OperationalError")
        return self.inner.unit_of_work(read_only=read_only)

    def close(self) -> None:
        """The module fixture closes the real store."""


# --- the application --------------------------------------------------------------------------------------


class FixedClock:
    def now(self) -> datetime:
        return NOW


class UUIDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def settings_for(artefacts_dir: Path, cache: Path, **as4: Any) -> Settings:
    return Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": cache},
            "api": {"keys": [{"name": "t", "role": "admin", "key": API_KEY}]},
            "as4": {"served": [str(RECEIVER)], "message_id_domain": "gw.test", **as4},
        }
    )


def make_app(
    settings: Settings,
    store: Any,
    engine: ValidationEngine,
    *,
    identity: bool = True,
    revocation: RevocationChecker | None = None,
) -> FastAPI:
    p = dev_pki()
    services = Services(
        settings=settings,
        validation=engine,
        store=store,
        clock=FixedClock(),
        ids=UUIDs(),
        identity=p.receiver if identity else None,
        trust=p.trust,
        served=frozenset(ParticipantID.parse(s) for s in settings.as4.served),
        revocation=revocation,
    )
    return create_app(settings, services=services, warm=False)


@pytest.fixture
def store(sql_store: SQLDocumentStore) -> FlakyStore:
    return FlakyStore(sql_store)


@pytest.fixture
def app(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> FastAPI:
    return make_app(settings_for(artefacts_dir, tmp_path_factory.mktemp("cache")), store, validation_engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def make_message(
    sbd: bytes | None = None, *, message_id: str | None = None, receiver: ParticipantID = RECEIVER
) -> OutgoingMessage:
    p = dev_pki()
    return build_user_message(
        sbd if sbd is not None else make_sbd(receiver=receiver, instance_id=str(uuid.uuid4())),
        sender=p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id=message_id or f"{uuid.uuid4()}@sender.test",
        timestamp=NOW,
        new_id=counter_ids(),
    )


def error_of(body: bytes) -> tuple[str | None, list[tuple[str, str]]]:
    """(RefToMessageId, [(code, detail)]) of a signed ebMS Error from our endpoint (signature checked)."""
    root = load_signal({}, body)
    assert verify_signal_signature(root) == dev_pki().receiver.certificate
    _, ref, errors, receipt = read_signal(root)
    assert receipt is None
    return ref, errors


def inbound_documents(store: FlakyStore) -> list[Any]:
    with store.inner.unit_of_work(read_only=True) as uow:
        return list(uow.inbound.search(InboundQuery(limit=500)).items)


# --- in-process -------------------------------------------------------------------------------------------


def official_example(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml").read_bytes()


def sbd_of(ubl: bytes, **scopes: Any) -> bytes:
    return build_sbd(
        ubl,
        sender=SENDER,
        receiver=RECEIVER,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id=str(uuid.uuid4()),
        created=NOW,
        **scopes,
    )


def test_message_gets_a_strict_receipt_and_a_validated_inbound_document(
    client: TestClient, store: FlakyStore, artefacts_dir: Path
) -> None:
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(SOAP)
    verdict = verify_receipt(dict(response.headers), response.content, msg, trust=dev_pki().trust, at=NOW)
    assert verdict.is_success, verdict.detail
    [document] = inbound_documents(store)
    with store.inner.unit_of_work(read_only=True) as uow:
        record = uow.messages.get(msg.message_id, Direction.IN)
        content = uow.inbound.get_content(document.id)
    assert record is not None
    assert record.request.body == msg.body  # byte-exact evidence
    assert ("content-type", msg.headers["Content-Type"]) in record.request.headers
    assert record.signal is not None
    assert record.signal.kind is SignalKind.RECEIPT
    assert record.signal.raw.body == response.content
    assert record.document_id == document.id
    assert document.as4_message_id == msg.message_id
    assert document.receiver == RECEIVER
    assert content is not None
    assert content.validation_report is not None
    # The real rule set ran on the business document (the official example is BIS-compliant).
    assert content.body.lstrip().startswith(b"<Invoice") or b"<Invoice" in content.body[:300]
    assert content.validation_report["rule_set"].startswith("peppol-bis-billing-3.0")
    assert content.validation_report["valid"] is True
    assert document.status is InboundStatus.VALID


def test_invalid_business_document_still_gets_a_receipt(
    client: TestClient, store: FlakyStore, artefacts_dir: Path
) -> None:
    good = official_example(artefacts_dir)
    broken = good.replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">1', 1
    )
    assert broken != good
    sbd = sbd_of(broken)
    msg = make_message(sbd)
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert verify_receipt(dict(response.headers), response.content, msg).is_success
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.INVALID
    assert document.status_reason is not None
    assert "BR-CO-16" in document.status_reason


def test_duplicate_message_id_returns_the_original_receipt_and_stores_one_document(
    client: TestClient, store: FlakyStore
) -> None:
    msg = make_message()
    first = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    second = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert second.status_code == 200
    assert second.content == first.content
    assert verify_receipt(dict(second.headers), second.content, msg).is_success
    assert len(inbound_documents(store)) == 1


def test_not_served_receiver_gets_ebms_0004_not_serviced(client: TestClient, store: FlakyStore) -> None:
    msg = make_message(receiver=ParticipantID.parse("0208:0739484052"))
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200
    ref, errors = error_of(response.content)
    assert ref == msg.message_id
    assert errors == [("EBMS:0004", PEPPOL_NOT_SERVICED)]
    assert inbound_documents(store) == []


class _RevokedSender:
    """A revocation checker that knows the sender certificate as revoked."""

    def __init__(self, revoked: x509.Certificate) -> None:
        self.revoked = revoked
        self.checked: list[str] = []

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        self.checked.append(certificate.subject.rfc4514_string())
        return RevocationStatus.REVOKED if certificate == self.revoked else RevocationStatus.GOOD


def test_a_revoked_sender_certificate_is_refused_with_0101(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    checker = _RevokedSender(dev_pki().sender.certificate)
    settings = settings_for(artefacts_dir, tmp_path_factory.mktemp("cache"))
    app = make_app(settings, store, validation_engine, revocation=checker)
    msg = make_message()
    with TestClient(app) as client:
        response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200
    _, errors = error_of(response.content)
    assert [code for code, _ in errors] == ["EBMS:0101"]
    assert checker.checked  # the configured checker was consulted
    assert inbound_documents(store) == []


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (
            lambda b: b.replace(b"0088:7300010000002</eb:Property>", b"0088:7300010000003</eb:Property>", 1),
            "0101",
        ),
        (lambda b: b.replace(b"POP000001</eb:PartyId>", b"POP000003</eb:PartyId>", 1), "0101"),
        (lambda b: b[:-200] + bytes([b[-200] ^ 1]) + b[-199:], "0102"),
    ],
    ids=["final-recipient", "from-party", "ciphertext"],
)
def test_tampered_messages_get_the_right_code_and_their_bytes_are_kept(
    client: TestClient, store: FlakyStore, tamper: Any, code: str
) -> None:
    """Kept whole once the signer is authenticated (the ciphertext case); before that a prefix (issue 13)."""
    msg = make_message()
    body = tamper(msg.body)
    assert body != msg.body
    response = client.post("/as4", content=body, headers=dict(msg.headers))
    assert response.status_code == 200
    ref, errors = error_of(response.content)
    assert [c for c, _ in errors] == [f"EBMS:{code}"]
    assert ref == msg.message_id
    with store.inner.unit_of_work(read_only=True) as uow:
        assert uow.messages.get(msg.message_id, Direction.IN) is None  # never under the claimed id
    kept = body if code == "0102" else body[:DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES]
    assert _rejected_bodies(store) == [kept]
    assert inbound_documents(store) == []


def _rejected_bodies(store: FlakyStore) -> list[bytes]:
    t = as4_messages
    with store.inner.engine.connect() as connection:
        rows = connection.execute(
            select(t.c.request_body).where(t.c.message_id.startswith(REJECTED_KEY_PREFIX))
        ).all()
    return [bytes(r.request_body) for r in rows]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "text/plain"}, b"hello"),
        ({"Content-Type": "multipart/related; boundary=x"}, b"--x\r\n\r\n<a/>\r\n--x--"),
        ({"Content-Type": SOAP}, b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"),
        ({}, b""),
        ({"Content-Type": SOAP}, bytes(range(256)) * 8),
    ],
    ids=["text", "mime-without-soap", "dtd", "empty", "binary"],
)
def test_garbage_gets_a_signed_error_never_a_5xx(
    client: TestClient, store: FlakyStore, headers: dict[str, str], body: bytes
) -> None:
    response = client.post("/as4", content=body, headers=headers)
    assert response.status_code == 200
    _, errors = error_of(response.content)
    assert len(errors) == 1
    assert errors[0][0].startswith("EBMS:")
    assert _rejected_bodies(store) == [body[:DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES]]


def test_store_down_answers_503_without_a_receipt(client: TestClient, store: FlakyStore) -> None:
    msg = make_message()
    store.down = True
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    store.down = False
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"  # settings.server.retry_after_seconds, as every 503
    assert b"Receipt" not in response.content
    assert inbound_documents(store) == []
    # The sender's resend then succeeds.
    again = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert verify_receipt(dict(again.headers), again.content, msg).is_success


def test_without_a_key_as4_answers_503(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    app = make_app(settings_for(artefacts_dir, tmp_path), store, validation_engine, identity=False)
    msg = make_message()
    with TestClient(app) as c:
        response = c.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


def test_oversized_body_gets_invalid_header(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    app = make_app(settings_for(artefacts_dir, tmp_path, max_message_bytes=4096), store, validation_engine)
    msg = make_message()
    assert len(msg.body) > 4096
    with TestClient(app) as c:
        response = c.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200
    _, errors = error_of(response.content)
    assert [c for c, _ in errors] == ["EBMS:0009"]
    assert inbound_documents(store) == []


def test_as4_route_needs_no_api_key_but_v1_still_does(client: TestClient) -> None:
    assert client.post("/v1/validate", content=b"<x/>").status_code == 401
    assert client.post("/as4", content=b"<x/>", headers={"Content-Type": SOAP}).status_code == 200


# --- over real HTTP ---------------------------------------------------------------------------------------


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 (ephemeral port) in a thread; yield the /as4 URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}/as4"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_over_loopback_http(app: FastAPI, store: FlakyStore) -> None:
    msg = make_message()
    other = make_message(receiver=ParticipantID.parse("0208:0739484052"))
    with serve(app) as url, httpx.Client(timeout=60) as http:
        first = http.post(url, content=msg.body, headers=dict(msg.headers))
        again = http.post(url, content=msg.body, headers=dict(msg.headers))
        refused = http.post(url, content=other.body, headers=dict(other.headers))
        garbage = http.post(url, content=b"\x00garbage", headers={"Content-Type": "multipart/related"})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith(SOAP)
    assert verify_receipt(dict(first.headers), first.content, msg, trust=dev_pki().trust, at=NOW).is_success
    assert again.content == first.content
    assert error_of(refused.content)[1] == [("EBMS:0004", PEPPOL_NOT_SERVICED)]
    assert garbage.status_code == 200
    assert error_of(garbage.content)[1][0][0] == "EBMS:0009"
    [document] = inbound_documents(store)
    assert document.as4_message_id == msg.message_id


def test_the_receipt_is_answered_before_validation_which_outlasts_a_store_outage(
    app: FastAPI,
    store: FlakyStore,
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    validate = validation_engine.validate

    def held_validate(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(30), "the test never released the validation"
        return validate(*args, **kwargs)

    monkeypatch.setattr(validation_engine, "validate", held_validate)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    with serve(app) as url, httpx.Client(timeout=60) as http:
        response = http.post(url, content=msg.body, headers=dict(msg.headers))
        # The receipt came back while the validation is still held: the evidence is committed, the
        # document waits for its verdict.
        receipt = verify_receipt(dict(response.headers), response.content, msg, trust=dev_pki().trust, at=NOW)
        assert receipt.is_success, receipt.detail
        [pending] = inbound_documents(store)
        assert pending.status is InboundStatus.RECEIVED
        store.down = True  # the first try to record the verdict fails; a later one succeeds
        release.set()
        time.sleep(0.5)
        store.down = False
        deadline = time.monotonic() + 30
        while inbound_documents(store)[0].status is InboundStatus.RECEIVED and time.monotonic() < deadline:
            time.sleep(0.05)
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID


def test_validations_after_the_receipt_run_no_more_at_once_than_the_as4_slots(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(settings_for(artefacts_dir, tmp_path, max_concurrent_requests=1), store, validation_engine)
    validate = validation_engine.validate
    lock, running, most = threading.Lock(), [0], [0]

    def counted_validate(*args: Any, **kwargs: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.1)  # long enough for others to start if nothing held them back
            return validate(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(validation_engine, "validate", counted_validate)
    messages = [make_message() for _ in range(4)]

    def deliver(url: str, msg: OutgoingMessage) -> httpx.Response:
        with httpx.Client(timeout=120) as http:
            return http.post(url, content=msg.body, headers=dict(msg.headers))

    with serve(app) as url, ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda msg: deliver(url, msg), messages))
        deadline = time.monotonic() + 60
        while any(d.status is InboundStatus.RECEIVED for d in inbound_documents(store)):
            assert time.monotonic() < deadline, "validations after the receipt did not finish"
            time.sleep(0.05)
    assert {r.status_code for r in responses} == {200}
    assert len(inbound_documents(store)) == 4
    assert most[0] == 1


def test_work_after_receipts_beyond_the_backlog_bound_is_left_to_the_sweep(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Validation stalls; a sender keeps posting on one connection: every message gets its receipt, but at
    # most max_after_receipt_backlog documents wait in memory for their work; the others stay pending for
    # the sweep, which finishes each of them once.
    settings = settings_for(
        artefacts_dir,
        tmp_path,
        max_concurrent_requests=1,
        max_after_receipt_backlog=2,
        pending_sweep_interval_seconds=3600,  # the timer stays out of it: swept below, by hand
        pending_sweep_age_seconds=0,
    )
    app = make_app(settings, store, validation_engine)
    validate = validation_engine.validate
    stalled, validations = threading.Event(), [0]

    def stalled_validate(*args: Any, **kwargs: Any) -> Any:
        validations[0] += 1
        assert stalled.wait(30)
        return validate(*args, **kwargs)

    monkeypatch.setattr(validation_engine, "validate", stalled_validate)
    with serve(app) as url, httpx.Client(timeout=60) as http:
        responses = [
            http.post(url, content=msg.body, headers=dict(msg.headers))
            for msg in (make_message() for _ in range(5))
        ]
        # Taken before each answer was sent (the work reaches the limiter only after its send).
        backlog = app.state.as4_after_receipt_backlog
        queued = backlog.taken[0]
        stalled.set()
        deadline = time.monotonic() + 60
        while backlog.taken != (0, 0):
            assert time.monotonic() < deadline, "the work after the receipts did not finish"
            time.sleep(0.05)
    assert [r.status_code for r in responses] == [200] * 5
    assert queued == 2
    pending = [d.id for d in inbound_documents(store) if d.status is InboundStatus.RECEIVED]
    assert len(pending) == 3
    assert sweep_pending_once(app.state.services) == 3
    assert sweep_pending_once(app.state.services) == 0
    assert InboundStatus.RECEIVED not in {d.status for d in inbound_documents(store)}
    assert validations[0] == 5


async def hang_up_on(app: FastAPI, msg: OutgoingMessage) -> None:
    """Post ``msg`` to ``app``, hanging up as its answer's body is sent (the send raises)."""

    async def hang_up(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection reset by peer")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/as4",
        "raw_path": b"/as4",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in msg.headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": msg.body, "more_body": False}

    with pytest.raises(OSError, match="connection reset"):
        await app(scope, receive, hang_up)


def padded(ubl: bytes, size: int) -> bytes:
    """``ubl`` made ``size`` bytes larger by a comment (its validation and draft are unchanged)."""
    at = ubl.index(b"<cbc:CustomizationID>")
    return ubl[:at] + b"<!--" + b"x" * (size - 7) + b"-->" + ubl[at:]


def _stalled_deliveries(
    app: FastAPI, store: FlakyStore, validation_engine: ValidationEngine, messages: list[OutgoingMessage]
) -> tuple[list[int], int, tuple[int, int]]:
    """Post ``messages`` one after the other while validation stalls; then let it go and wait for the work.

    Returns:
        The answers' HTTP statuses, the work items queued meanwhile, the backlog taken once it all ran.
    """
    validate = validation_engine.validate
    stalled = threading.Event()

    def stalled_validate(*args: Any, **kwargs: Any) -> Any:
        assert stalled.wait(30)
        return validate(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation_engine, "validate", stalled_validate)
        with serve(app) as url, httpx.Client(timeout=60) as http:
            responses = [http.post(url, content=msg.body, headers=dict(msg.headers)) for msg in messages]
            # Taken before each answer was sent (the work reaches the limiter only after its send).
            backlog = app.state.as4_after_receipt_backlog
            queued = backlog.taken[0]
            stalled.set()
            deadline = time.monotonic() + 60
            while backlog.taken != (0, 0):
                assert time.monotonic() < deadline, "the work after the receipts did not finish"
                time.sleep(0.05)
    return [r.status_code for r in responses], queued, backlog.taken


def test_work_after_receipts_beyond_the_byte_budget_is_left_to_the_sweep(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    # 1 MiB of documents may wait: the first 600 KB one is queued, the second is not (1.2 MB), the small
    # one after it is (within what is left). The one left pending still got its receipt; the sweep
    # finishes it.
    settings = settings_for(
        artefacts_dir,
        tmp_path,
        max_concurrent_requests=1,
        max_after_receipt_backlog_mib=1,
        pending_sweep_interval_seconds=3600,
        pending_sweep_age_seconds=0,
    )
    app = make_app(settings, store, validation_engine)
    example = official_example(artefacts_dir)
    first, beyond = (make_message(sbd_of(padded(example, 600_000))) for _ in range(2))
    small = make_message(sbd_of(example))
    statuses, queued, taken = _stalled_deliveries(app, store, validation_engine, [first, beyond, small])
    assert statuses == [200, 200, 200]
    assert queued == 2
    assert taken == (0, 0)  # places and bytes given back once the work ran
    status = {d.as4_message_id: d.status for d in inbound_documents(store)}
    assert status[first.message_id] is InboundStatus.VALID
    assert status[small.message_id] is InboundStatus.VALID
    assert status[beyond.message_id] is InboundStatus.RECEIVED
    assert sweep_pending_once(app.state.services) == 1
    assert {d.status for d in inbound_documents(store)} == {InboundStatus.VALID}


def test_a_document_larger_than_the_whole_byte_budget_is_admitted_alone(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    # A 1.5 MB document with a 1 MiB budget: queued when no other work waits (the sweep would hold it
    # whole all the same), and nothing else is queued beside it, however small.
    settings = settings_for(
        artefacts_dir, tmp_path, max_concurrent_requests=1, max_after_receipt_backlog_mib=1
    )
    app = make_app(settings, store, validation_engine)
    example = official_example(artefacts_dir)
    large, small = make_message(sbd_of(padded(example, 1_500_000))), make_message(sbd_of(example))
    statuses, queued, taken = _stalled_deliveries(app, store, validation_engine, [large, small])
    assert statuses == [200, 200]
    assert queued == 1
    assert taken == (0, 0)
    status = {d.as4_message_id: d.status for d in inbound_documents(store)}
    assert status[large.message_id] is InboundStatus.VALID
    assert status[small.message_id] is InboundStatus.RECEIVED


@pytest.mark.parametrize("bound", ["places", "bytes"])
def test_a_receipt_that_could_not_be_sent_gives_its_backlog_place_back(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path, bound: str
) -> None:
    # The sender hangs up before its receipt is sent: its work never runs (its document stays pending),
    # and the one place of the backlog (or its bytes: two such documents exceed 1 MiB) is free again for
    # the next message.
    if bound == "places":
        settings = settings_for(artefacts_dir, tmp_path, max_after_receipt_backlog=1)
        hung_up, answered = make_message(), make_message()
    else:
        settings = settings_for(artefacts_dir, tmp_path, max_after_receipt_backlog_mib=1)
        ubl = padded(official_example(artefacts_dir), 600_000)
        hung_up, answered = make_message(sbd_of(ubl)), make_message(sbd_of(ubl))
    app = make_app(settings, store, validation_engine)

    async def scenario() -> int:
        await hang_up_on(app, hung_up)
        headers = list(answered.headers.items())
        return (await call(app, "POST", "/as4", headers, chunk=answered.body, chunks=1)).status

    assert anyio.run(scenario) == 200
    status = {d.as4_message_id: d.status for d in inbound_documents(store)}
    assert status[hung_up.message_id] is InboundStatus.RECEIVED
    assert status[answered.message_id] is not InboundStatus.RECEIVED  # its work ran: the place was free
    assert app.state.as4_after_receipt_backlog.taken == (0, 0)


@pytest.mark.parametrize("finisher", ["resend", "sweep"])
def test_a_document_whose_receipt_could_not_be_sent_is_finished_by_the_resend_or_the_sweep(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    finisher: str,
) -> None:
    # The sender hangs up before its receipt is sent, so the work after it never runs here: the document
    # is not held for it (IN_FLIGHT_HOLD), and the sender's resend (it got no receipt) or the next sweep
    # finishes it at once, instead of 15 minutes later.
    settings = settings_for(
        artefacts_dir, tmp_path, pending_sweep_interval_seconds=3600, pending_sweep_age_seconds=0
    )
    app = make_app(settings, store, validation_engine)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    anyio.run(hang_up_on, app, msg)
    [pending] = inbound_documents(store)
    assert pending.status is InboundStatus.RECEIVED
    if finisher == "resend":
        headers = list(msg.headers.items())
        again = anyio.run(lambda: call(app, "POST", "/as4", headers, chunk=msg.body, chunks=1))
        assert again.status == 200
        assert verify_receipt(again.headers, again.body, msg, trust=dev_pki().trust, at=NOW).is_success
    else:
        assert sweep_pending_once(app.state.services) == 1
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID


def test_a_sender_hanging_up_before_reading_its_receipt_over_real_http_still_gets_the_work_done(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under uvicorn (h11, as `gateway serve`) an ASGI send after the client disconnected is dropped without
    # raising: the sender closes its socket once the message is stored, before its receipt is answered;
    # the answer "goes" nowhere and the work after it runs as usual, its backlog place given back after.
    app = make_app(settings_for(artefacts_dir, tmp_path), store, validation_engine)
    taking, hung_up, lost = threading.Event(), threading.Event(), threading.Event()
    take, connection_lost = as4_route._Backlog.take, H11Protocol.connection_lost

    def take_after_the_hang_up(backlog: Any, into: Any, work: Any) -> bool:
        taking.set()  # stored and committed; the receipt is not answered yet
        assert hung_up.wait(30), "the test never hung up"
        return take(backlog, into, work)

    def noted(protocol: H11Protocol, exc: Exception | None) -> None:
        connection_lost(protocol, exc)
        lost.set()

    monkeypatch.setattr(as4_route._Backlog, "take", take_after_the_hang_up)
    monkeypatch.setattr(H11Protocol, "connection_lost", noted)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    fields = "".join(f"{k}: {v}\r\n" for k, v in msg.headers.items() if k.lower() != "content-length")
    head = f"POST /as4 HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}Content-Length: {len(msg.body)}\r\n\r\n"
    with serve(app) as url:
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        try:
            client.sendall(head.encode("latin-1") + msg.body)
            assert taking.wait(30), "the message was not stored"
            client.close()  # nothing read: the receipt is not answered yet
            assert lost.wait(30), "uvicorn did not see the hang-up"
        finally:
            client.close()
            hung_up.set()
        backlog = app.state.as4_after_receipt_backlog
        deadline = time.monotonic() + 30
        while inbound_documents(store)[0].status is InboundStatus.RECEIVED or backlog.taken != (0, 0):
            assert time.monotonic() < deadline, "the work after the receipt did not run"
            time.sleep(0.05)
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID
    assert app.state.as4_after_receipt_backlog.taken == (0, 0)


def test_a_resend_during_the_pause_between_tries_leaves_the_document_to_the_work_after_its_receipt(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first record of the verdict fails (the store down for a moment): the work after the receipt
    # pauses, then tries again. The document stays held through the pause, so a resend of the message
    # meanwhile leaves it to that work (one validation there, not two racing); the hold ends with the work.
    app = make_app(settings_for(artefacts_dir, tmp_path), store, validation_engine)
    validate = validation_engine.validate
    validations = [0]

    def validate_then_store_down(*args: Any, **kwargs: Any) -> Any:
        validations[0] += 1
        if validations[0] == 1:
            store.down = True  # the first record of the verdict fails
        return validate(*args, **kwargs)

    paused, resume = threading.Event(), threading.Event()

    def pause(seconds: float) -> None:
        store.down = False
        paused.set()
        assert resume.wait(30), "the test never ended the pause"

    monkeypatch.setattr(validation_engine, "validate", validate_then_store_down)
    monkeypatch.setattr(as4_route, "time", SimpleNamespace(sleep=pause))
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    headers = list(msg.headers.items())

    async def scenario() -> tuple[int, InboundStatus]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(partial(call, app, "POST", "/as4", headers, chunk=msg.body, chunks=1))
            try:
                assert await anyio.to_thread.run_sync(paused.wait, 30), "the first record did not fail"
                again = await call(app, "POST", "/as4", headers, chunk=msg.body, chunks=1)
                [meanwhile] = inbound_documents(store)
            finally:
                resume.set()
        return again.status, meanwhile.status

    assert anyio.run(scenario) == (200, InboundStatus.RECEIVED)  # the resend left it to the work
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID
    assert validations[0] == 2  # the failed try and the one after the pause
    assert not app.state.services.receiver._finisher.held(document.id)


def test_a_request_cancelled_while_its_work_validates_keeps_the_document_held_until_the_work_ends(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The request's task is cancelled while the work after its receipt runs in its thread: anyio's run_sync
    # shields a started thread, so the task waits for it, and the hold and the backlog place end with the
    # work, not before it (a resend meanwhile leaves the document to it; its bytes are still counted).
    app = make_app(settings_for(artefacts_dir, tmp_path), store, validation_engine)
    validate = validation_engine.validate
    validating, go, validations = threading.Event(), threading.Event(), [0]

    def held_validate(*args: Any, **kwargs: Any) -> Any:
        validations[0] += 1
        if validations[0] == 1:
            validating.set()
            assert go.wait(30), "the test never let the validation go"
        return validate(*args, **kwargs)

    monkeypatch.setattr(validation_engine, "validate", held_validate)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    headers = list(msg.headers.items())

    async def post(cancelled: anyio.CancelScope) -> None:
        with cancelled:
            await call(app, "POST", "/as4", headers, chunk=msg.body, chunks=1)

    async def scenario() -> tuple[int, InboundStatus, int]:
        cancelled = anyio.CancelScope()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(post, cancelled)
            try:
                assert await anyio.to_thread.run_sync(validating.wait, 30), "the work did not start"
                cancelled.cancel()
                await anyio.sleep(0.1)  # the cancellation reaches the request's task
                again = await call(app, "POST", "/as4", headers, chunk=msg.body, chunks=1)
                [meanwhile] = inbound_documents(store)
                places = app.state.as4_after_receipt_backlog.taken[0]
            finally:
                go.set()
        return again.status, meanwhile.status, places

    assert anyio.run(scenario) == (200, InboundStatus.RECEIVED, 1)
    [document] = inbound_documents(store)
    assert document.status is InboundStatus.VALID
    assert validations[0] == 1  # by the work after the receipt only
    assert app.state.as4_after_receipt_backlog.taken == (0, 0)
    assert not app.state.services.receiver._finisher.held(document.id)


def test_concurrent_deliveries_of_one_message_create_one_document(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    settings = settings_for(artefacts_dir, tmp_path, max_concurrent_requests=4)
    app = make_app(settings, store, validation_engine)
    msg = make_message()
    barrier = threading.Barrier(4)

    def deliver(url: str) -> httpx.Response:
        with httpx.Client(timeout=120) as http:
            barrier.wait()
            return http.post(url, content=msg.body, headers=dict(msg.headers))

    with serve(app) as url, ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(deliver, [url] * 4))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1  # everyone got the one stored receipt
    assert verify_receipt(dict(responses[0].headers), responses[0].content, msg).is_success
    [document] = inbound_documents(store)
    assert document.as4_message_id == msg.message_id


# --- edge limits (issue 13) -----------------------------------------------------------------------------


def test_a_declared_length_above_the_limit_is_refused_before_reading(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    app = make_app(settings_for(artefacts_dir, tmp_path, max_message_bytes=4096), store, validation_engine)
    headers = [("content-type", SOAP), ("content-length", str(120 * 1024 * 1024))]
    result = anyio.run(lambda: call(app, "POST", "/as4", headers, chunk=b"x" * 1024 * 1024, chunks=120))
    assert result.status == 200
    assert result.pulled == 0
    _, errors = error_of(result.body)
    assert [c for c, _ in errors] == ["EBMS:0009"]


def test_an_undeclared_oversized_body_keeps_only_a_prefix(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    app = make_app(settings_for(artefacts_dir, tmp_path, max_message_bytes=4096), store, validation_engine)
    headers = [("content-type", SOAP)]
    result = anyio.run(lambda: call(app, "POST", "/as4", headers, chunk=b"x" * 3000, chunks=50))
    assert result.status == 200
    assert result.pulled == 2  # stopped just past the limit
    assert _rejected_bodies(store) == [b"x" * DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES]


def _one_slot(artefacts_dir: Path, tmp_path: Path, wait: float) -> Settings:
    settings = settings_for(artefacts_dir, tmp_path, max_concurrent_requests=1)
    return settings.model_copy(
        update={"server": settings.server.model_copy(update={"body_slot_wait_seconds": wait})}
    )


def test_as4_bodies_held_at_once_are_capped(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    app = make_app(_one_slot(artefacts_dir, tmp_path, 0.3), store, validation_engine)
    headers = [("content-type", SOAP)]

    async def scenario() -> tuple[int, str]:
        done = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: call(app, "POST", "/as4", headers, chunk=b"<x", chunks=1, stall=done))
            await anyio.sleep(0.2)
            busy = await call(app, "POST", "/as4", headers, chunk=b"<x/>", chunks=1)
            done.set()
        return busy.status, busy.headers.get("retry-after", "")

    assert anyio.run(scenario) == (503, "5")


def test_a_burst_beyond_the_as4_slots_waits_for_a_slot_instead_of_failing(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    # A sending AP posts several messages at once: they queue for the slot, not 503 and retry.
    app = make_app(_one_slot(artefacts_dir, tmp_path, 5.0), store, validation_engine)
    msg = make_message()
    headers = list(msg.headers.items())

    async def scenario() -> tuple[int, bytes]:
        done = anyio.Event()
        async with anyio.create_task_group() as tg:
            stalled = [("content-type", SOAP)]
            tg.start_soon(lambda: call(app, "POST", "/as4", stalled, chunk=b"<x", chunks=1, stall=done))
            await anyio.sleep(0.2)  # the stalled request holds the only slot
            tg.start_soon(await_release, done)
            waited = await call(app, "POST", "/as4", headers, chunk=msg.body, chunks=1)
        return waited.status, waited.body

    async def await_release(done: anyio.Event) -> None:
        await anyio.sleep(0.5)
        done.set()

    status, body = anyio.run(scenario)
    assert status == 200
    assert b"Receipt" in body  # served once the slot freed, not 503


def test_without_a_wait_for_a_slot_a_free_as4_slot_is_taken_at_once(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    # GATEWAY_SERVER__BODY_SLOT_WAIT_SECONDS=0 (allowed) means "do not queue": a request finding a slot free
    # is served. The wait's deadline used to pass before the free slot was taken: every message got 503.
    app = make_app(_one_slot(artefacts_dir, tmp_path, 0.0), store, validation_engine)
    msg = make_message()
    result = anyio.run(lambda: call(app, "POST", "/as4", list(msg.headers.items()), chunk=msg.body, chunks=1))
    assert result.status == 200
    assert b"Receipt" in result.body
    assert len(inbound_documents(store)) == 1


def test_credential_headers_sent_to_as4_are_not_stored(client: TestClient, store: FlakyStore) -> None:
    msg = make_message()
    secret = {"Authorization": "Bearer leaked-key-0123456789", "X-API-Key": "leaked", "Cookie": "s=1"}
    accepted = client.post("/as4", content=msg.body, headers={**dict(msg.headers), **secret})
    assert verify_receipt(dict(accepted.headers), accepted.content, msg).is_success
    client.post("/as4", content=b"junk", headers={"Content-Type": SOAP, **secret})
    with store.inner.engine.connect() as connection:
        stored = connection.execute(select(as4_messages.c.request_headers)).scalars().all()
    assert len(stored) == 2
    assert "leaked" not in repr(stored)


def test_expired_rejected_evidence_is_purged_by_the_server(app: FastAPI, store: FlakyStore) -> None:
    old = AS4MessageRecord(
        message_id=f"{REJECTED_KEY_PREFIX}old",
        direction=Direction.IN,
        request=RawHTTPMessage((), b"junk"),
        created_at=NOW - timedelta(days=31),  # retention: 30 days by default
    )
    young = replace(old, message_id=f"{REJECTED_KEY_PREFIX}young", created_at=NOW - timedelta(days=1))
    with store.inner.unit_of_work() as uow:
        uow.messages.add(old)
        uow.messages.add(young)
        uow.commit()
    with TestClient(app):  # the purge runs at start-up, then on a timer
        for _ in range(200):
            if len(_rejected_bodies(store)) == 1:
                break
            threading.Event().wait(0.01)
    with store.inner.unit_of_work(read_only=True) as uow:
        assert uow.messages.get(old.message_id, Direction.IN) is None
        assert uow.messages.get(young.message_id, Direction.IN) is not None


def test_an_accepted_message_is_recorded_once_for_peppol_reporting(
    client: TestClient, store: FlakyStore
) -> None:
    msg = make_message()
    for _ in range(2):  # the duplicate MessageId is answered, not counted again
        assert client.post("/as4", content=msg.body, headers=dict(msg.headers)).status_code == 200
    with store.inner.unit_of_work(read_only=True) as uow:
        (counted,) = uow.reporting.transmissions(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert counted.message_id == msg.message_id
    assert counted.direction.value == "incoming"
    assert counted.other_seat == "POP000001"  # the sender's Seat ID (its certificate CN)
    assert counted.at == NOW  # the AS4 Timestamp
    assert (counted.c1_country, counted.c4_country) == ("BE", "BE")
    assert counted.end_user == RECEIVER.key  # our client, C4
