"""Business-level answers between two gateways over real AS4 HTTP on loopback, on SQLite and PostgreSQL.

Gateway A (seat POP000001) is the supplier's access point: it sends an invoice and asks for an MLS
(SBDH MLS_TO = 0242:000001, ALWAYS_SEND). Gateway B (POP000002) is the cooperative's: it receives and
validates the invoice, answers the MLS, and later sends an Invoice Response (T111) through the same outbound
queue. A turns ``delivered`` into ``confirmed`` on the MLS and shows the buyer's rejection from the T111.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from as4_support import INVOICE, SENDER, SHARED, dev_pki
from delivery_support import SELLER, SettableClock, UUIDs, queue_document
from sqlalchemy import select

from gateway.crypto import KeyMaterial
from gateway.errors import LaterResponseQueued
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, INVOICE_RESPONSE, ParticipantID
from gateway.model.identifiers import INVOICE_RESPONSE_PROCESS
from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind, InboundDocument, InboundStatus
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, ResponseCode
from gateway.services.deliver import Deliverer, DeliveryResult, DeliverySettings
from gateway.services.inbound_webhooks import InvalidDocumentWebhooks
from gateway.services.message_status import MessageStatusService
from gateway.services.outbound import OutboundSubmitter
from gateway.services.ports import HTTPResponse, InboundQuery, OutboundQuery
from gateway.services.ports.responses import InvoiceResponseRequest
from gateway.services.receive import AS4Receiver
from gateway.services.responses import (
    DEFAULT_STATUSES,
    PeppolInvoiceResponder,
    QueuedResponse,
    endpoint_capability,
    queue_response,
)
from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.store.tables import webhook_outbox
from gateway.transport.directory import load_directory
from gateway.transport.http import HTTPAS4Transport
from gateway.validation import ValidationEngine
from gateway.worker import BackoffPolicy
from gateway.worker.loop import DeliveryWorker
from tests.contract.store_databases import BACKENDS, migrated_postgres_database

WEBHOOK = "https://erp.example.be/hooks/peppol"
#: A valid invoice (the official BIS base example) and its seller (BT-34) and number (BT-1).
VALID_INVOICE = SHARED / "artefacts" / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml"
SUPPLIER = ParticipantID.parse("0088:9482348239847239874")
NUMBER = "Snippet1"
COOP = ParticipantID.parse("0208:0739484052")  # the cooperative, served by B (a valid KBO number)
SPID_A = ParticipantID.parse("0242:000001")
SPID_B = ParticipantID.parse("0242:000002")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        result = self.server.receiver.receive(tuple(self.headers.items()), body)
        self.send_response(200)
        self.send_header("Content-Type", result.content_type)
        self.send_header("Content-Length", str(len(result.signal)))
        self.end_headers()
        self.wfile.write(result.signal)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    receiver: AS4Receiver


@dataclass
class Gateway:
    """One access point: store, receive endpoint, MLS service, delivery and the Invoice Responder."""

    store: SQLDocumentStore
    key: KeyMaterial
    spid: ParticipantID
    served: frozenset[ParticipantID]
    clock: SettableClock
    validation: ValidationEngine
    url: str = ""
    directory_path: Path | None = None

    def status_service(self) -> MessageStatusService:
        assert self.directory_path is not None
        return MessageStatusService(
            store=self.store,
            validation=self.validation,
            can_receive=endpoint_capability(load_directory(self.directory_path)),
            clock=self.clock,
            ids=UUIDs(),
            our_spid=self.spid,
            seller_id=SELLER,
            webhook_url=WEBHOOK,
        )

    def receiver(self) -> AS4Receiver:
        status = self.status_service()
        return AS4Receiver(
            store=self.store,
            validator=self.validation,
            identity=self.key,
            trust=dev_pki().trust,
            served=self.served,
            spid=self.spid,  # MLS only, as the composition root wires it
            clock=self.clock,
            ids=UUIDs(),
            rule_set=lambda: "peppol-bis-billing-3.0.21",
            message_id_domain="gw.test",
            on_received=status.on_received,
            mls=status,
            on_invalid=InvalidDocumentWebhooks(UUIDs()),
        )

    def responder(self, statuses: Collection[ResponseCode] = DEFAULT_STATUSES) -> PeppolInvoiceResponder:
        assert self.directory_path is not None
        return PeppolInvoiceResponder(
            validation=self.validation,
            can_receive=endpoint_capability(load_directory(self.directory_path)),
            ids=UUIDs(),
            statuses=statuses,
            webhook_url=WEBHOOK,
        )

    def deliver_all(self, before_answer: Callable[[], object] | None = None) -> list[DeliveryResult]:
        """Run one delivery batch; ``before_answer`` runs after each POST was answered and before the
        answer is judged and recorded (the peer's answers can overtake our receipt)."""
        assert self.directory_path is not None
        directory = load_directory(self.directory_path)

        async def go() -> list[DeliveryResult]:
            async with HTTPAS4Transport(connect_timeout=2.0, send_timeout=10.0) as http:
                transport = _Overtaken(http, before_answer) if before_answer is not None else http
                deliverer = Deliverer(
                    store=self.store,
                    resolver=directory,
                    transport=transport,
                    identity=self.key,
                    trust=dev_pki().trust,
                    clock=self.clock,
                    ids=UUIDs(),
                    retry=BackoffPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=5), max_attempts=3),
                    jitter=lambda: 0.5,
                    settings=DeliverySettings(
                        message_id_domain="gw.test",
                        lease_for=timedelta(minutes=5),
                        webhook_url=WEBHOOK,
                        mls_to=self.spid,
                        mls_type="ALWAYS_SEND",
                    ),
                    on_receipt=self.status_service().answers.after_receipt,
                )
                worker = DeliveryWorker(
                    deliverer, store=self.store, clock=self.clock, ids=UUIDs(), lease_for=timedelta(minutes=5)
                )
                results = await worker.run_batch()
                return [r for r in results if isinstance(r, DeliveryResult)]

        return asyncio.run(go())

    def outbound(self, kind: DocumentKind) -> list[Any]:
        with self.store.unit_of_work(read_only=True) as uow:
            page = uow.outbound.search(OutboundQuery(limit=50))
        return [d for d in page.items if d.kind is kind]

    def received(self) -> list[InboundDocument]:
        """The documents this access point received."""
        with self.store.unit_of_work(read_only=True) as uow:
            return list(uow.inbound.search(InboundQuery(limit=10)).items)


