"""An Invoice Response (T111) the expense workflow asks for travels through our outbound queue to the kit's
independent AS4 receiver (``peer-server``, the PyPI ``as4`` library), which accepts it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from interop_kit import Interop
from lxml import etree
from test_worker_to_peer import _deliver_due, _start_peer_server

from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, INVOICE_RESPONSE, ParticipantID
from gateway.model.identifiers import INVOICE_RESPONSE_PROCESS
from gateway.model.message import DeliveryStatus, DocumentContent, InboundDocument, InboundStatus
from gateway.services.ports.responses import InvoiceResponseRequest
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.transport import load_directory
from gateway.validation import ValidationEngine
from gateway.worker import build_delivery_worker
from gateway.xmlcore import NS

pytestmark = pytest.mark.interop

COOP = ParticipantID.parse("0208:0739484052")
SUPPLIER = "0088:9482348239847239874"  # BT-34 of the official BIS base example


def test_a_t111_is_accepted_by_the_as4_peer(
    interop: Interop, tmp_path: Path, artefacts_dir: Path, validation_engine: ValidationEngine
) -> None:
    invoice = artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml"
    peer_out = tmp_path / "peer"
    proc, port = _start_peer_server(peer_out, tmp_path / "port.txt")
    try:
        directory = tmp_path / "directory.json"
        entry = {
            "document_types": [INVOICE_RESPONSE.uri],
            "process": INVOICE_RESPONSE_PROCESS.uri,
            "url": f"http://127.0.0.1:{port}/as4",
            "certificate_file": str(interop.pki / "ap2.cert.pem"),
        }
        directory.write_text(json.dumps({SUPPLIER: [entry]}))
        db = f"sqlite:///{tmp_path / 'gateway.db'}"
        upgrade_database(db)
        settings = Settings.model_validate(
            {
                "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path / "cache"},
                "database": {"url": db},
                "directory": {"path": directory},
                # The peer listens on loopback over plain http: not in the production stage (the default).
                "truststore": {"stage": "development"},
            }
        )
        services = Services(
            settings=settings,
            validation=validation_engine,
            store=SQLDocumentStore.from_url(db),
            identity=interop.key("ap1"),
            trust=interop.trust,
            directory=load_directory(directory),
        )
        now = datetime.now(UTC)
        received = InboundDocument(
            id=str(uuid.uuid4()),
            as4_message_id=f"{uuid.uuid4()}@supplier.example",
            sender=ParticipantID.parse(SUPPLIER),
            receiver=COOP,
            document_type=BIS_INVOICE,
            process=BIS_BILLING_PROCESS,
            status=InboundStatus.VALID,
            received_at=now,
            updated_at=now,
            sbdh_instance_id=str(uuid.uuid4()),
        )
        with services.store.unit_of_work() as uow:
            uow.inbound.add(received, DocumentContent(invoice.read_bytes(), None))
            request = InvoiceResponseRequest(
                received.id, "RE", now, ("PRI", "CNF"), "Unit price differs from PO"
            )
            response_id = services.invoice_responder.respond(uow, request)
            uow.commit()
        assert response_id is not None
        asyncio.run(_deliver_due(build_delivery_worker(services), services))
        with services.store.unit_of_work(read_only=True) as uow:
            sent = uow.outbound.get(response_id)
        services.close()
        peer_stdout, peer_stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, (peer_stdout, peer_stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert sent is not None
    assert sent.status is DeliveryStatus.DELIVERED, sent
    verdict = json.loads((peer_out / "req-1" / "verdict.json").read_text())
    assert verdict["accepted"] is True, verdict
    assert verdict["final_recipient"].lower().endswith(SUPPLIER)
    sbd = etree.fromstring((peer_out / "req-1" / "payload.xml").read_bytes())
    response = sbd.find(f"{{{NS['ar']}}}ApplicationResponse")
    assert response is not None
    assert (
        response.findtext(f"{{{NS['cbc']}}}CustomizationID")
        == "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
    )
    code = response.find(
        f".//{{{NS['cac']}}}DocumentResponse/{{{NS['cac']}}}Response/{{{NS['cbc']}}}ResponseCode"
    )
    assert code is not None
    assert code.text == "RE"
