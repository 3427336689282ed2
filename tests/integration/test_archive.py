"""``gateway archive export`` / ``verify`` round trip on a real SQLite store: the archive holds the UBL, the
AS4 message and its receipt, a fallback e-mail, an inbound document with the receipt we sent, the status
history, a manifest and a README; it verifies; one changed byte, a removed or an added file fails it; the
period bounds select the documents; and ``sha256sum -c`` alone checks it, without the gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from as4_support import INVOICE, NOW, RECEIVER, SENDER, dev_pki
from delivery_support import queue_document

from gateway.cli.main import main
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_INVOICE
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    DeliveryEvent,
    Direction,
    DocumentContent,
    InboundDocument,
    InboundStatus,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.archive import json_file, sha256_hex
from gateway.services.email_fallback import EMAIL_CONTENT_TYPE
from gateway.store import SQLDocumentStore, upgrade_database

RECEIPT = RawHTTPMessage((("Content-Type", "application/soap+xml"),), b"<Receipt>signed</Receipt>")


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SQLDocumentStore:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    monkeypatch.setenv("GATEWAY_DATABASE__URL", url)
    store = SQLDocumentStore.from_url(url)
    with_as4 = queue_document(store, at=NOW)
    with store.unit_of_work() as uow:
        uow.messages.add(
            AS4MessageRecord(
                "m1@gw.test",
                Direction.OUT,
                RawHTTPMessage(
                    (("Content-Type", "multipart/related"),), b"--b\r\nsigned and encrypted\r\n--b--"
                ),
                NOW,
                document_id=with_as4,
                sbdh_instance_id="i-1",
            )
        )
        uow.outbound.transition(with_as4, DeliveryEvent.SEND_STARTED, at=NOW, as4_message_id="m1@gw.test")
        uow.messages.record_signal("m1@gw.test", Direction.OUT, AS4Signal(SignalKind.RECEIPT, RECEIPT, NOW))
        uow.outbound.transition(with_as4, DeliveryEvent.RECEIPT_RECEIVED, at=NOW)
        uow.commit()
    emailed = queue_document(store, at=NOW + timedelta(hours=1))
    with store.unit_of_work() as uow:
        uow.messages.add(
            AS4MessageRecord(
                "e1@gw.test",
                Direction.OUT,
                RawHTTPMessage(
                    (("Content-Type", EMAIL_CONTENT_TYPE),), b"From: a@coop.test\r\n\r\nhello\r\n"
                ),
                NOW,
                document_id=emailed,
            )
        )
        uow.commit()
    inbound_id = str(uuid.uuid4())
    with store.unit_of_work() as uow:
        uow.inbound.add(
            InboundDocument(
                inbound_id,
                "in1@them.test",
                RECEIVER,
                SENDER,
                BIS_INVOICE,
                BIS_BILLING_PROCESS,
                InboundStatus.VALID,
                NOW,
                NOW,
            ),
            DocumentContent(INVOICE.read_bytes(), {"valid": True}),
        )
        uow.messages.add(
            AS4MessageRecord(
                "in1@them.test",
                Direction.IN,
                RawHTTPMessage((("Content-Type", "multipart/related"),), b"their message"),
                NOW,
                document_id=inbound_id,
                signal=AS4Signal(SignalKind.RECEIPT, RECEIPT, NOW),
            )
        )
        uow.commit()
    queue_document(store, at=NOW + timedelta(days=40))  # outside the period
    return store


def _export(folder: Path) -> int:
    return main(["archive", "export", "--since", "2026-06-01", "--until", "2026-06-02", str(folder)])


def test_archive_round_trip(database: SQLDocumentStore, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    assert _export(folder) == 0
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    outbound = {path.split("/")[1] for path in files if path.startswith("outbound/")}
    assert len(outbound) == 2  # the document 40 days later is outside the period
    assert len({path.split("/")[1] for path in files if path.startswith("inbound/")}) == 1
    assert {"manifest.json", "SHA256SUMS", "README.txt"} <= files
    assert any(path.endswith("/messages/01-request.http") for path in files)
    assert any(path.endswith("/messages/01-signal-01-receipt.http") for path in files)
    assert any(path.endswith("/messages/01-email.eml") for path in files)
    (request,) = [folder / p for p in files if p.startswith("outbound/") and p.endswith("01-request.http")]
    assert request.read_bytes().endswith(b"\r\n\r\n--b\r\nsigned and encrypted\r\n--b--")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["retention_years"] == 10
    assert set(manifest["files"]) == files - {"manifest.json", "SHA256SUMS"}
    records = [json.loads((folder / p).read_text()) for p in files if p.endswith("record.json")]
    histories = [r["status_history"] for r in records if "status_history" in r]
    assert any(
        [e["event"] for e in h] == ["submitted", "send-started", "receipt-received"] for h in histories
    )
    assert "sha256sum -c SHA256SUMS" in (folder / "README.txt").read_text()
    assert main(["archive", "verify", str(folder)]) == 0

    # Readable and checkable without the gateway.
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=folder, check=True)

    # One byte changed: verification fails.
    document = next(folder / p for p in sorted(files) if p.endswith("document.xml"))
    data = bytearray(document.read_bytes())
    data[100] ^= 0x01
    document.write_bytes(bytes(data))
    assert main(["archive", "verify", str(folder)]) == 1
    data[100] ^= 0x01
    document.write_bytes(bytes(data))
    assert main(["archive", "verify", str(folder)]) == 0

    (folder / "outbound" / "extra.txt").write_text("slipped in")
    assert main(["archive", "verify", str(folder)]) == 1
    (folder / "outbound" / "extra.txt").unlink()
    document.unlink()
    assert main(["archive", "verify", str(folder)]) == 1


def test_export_refuses_a_bad_period_or_a_used_folder(database: SQLDocumentStore, tmp_path: Path) -> None:
    assert (
        main(["archive", "export", "--since", "2026-06-02", "--until", "2026-06-01", str(tmp_path / "a")])
        == 2
    )
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("x")
    assert _export(used) == 2
    assert main(["archive", "verify", str(tmp_path)]) == 1  # no manifest


def test_a_signed_archive_catches_a_consistent_forgery(
    database: SQLDocumentStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = dev_pki().pki.files()
    for name in ("pop000001.key.pem", "pop000001.cert.pem"):
        (tmp_path / name).write_bytes(files[name])
    monkeypatch.setenv("GATEWAY_KEYSTORE__PATH", str(tmp_path / "pop000001.key.pem"))
    monkeypatch.setenv("GATEWAY_KEYSTORE__CERT_PATH", str(tmp_path / "pop000001.cert.pem"))
    folder = tmp_path / "archive"
    assert _export(folder) == 0
    assert "signed by CN=POP000001" in capsys.readouterr().out
    assert main(["archive", "verify", str(folder)]) == 0
    assert "signed by CN=POP000001" in capsys.readouterr().out
    assert "SHA256SUMS.sig" not in json.loads((folder / "manifest.json").read_text())["files"]

    # A forger changes a document and rewrites the manifest and SHA256SUMS to match: the digests agree,
    # the signature does not.
    document = next(folder.glob("outbound/*/document.xml"))
    relative = document.relative_to(folder).as_posix()
    document.write_bytes(document.read_bytes() + b"<!-- edited -->")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][relative] = {
        "sha256": sha256_hex(document.read_bytes()),
        "bytes": document.stat().st_size,
    }
    (folder / "manifest.json").write_bytes(json_file(manifest))
    sums = {path: sha256_hex((folder / path).read_bytes()) for path in [*manifest["files"], "manifest.json"]}
    (folder / "SHA256SUMS").write_text("".join(f"{digest}  {path}\n" for path, digest in sums.items()))
    capsys.readouterr()
    assert main(["archive", "verify", str(folder)]) == 1
    assert "SHA256SUMS.sig: does not verify" in capsys.readouterr().err

    (folder / "SHA256SUMS.sig").unlink()  # the signature alone removed: refused too
    assert main(["archive", "verify", str(folder)]) == 1