class _Overtaken:
    """An AS4 transport whose answers reach the deliverer only after ``before_answer`` has run."""

    def __init__(self, transport: HTTPAS4Transport, before_answer: Callable[[], object]) -> None:
        self._transport = transport
        self._before_answer = before_answer

    async def post(self, url: str, *, headers: Mapping[str, str], body: bytes) -> HTTPResponse:
        response = await self._transport.post(url, headers=headers, body=body)
        await anyio.to_thread.run_sync(self._before_answer)
        return response


@contextmanager
def _serve() -> Iterator[_Server]:
    """A loopback HTTP server; its ``receiver`` is set once the directory it routes MLS with is written."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/as4"


def _entry(doc_types: list[str], process: str, url: str, seat: str) -> dict[str, Any]:
    pem = dev_pki().pki.aps[seat].cert_pem.decode("ascii")
    return {"document_types": doc_types, "process": process, "url": url, "certificate": pem}


@contextmanager
def _database(backend: str, tmp_path: Path, name: str) -> Iterator[Any]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        upgrade_database(url)
        yield url
    else:
        with migrated_postgres_database() as url:
            yield url


@pytest.fixture(params=BACKENDS)
def gateways(
    request: pytest.FixtureRequest, tmp_path: Path, validation_engine: ValidationEngine
) -> Iterator[tuple[Gateway, Gateway]]:
    backend = str(request.param)
    clock = SettableClock()
    with ExitStack() as stack:
        stores = []
        for name in ("a", "b"):
            url = stack.enter_context(_database(backend, tmp_path, name))
            store = SQLDocumentStore(make_engine(url))
            stack.callback(store.close)
            stores.append(store)
        a = Gateway(stores[0], dev_pki().sender, SPID_A, frozenset({SUPPLIER}), clock, validation_engine)
        b = Gateway(stores[1], dev_pki().receiver, SPID_B, frozenset({COOP}), clock, validation_engine)
        directory = tmp_path / "directory.json"
        a.directory_path = b.directory_path = directory
        server_a, server_b = stack.enter_context(_serve()), stack.enter_context(_serve())
        a.url, b.url = _url(server_a), _url(server_b)
        directory.write_text(
            json.dumps(
                {
                    str(COOP): [_entry([BIS_INVOICE.uri], BIS_BILLING_PROCESS.uri, b.url, "POP000002")],
                    str(SUPPLIER): [
                        _entry([INVOICE_RESPONSE.uri], INVOICE_RESPONSE_PROCESS.uri, a.url, "POP000001")
                    ],
                    str(SPID_A): [_entry([MLS_DOCUMENT_TYPE.uri], MLS_PROCESS.uri, a.url, "POP000001")],
                    str(SPID_B): [_entry([MLS_DOCUMENT_TYPE.uri], MLS_PROCESS.uri, b.url, "POP000002")],
                }
            )
        )
        server_a.receiver, server_b.receiver = a.receiver(), b.receiver()
        yield a, b


def _timeline(gateway: Gateway, document_id: str) -> list[DeliveryEvent]:
    with gateway.store.unit_of_work(read_only=True) as uow:
        return [e.event for e in uow.outbound.timeline(document_id)]


def test_mls_and_invoice_response_round_trip(gateways: tuple[Gateway, Gateway]) -> None:
    a, b = gateways
    invoice_id = queue_document(
        a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes()
    )

    # A -> B: the invoice, with MLS_TO / MLS_TYPE; B answers a receipt, validates and queues an MLS AP.
    [sent] = a.deliver_all()
    assert sent.status is DeliveryStatus.DELIVERED
    [received] = b.received()
    assert received.status is InboundStatus.VALID
    [mls_out] = b.outbound(DocumentKind.MLS)
    assert (mls_out.receiver, mls_out.document_type) == (SPID_A, MLS_DOCUMENT_TYPE)

    # B -> A: the MLS. A confirms its invoice (final business-level outcome) and sends no MLS for an MLS.
    [mls_sent] = b.deliver_all()
    assert mls_sent.status is DeliveryStatus.DELIVERED
    confirmed = a.outbound(DocumentKind.INVOICE)[0]
    assert confirmed.id == invoice_id
    assert confirmed.status is DeliveryStatus.CONFIRMED
    assert "MLS AP" in (confirmed.status_reason or "")
    assert _timeline(a, invoice_id)[-1] is DeliveryEvent.MLS_ACCEPTED
    assert a.outbound(DocumentKind.MLS) == []

    # B's expense workflow rejects the invoice: a T111 RE is queued through the responder, sent, attached.
    with b.store.unit_of_work() as uow:
        request = InvoiceResponseRequest(
            received.id, "RE", b.clock.now(), reason_codes=("REF", "NIN"), note="Unknown production unit"
        )
        response_id = b.responder().respond(uow, request)
        uow.commit()
    assert response_id is not None
    [response_sent] = b.deliver_all()
    assert response_sent.status is DeliveryStatus.DELIVERED
    answered = a.outbound(DocumentKind.INVOICE)[0]
    assert answered.status is DeliveryStatus.CONFIRMED  # the status stays; the reason tells the answer
    assert answered.status_reason == "rejected by buyer (REF, NIN): Unknown production unit"
    assert _timeline(a, invoice_id)[-1] is DeliveryEvent.RESPONSE_RECEIVED
    with a.store.unit_of_work(read_only=True) as uow:
        entry = uow.outbound.timeline(invoice_id)[-1]
    assert entry.detail is not None
    assert (entry.detail["response_code"], entry.detail["reasons"]) == ("RE", ["REF"])

    # Every business-level change was announced by a webhook, in the unit of work of the change.
    with a.store.engine.connect() as connection:
        hooks = [row.payload["data"] for row in connection.execute(select(webhook_outbox.c.payload))]
    ours = [(h["event"], h["status"], h["reason"]) for h in hooks if h.get("document_id") == invoice_id]
    assert ours[-2][:2] == ("mls-accepted", "confirmed")
    assert ours[-1] == (
        "response-received",
        "confirmed",
        "rejected by buyer (REF, NIN): Unknown production unit",
    )

    # A validated the T111 and answers it with an MLS AP (B asked ALWAYS_SEND): B's response is confirmed.
    [mls_back] = a.outbound(DocumentKind.MLS)
    assert mls_back.receiver == SPID_B
    [mls_back_sent] = a.deliver_all()
    assert mls_back_sent.status is DeliveryStatus.DELIVERED
    [t111] = b.outbound(DocumentKind.INVOICE_RESPONSE)
    assert t111.status is DeliveryStatus.CONFIRMED


def test_statuses_not_configured_or_suppliers_without_t111_get_nothing(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = gateways
    queue_document(a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes())
    a.deliver_all()
    [received] = b.received()
    with b.store.unit_of_work() as uow:
        # An operator who leaves AB out of the statuses (GATEWAY_RESPONSES__INVOICE_RESPONSE_STATUSES).
        without_ab = b.responder(statuses=frozenset({"AP", "RE", "UQ", "PD"}))
        assert without_ab.respond(uow, InvoiceResponseRequest(received.id, "AB", b.clock.now())) is None
        uow.commit()
    assert b.outbound(DocumentKind.INVOICE_RESPONSE) == []
    # A supplier whose endpoint does not list T111 gets no response either.
    assert b.directory_path is not None
    listing = json.loads(b.directory_path.read_text())
    del listing[str(SUPPLIER)]
    b.directory_path.write_text(json.dumps(listing))
    with b.store.unit_of_work() as uow:
        assert b.responder().respond(uow, InvoiceResponseRequest(received.id, "AP", b.clock.now())) is None
        uow.commit()
    assert b.outbound(DocumentKind.INVOICE_RESPONSE) == []


def test_an_invalid_invoice_gets_an_mls_rejection_with_the_fired_rules(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = gateways
    # The interop kit's sample fires PEPPOL-COMMON-R040 (its GLNs) under BIS 3.0.21.
    invoice_id = queue_document(a.store, receiver=COOP, number="KIT-2024-0001", body=INVOICE.read_bytes())
    a.deliver_all()
    [mls_out] = b.outbound(DocumentKind.MLS)
    [mls_sent] = b.deliver_all()
    assert mls_sent.document_id == mls_out.id
    rejected = a.outbound(DocumentKind.INVOICE)[0]
    assert rejected.id == invoice_id
    assert rejected.status is DeliveryStatus.REJECTED
    assert "PEPPOL-COMMON-R040" in (rejected.status_reason or "")
    with a.store.unit_of_work(read_only=True) as uow:
        entry = uow.outbound.timeline(invoice_id)[-1]
    assert entry.event is DeliveryEvent.MLS_REJECTED
    assert entry.detail is not None
    assert {issue["reason"] for issue in entry.detail["issues"]} == {"BV"}
    # B's integrator heard of the invalid invoice, and that the MLS RE went back, in one event.
    with b.store.engine.connect() as connection:
        hooks = [row.payload for row in connection.execute(select(webhook_outbox.c.payload))]
    [invalid] = [h["data"] for h in hooks if h["type"] == "inbound.invalid"]
    assert invalid["document_number"] == "KIT-2024-0001"
    assert "PEPPOL-COMMON-R040" in invalid["reason"]
    assert invalid["mls"] == {"code": "RE", "outbound_document_id": mls_out.id, "sent": True, "refused": None}


def test_a_refused_response_is_never_sent_even_after_a_retry_request(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = gateways
    body = (
        b'<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"/>'
    )
    refused = QueuedResponse(
        kind=DocumentKind.INVOICE_RESPONSE,
        number="IR-refused",
        sender=COOP,
        receiver=SUPPLIER,
        document_type=INVOICE_RESPONSE,
        process=INVOICE_RESPONSE_PROCESS,
        body=body,
        report={"rule_set": "peppol-invoice-response-3-t111", "valid": False, "issues": []},
    )
    with b.store.unit_of_work() as uow:
        document_id = queue_response(
            uow, refused, ids=UUIDs(), at=b.clock.now(), webhook_url=None, refused="x"
        )
        uow.commit()
    submitter = OutboundSubmitter(
        store=b.store, validation=b.validation, clock=b.clock, ids=UUIDs(), seller_id=str(COOP)
    )
    assert submitter.request_retry(document_id, requested_by="support").status is DeliveryStatus.RETRYING
    [result] = b.deliver_all()
    assert (result.status, result.sent) == (DeliveryStatus.FAILED, False)
    assert result.reason is not None
    assert result.reason.startswith("invalid-document")
    assert a.received() == []


def test_an_invoice_response_goes_to_the_sender_not_to_the_seller_the_invoice_only_claims(
    gateways: tuple[Gateway, Gateway],
) -> None:
    # A sends the example (BT-34: SUPPLIER, registered for T111) for another participant (the SBDH sender,
    # registered for nothing): B answers the sender its access point vouched for, which cannot receive a
    # T111, so nothing goes to SUPPLIER, whom the invoice only claims to be.
    a, b = gateways
    queue_document(a.store, sender=SENDER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes())
    a.deliver_all()
    [received] = b.received()
    assert received.sender == SENDER
    with b.store.unit_of_work() as uow:
        request = InvoiceResponseRequest(received.id, "RE", b.clock.now(), note="Unknown production unit")
        assert b.responder().respond(uow, request) is None
        uow.commit()
    assert b.outbound(DocumentKind.INVOICE_RESPONSE) == []


def _point_supplier_at(gateway: Gateway, url: str | None) -> None:
    """Route the supplier's T111 to ``url`` (None: the supplier is no longer registered)."""
    assert gateway.directory_path is not None
    listing = json.loads(gateway.directory_path.read_text())
    if url is None:
        listing.pop(str(SUPPLIER), None)
    else:
        listing[str(SUPPLIER)] = [
            _entry([INVOICE_RESPONSE.uri], INVOICE_RESPONSE_PROCESS.uri, url, "POP000001")
        ]
    gateway.directory_path.write_text(json.dumps(listing))


