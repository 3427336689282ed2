"""`gateway inbound backfill-numbers` on a SQLite database: the documents received before migration 0015
get their numbers, in batches; a second run finds nothing to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import DocumentContent, InboundDocument, InboundStatus
from gateway.store import SQLDocumentStore, upgrade_database
from tests.integration.document_api import T0

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def test_backfill_numbers_the_documents_stored_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    monkeypatch.setenv("GATEWAY_DATABASE__URL", url)
    upgrade_database(url)
    store = SQLDocumentStore.from_url(url)
    try:
        with store.unit_of_work() as uow:
            for n in range(5):
                body = f'<Invoice xmlns:cbc="{CBC}"><cbc:ID>OLD-{n}</cbc:ID></Invoice>'.encode()
                uow.inbound.add(
                    InboundDocument(
                        id=f"doc-{n}",
                        as4_message_id=f"m{n}@peer",
                        sender=ParticipantID.parse("0208:0412345614"),
                        receiver=ParticipantID.parse("0208:0739484052"),
                        document_type=BIS_INVOICE,
                        process=BIS_BILLING_PROCESS,
                        status=InboundStatus.VALID,
                        received_at=T0,
                        updated_at=T0,
                    ),
                    DocumentContent(body, None),
                )
            uow.commit()
    finally:
        store.close()
    assert main(["inbound", "backfill-numbers", "--batch", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "read 2, numbered 2",
        "read 4, numbered 4",
        "read 5, numbered 5",
        "5 received documents numbered; 5 read, 0 with no number to read",
    ]
    assert main(["inbound", "backfill-numbers", "--quiet"]) == 0
    assert capsys.readouterr().out == "0 received documents numbered; 0 read, 0 with no number to read\n"
    store = SQLDocumentStore.from_url(url)
    try:
        with store.unit_of_work(read_only=True) as uow:
            numbers = [
                document.document_number for n in range(5) if (document := uow.inbound.get(f"doc-{n}"))
            ]
    finally:
        store.close()
    assert numbers == [f"OLD-{n}" for n in range(5)]
    with pytest.raises(SystemExit):
        main(["inbound", "backfill-numbers", "--batch", "0"])
