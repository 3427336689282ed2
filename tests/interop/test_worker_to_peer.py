"""The delivery worker against an independent receiver: the kit's ``peer-server`` (the PyPI ``as4`` library).

Our gateway signs with the kit's ap1 key (CN POP000001), looks the buyer up in a local participant directory
that points at the peer on loopback with the kit's ap2 certificate, sends over real HTTP, and verifies the
peer's signed receipt strictly. The peer independently verifies our signature, trust chain, CN == From,
decrypts, checks the SBDH, and records its verdict.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from interop_kit import KIT, Interop
from lxml import etree

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, complete_document
from gateway.services.conversion import parse_document_json
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.transport import load_directory
from gateway.validation import ValidationEngine
from gateway.worker import DeliveryWorker, build_delivery_worker
from gateway.xmlcore import NS

pytestmark = pytest.mark.interop

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "documents" / "be-domestic-mixed-rates.json"
API_KEY = "interop-sender-key-0123456789"


def _start_peer_server(out: Path, ready: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [str(KIT / "peer-server"), "--port", "0", "--ready-file", str(ready), "--max-requests", "1",
         "--timeout", "120", "--out", str(out)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not ready.exists() or not ready.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"peer-server did not start: {proc.communicate(timeout=10)}")
        time.sleep(0.1)
    return proc, int(ready.read_text().strip())


async def _deliver_due(worker: DeliveryWorker, services: Services) -> None:
    try:
        await worker.run(once=True)
    finally:
        await services.aclose()


def test_the_worker_delivers_to_the_as4_peer_and_keeps_its_receipt(
    interop: Interop, tmp_path: Path, artefacts_dir: Path, validation_engine: ValidationEngine
) -> None:
    peer_out = tmp_path / "peer"
    proc, port = _start_peer_server(peer_out, tmp_path / "port.txt")
    try:
        document = complete_document(parse_document_json(SAMPLE.read_bytes()))
        assert document.buyer.endpoint is not None
        buyer = f"{document.buyer.endpoint.scheme}:{document.buyer.endpoint.value}"
        directory = tmp_path / "directory.json"
        entry = {
            "document_types": [BIS_INVOICE.uri],
            "process": BIS_BILLING_PROCESS.uri,
            "url": f"http://127.0.0.1:{port}/as4",
            "certificate_file": str(interop.pki / "ap2.cert.pem"),
        }
        directory.write_text(json.dumps({buyer: [entry]}))
        db = f"sqlite:///{tmp_path / 'gateway.db'}"
        upgrade_database(db)
        settings = Settings.model_validate(
            {
                "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path / "cache"},
                "api": {"keys": [{"name": "erp", "role": "sender", "key": API_KEY}]},
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
        app = create_app(settings, services=services, warm=False)
        with TestClient(app, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            json_body = {"Content-Type": "application/json"}
            posted = client.post("/v1/outbound/invoices", content=SAMPLE.read_bytes(), headers=json_body)
            assert posted.status_code == 202, posted.text
            document_id = posted.json()["id"]
            asyncio.run(_deliver_due(build_delivery_worker(services), services))
            state = client.get(f"/v1/outbound/{document_id}").json()
            evidence = client.get(f"/v1/outbound/{document_id}/evidence").json()
            ubl = client.get(f"/v1/outbound/{document_id}/ubl").content
        services.close()
        peer_stdout, peer_stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, (peer_stdout, peer_stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert state["status"] == "delivered", state
    verdict = json.loads((peer_out / "req-1" / "verdict.json").read_text())
    assert verdict["accepted"] is True, verdict
    assert verdict["message_id"] == state["as4_message_id"]
    assert verdict["original_sender"].endswith("0208:0739484052")
    assert verdict["final_recipient"].lower().endswith(buyer.lower())
    # The peer decrypted exactly the invoice we stored: the SBD's business document is our UBL.
    sbd = etree.fromstring((peer_out / "req-1" / "payload.xml").read_bytes())
    sent = sbd.find(f"{{{NS['inv']}}}Invoice")
    assert sent is not None
    assert etree.tostring(sent, method="c14n") == etree.tostring(etree.fromstring(ubl), method="c14n")
    # What the peer received is byte-for-byte what we keep as evidence (the evidence lists its SHA-256).
    received_body = (peer_out / "req-1" / "body.bin").read_bytes()
    assert hashlib.sha256(received_body).hexdigest() in json.dumps(evidence)