def _dead_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/as4"


def _received_codes(gateway: Gateway) -> list[str]:
    """The response codes of the Invoice Responses ``gateway`` received, in the order they arrived."""
    with gateway.store.unit_of_work(read_only=True) as uow:
        found = uow.inbound.search(InboundQuery(limit=50)).items
        ordered = sorted(
            (d for d in found if d.document_type == INVOICE_RESPONSE), key=lambda d: d.received_at
        )
        bodies = [uow.inbound.get_content(d.id) for d in ordered]
    codes = [re.search(rb"ResponseCode[^>]*>(\w+)<", b.body) for b in bodies if b is not None]
    return [m.group(1).decode() for m in codes if m is not None]


def _respond(gateway: Gateway, inbound_id: str, code: str) -> str:
    with gateway.store.unit_of_work() as uow:
        document_id = gateway.responder().respond(
            uow, InvoiceResponseRequest(inbound_id, code, gateway.clock.now())
        )
        uow.commit()
    assert document_id is not None
    return document_id


def _status(gateway: Gateway, document_id: str) -> DeliveryStatus:
    with gateway.store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
    assert document is not None
    return document.status


def _due_at(gateway: Gateway, document_id: str) -> datetime:
    with gateway.store.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get(document_id)
    assert job is not None
    return job.due_at


