"""Delivery test material: a correct AS4 receiver built on the AS4 core (sans-IO) with scripted faults, a
threaded loopback HTTP server around it, a settable clock, and builders for queued outbound documents."""

from __future__ import annotations

import dataclasses
import json
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from as4_support import INVOICE, NOW, RECEIVER, SENDER, dev_pki

from gateway.as4 import EbmsError, build_error, build_receipt, parse_incoming
from gateway.as4.messages import IncomingUserMessage
from gateway.crypto import KeyMaterial, TrustStore
from gateway.errors import InboundMessageRejected
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import DeliveryStatus, DocumentContent, DocumentKind, OutboundDocument
from gateway.services.ports import DocumentStore

SOAP_CT = "application/soap+xml;charset=UTF-8"
SELLER = "0208:0739484052"


class SettableClock:
    """A clock tests move by hand (aware UTC)."""

    def __init__(self, start: datetime = NOW) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def webhook_statuses(store: DocumentStore, clock: SettableClock) -> list[str]:
    """The ``status`` of every webhook event waiting in the outbox (leased and rolled back: left as is)."""
    with store.unit_of_work() as uow:
        leases = uow.outbox.lease(
            now=clock.now() + timedelta(days=1), limit=50, lease_for=timedelta(minutes=1), token="t"
        )
        uow.rollback()
    return [str(lease.message.payload["data"]["status"]) for lease in leases]


class UUIDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


# --- the receiving access point --------------------------------------------------------------------------


@dataclass
class Request:
    """One request as the receiver got it."""

    headers: dict[str, str]
    body: bytes
    message_id: str | None = None
    incoming: IncomingUserMessage | None = None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


RESET = Answer(0, {}, b"")  # close the connection with RST, no answer


@dataclass
class ReceiverAP:
    """C3: parses with ``parse_incoming``, answers signed receipts/errors; ``script`` injects faults.

    Script steps (one per request, then ``ok``): ``ok``; ``sleep:<s>`` (answer late); ``hold`` (wait for
    ``release``, then answer); ``500`` (HTML error page); ``reset`` (RST, no answer); ``error:<EBMS:code>``
    (signed ebMS error); ``wrong-signer`` (receipt signed by another trusted AP); ``tampered-nri`` (signed
    receipt whose NRI differs from what was sent); ``lost`` (accept, then RST: the receipt is lost). For
    the faulty receipts the receiver still keeps a correct one as "the original" for duplicates.
    A MessageId seen before is answered per ``duplicates``:
    ``receipt`` (the original receipt again, Holodeck) or ``error`` (signed EBMS:4001, phase4 >= 4.5).
    """

    key: KeyMaterial
    trust: TrustStore
    served: frozenset[ParticipantID] | None = None
    duplicates: str = "receipt"
    clock: Callable[[], datetime] = lambda: NOW
    script: deque[str] = field(default_factory=deque)
    default_step: str = "ok"
    requests: list[Request] = field(default_factory=list)
    receipts: dict[str, bytes] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)  # message ids handed to the back end, in order
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> Answer:
        with self.lock:
            step = self.script.popleft() if self.script else self.default_step
            request = Request(headers, body)
            self.requests.append(request)
        self.arrived.set()
        if step == "reset":
            return RESET
        if step == "500":
            return Answer(
                500, {"Content-Type": "text/html"}, b"<html><body>Internal Server Error</body></html>"
            )
        if step.startswith("sleep:"):
            time.sleep(float(step.split(":", 1)[1]))
        if step == "hold":
            self.release.wait(60)
        now = self.clock()
        try:
            incoming = parse_incoming(
                headers, body, our_key=self.key, trust=self.trust, at=now, served=self.served
            )
        except InboundMessageRejected as exc:
            return self._error(exc.ref_to_message_id, exc.ebms, exc.error_detail)
        request.message_id = incoming.message_id
        request.incoming = incoming
        if step.startswith("error:"):
            code = EbmsError.from_code(step.split(":", 1)[1])
            assert code is not None
            return self._error(incoming.message_id, code, "")
        with self.lock:
            original = self.receipts.get(incoming.message_id)
            if original is None:
                self.delivered.append(incoming.message_id)
        if original is not None:
            if self.duplicates == "error":
                return self._error(incoming.message_id, EbmsError.DUPLICATE_DETECTED, "duplicate MessageId")
            return Answer(200, {"Content-Type": SOAP_CT}, original)
        receipt = self._receipt(incoming, "ok")
        with self.lock:
            self.receipts[incoming.message_id] = receipt
        if step == "lost":
            return RESET
        if step in ("wrong-signer", "tampered-nri"):
            return Answer(200, {"Content-Type": SOAP_CT}, self._receipt(incoming, step))
        return Answer(200, {"Content-Type": SOAP_CT}, receipt)

    def _receipt(self, incoming: IncomingUserMessage, step: str) -> bytes:
        key = self.key
        if step == "wrong-signer":
            key = dev_pki().sender  # trusted AP, but not the certificate the message was encrypted to
        elif step == "tampered-nri":
            first = incoming.received_references[0]
            tampered = first.replace(b"<ds:DigestValue>", b"<ds:DigestValue>AAAA", 1)
            assert tampered != first
            incoming = dataclasses.replace(
                incoming, received_references=(tampered, *incoming.received_references[1:])
            )
        return build_receipt(
            incoming, key=key, message_id=f"{uuid.uuid4()}@receiver.test", timestamp=self.clock()
        )

    def _error(self, ref_to: str | None, error: EbmsError, detail: str) -> Answer:
        body = build_error(
            ref_to,
            error,
            key=self.key,
            message_id=f"{uuid.uuid4()}@receiver.test",
            timestamp=self.clock(),
            detail=detail,
        )
        return Answer(200, {"Content-Type": SOAP_CT}, body)

    def bodies_for(self, message_id: str) -> list[bytes]:
        """Every body received carrying ``message_id`` (readable ones) - retries must be byte-identical."""
        return [r.body for r in self.requests if r.message_id == message_id]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        answer = self.server.receiver.handle(dict(self.headers.items()), body)
        if answer is RESET:
            # SO_LINGER 0: close() sends RST instead of FIN - a connection reset mid-exchange.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:  # the client gave up (timeout) or died (kill -9): nothing to answer to
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    receiver: ReceiverAP