def _invoice_received(a: Gateway, b: Gateway) -> str:
    """A sends the valid invoice to B, and B its MLS back; the id of the invoice B received."""
    queue_document(a.store, sender=SUPPLIER, receiver=COOP, number=NUMBER, body=VALID_INVOICE.read_bytes())
    a.deliver_all()
    b.deliver_all()  # the MLS
    [received] = b.received()
    return received.id


def test_a_later_response_is_not_sent_while_an_earlier_one_is_retrying(
    gateways: tuple[Gateway, Gateway],
) -> None:
    # bis-billing.md §9: one status per message, AB -> ... -> AP -> PD, no going back. The supplier's AP is
    # down when AB's first attempt runs; a member approves meanwhile: AP must not reach it before AB.
    a, b = gateways
    inbound_id = _invoice_received(a, b)
    _point_supplier_at(b, _dead_url())
    ab = _respond(b, inbound_id, "AB")
    [ab_first] = b.deliver_all()
    assert (ab_first.document_id, ab_first.status) == (ab, DeliveryStatus.RETRYING)
    _point_supplier_at(b, a.url)  # the supplier's access point is back
    b.clock.advance(seconds=1)
    ap = _respond(b, inbound_id, "AP")

    # AP is due, AB's retry is not: AP's job goes back to the queue, not counted as an attempt.
    [waited] = b.deliver_all()
    assert (waited.document_id, waited.deferred, waited.sent) == (ap, True, False)
    assert waited.reason == f"waiting-for-earlier-response: {ab}"
    assert _status(b, ap) is DeliveryStatus.ACCEPTED
    assert _received_codes(a) == []
    with b.store.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get(ap)
    assert job is not None
    assert (job.attempts, job.last_error) == (0, f"waiting-for-earlier-response: {ab}")
    assert job.due_at > _due_at(b, ab)  # just after AB's retry

    # AB's retry: AB goes; AP, leased with it, waits once more; then AP goes.
    b.clock.current = job.due_at + timedelta(seconds=1)
    results = {r.document_id: r for r in b.deliver_all()}
    assert results[ab].status is DeliveryStatus.DELIVERED
    assert results[ap].deferred
    b.clock.advance(seconds=5)
    [ap_sent] = b.deliver_all()
    assert (ap_sent.document_id, ap_sent.status) == (ap, DeliveryStatus.DELIVERED)
    assert _received_codes(a) == ["AB", "AP"]
    with b.store.unit_of_work(read_only=True) as uow:
        submitted = uow.outbound.timeline(ap)[0]
    assert submitted.detail == {"answers_inbound_document_id": inbound_id, "after_response_document_id": ab}


def test_a_later_response_goes_once_the_earlier_one_failed_for_good(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = gateways
    inbound_id = _invoice_received(a, b)
    ab = _respond(b, inbound_id, "AB")
    b.clock.advance(seconds=1)
    ap = _respond(b, inbound_id, "AP")
    _point_supplier_at(b, None)  # AB's attempt finds the supplier gone: failed for good
    results = {r.document_id: r for r in b.deliver_all()}
    assert results[ab].status is DeliveryStatus.FAILED
    assert results[ap].deferred
    assert _received_codes(a) == []

    _point_supplier_at(b, a.url)
    b.clock.advance(seconds=5)
    [ap_sent] = b.deliver_all()
    assert (ap_sent.document_id, ap_sent.status) == (ap, DeliveryStatus.DELIVERED)
    assert _received_codes(a) == ["AP"]
    with b.store.unit_of_work(read_only=True) as uow:
        started = [e for e in uow.outbound.timeline(ap) if e.event is DeliveryEvent.SEND_STARTED]
    assert started[0].detail is not None
    assert started[0].detail["earlier_response_failed"] == ab


def test_a_response_after_a_delivered_one_does_not_wait(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = gateways
    inbound_id = _invoice_received(a, b)
    ab = _respond(b, inbound_id, "AB")
    [ab_sent] = b.deliver_all()
    assert (ab_sent.document_id, ab_sent.status) == (ab, DeliveryStatus.DELIVERED)
    b.clock.advance(seconds=1)
    ap = _respond(b, inbound_id, "AP")  # AB is final: nothing to wait for
    with b.store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.timeline(ap)[0].detail == {"answers_inbound_document_id": inbound_id}
    [ap_sent] = b.deliver_all()
    assert (ap_sent.document_id, ap_sent.status) == (ap, DeliveryStatus.DELIVERED)
    assert _received_codes(a) == ["AB", "AP"]


def test_an_earlier_response_retried_by_hand_after_the_later_one_went_is_not_sent_after_it(
    gateways: tuple[Gateway, Gateway],
) -> None:
    # AB failed for good, AP went after it (earlier_response_failed); support then retries
    # AB. bis-billing.md §9: no going back; the supplier must not receive AB after AP.
    a, b = gateways
    inbound_id = _invoice_received(a, b)
    ab = _respond(b, inbound_id, "AB")
    b.clock.advance(seconds=1)
    ap = _respond(b, inbound_id, "AP")
    _point_supplier_at(b, None)
    b.deliver_all()
    assert _status(b, ab) is DeliveryStatus.FAILED
    _point_supplier_at(b, a.url)
    b.clock.advance(seconds=5)
    b.deliver_all()
    assert _status(b, ap) is DeliveryStatus.DELIVERED
    submitter = OutboundSubmitter(
        store=b.store, validation=b.validation, clock=b.clock, ids=UUIDs(), seller_id=str(COOP)
    )
    with pytest.raises(LaterResponseQueued) as refused:
        submitter.request_retry(ab, requested_by="support")
    assert refused.value.later_id == ap
    assert _status(b, ab) is DeliveryStatus.FAILED
    b.clock.advance(seconds=5)
    b.deliver_all()
    assert _received_codes(a) == ["AP"]


def test_a_waiting_response_goes_soon_after_the_earlier_one_retried_by_hand_is_delivered(
    gateways: tuple[Gateway, Gateway],
) -> None:
    # AB retrying (next attempt far off), AP waits behind it; support asks AB's retry now and
    # AB is delivered: AP should not keep waiting for AB's old next-attempt time.
    a, b = gateways
    inbound_id = _invoice_received(a, b)
    _point_supplier_at(b, _dead_url())
    ab = _respond(b, inbound_id, "AB")
    b.deliver_all()
    assert _status(b, ab) is DeliveryStatus.RETRYING
    b.clock.advance(seconds=1)
    ap = _respond(b, inbound_id, "AP")
    [waited] = b.deliver_all()
    assert waited.deferred
    _point_supplier_at(b, a.url)
    submitter = OutboundSubmitter(
        store=b.store, validation=b.validation, clock=b.clock, ids=UUIDs(), seller_id=str(COOP)
    )
    submitter.request_retry(ab, requested_by="support")
    b.deliver_all()
    assert _status(b, ab) is DeliveryStatus.DELIVERED
    b.clock.advance(seconds=10)
    b.deliver_all()
    assert _status(b, ap) is DeliveryStatus.DELIVERED, f"AP due in {_due_at(b, ap) - b.clock.now()}"