@contextmanager
def serve(receiver: ReceiverAP) -> Iterator[str]:
    """Run ``receiver`` on 127.0.0.1 (random port) in a thread; yields its /as4 URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/as4"
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


def receiver_ap(**kw: Any) -> ReceiverAP:
    """POP000002 trusting the dev PKI, serving RECEIVER."""
    p = dev_pki()
    values: dict[str, Any] = {"key": p.receiver, "trust": p.trust, "served": frozenset({RECEIVER})}
    values.update(kw)
    return ReceiverAP(**values)


# --- directory and documents -----------------------------------------------------------------------------


def directory_json(
    url: str, *, certificate_pem: bytes | None = None, participant: ParticipantID = RECEIVER
) -> dict[str, Any]:
    pem = certificate_pem if certificate_pem is not None else dev_pki().pki.aps["POP000002"].cert_pem
    return {
        str(participant): [
            {
                "document_types": [BIS_INVOICE.uri],
                "process": BIS_BILLING_PROCESS.uri,
                "url": url,
                "certificate": pem.decode("ascii"),
            }
        ]
    }


def write_directory(path: Path, url: str, **kw: Any) -> Path:
    path.write_text(json.dumps(directory_json(url, **kw), indent=2))
    return path


def queue_document(
    store: DocumentStore,
    *,
    at: datetime = NOW,
    receiver: ParticipantID = RECEIVER,
    number: str | None = None,
    body: bytes | None = None,
    sender: ParticipantID = SENDER,
    buyer_country: str | None = None,
) -> str:
    """Store an accepted outbound invoice and queue its delivery job due ``at``; returns its id (``sender``:
    the SBDH sender, which the BIS envelope rule wants equal to the document's BT-34; ``buyer_country``:
    stored as the API stores it, else none, as on rows from before 0012)."""
    document = OutboundDocument(
        id=str(uuid.uuid4()),
        kind=DocumentKind.INVOICE,
        seller_id=SELLER,
        document_number=number or f"INV-{uuid.uuid4().hex[:10]}",
        sender=sender,
        receiver=receiver,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=DeliveryStatus.ACCEPTED,
        created_at=at,
        updated_at=at,
    )
    with store.unit_of_work() as uow:
        uow.outbound.add(
            document,
            DocumentContent(
                body if body is not None else INVOICE.read_bytes(), {"valid": True}, buyer_country
            ),
        )
        uow.jobs.enqueue(document.id, due_at=at)
        uow.commit()
    return document.id
