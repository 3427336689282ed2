"""Private persons: a buyer without any Peppol id but with an e-mail address is accepted at the API, written
with BT-49 = EM:<address>, and e-mailed by the worker without any SML/SMP lookup, to a real SMTP server on
loopback (aiosmtpd), on SQLite and PostgreSQL. Also: the refusal when the buyer has neither, the receiver as
the API shows and searches it, the reporting that must not count it, and a gateway without a relay."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from as4_support import dev_pki
from delivery_support import SettableClock, webhook_statuses
from fastapi.testclient import TestClient
from mail_support import MailRelay, parse_mail, relay_fixture  # noqa: F401 - the relay fixture

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.errors import ParticipantNotRegistered
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import DeliveryStatus
from gateway.model.number_series import BILLING_TYPES
from gateway.services.deliver import DeliveryResult
from gateway.services.ports import Endpoint
from gateway.store import SQLDocumentStore
from gateway.validation import ValidationEngine
from tests.contract.store_databases import BACKENDS
from tests.integration.conftest import SENDER_KEY, backend_store

PRIVATE_PERSON = Path(__file__).resolve().parents[1] / "data" / "documents" / "private-person.json"
BUYER_EMAIL = "lies.vermeulen@mail.example"  # the sample's buyer.contact.email
SENDER = "invoices@coop.test"


class _NoLookups:
    """A resolver that records every lookup and knows nobody: an e-mail receiver must never reach it."""

    def __init__(self) -> None:
        self.calls: list[ParticipantID] = []

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        self.calls.append(receiver)
        raise ParticipantNotRegistered(str(receiver))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, module_stores: dict[str, SQLDocumentStore]) -> SQLDocumentStore:
    return backend_store(request, module_stores)


def _services(
    store: SQLDocumentStore,
    engine: ValidationEngine,
    artefacts_dir: Path,
    tmp_path: Path,
    resolver: _NoLookups,
    clock: SettableClock,
    mail_port: int | None,
) -> Services:
    config: dict[str, Any] = {
        "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path / "cache"},
        "api": {"keys": [{"name": "invoicing", "role": "sender", "key": SENDER_KEY}]},
        "truststore": {"stage": "development"},
        "webhooks": {"url": "https://hooks.test/gw", "secret": "0123456789abcdef0123"},
    }
    if mail_port is not None:
        config["mail"] = {"host": "127.0.0.1", "port": mail_port, "starttls": False, "from": SENDER}
    return Services(
        settings=Settings.model_validate(config),
        validation=engine,
        store=store,
        clock=clock,
        identity=dev_pki().sender,
        trust=dev_pki().trust,
        directory=resolver,
    )


def _client(services: Services) -> TestClient:
    return TestClient(
        create_app(services.settings, services=services, warm=False),
        headers={"Authorization": f"Bearer {SENDER_KEY}", "Content-Type": "application/json"},
    )


def _first_attempt(services: Services, clock: SettableClock) -> DeliveryResult:
    async def attempt() -> DeliveryResult:
        with services.store.unit_of_work() as uow:
            (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=timedelta(minutes=5), token="w")
            uow.commit()
        return await services.deliverer.deliver_one(lease)

    return asyncio.run(attempt())


def test_a_private_person_with_an_email_is_emailed_without_any_lookup(
    store: SQLDocumentStore,
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    tmp_path: Path,
    relay: tuple[MailRelay, int],
) -> None:
    handler, port = relay
    clock, resolver = SettableClock(), _NoLookups()
    services = _services(store, validation_engine, artefacts_dir, tmp_path, resolver, clock, port)
    with _client(services) as client:
        submitted = client.post("/v1/outbound/invoices", content=PRIVATE_PERSON.read_bytes())
        assert submitted.status_code == 202, submitted.text
        document_id = submitted.json()["id"]
        ubl = client.get(f"/v1/outbound/{document_id}/ubl").content

        result = _first_attempt(services, clock)

        status = client.get(f"/v1/outbound/{document_id}").json()
        found = client.get("/v1/outbound", params={"receiver": f"EM:{BUYER_EMAIL.upper()}"}).json()
    assert result.status is DeliveryStatus.DELIVERED_BY_EMAIL, result.reason
    assert resolver.calls == []  # never looked up in the SML/SMP
    assert b'<cbc:EndpointID schemeID="EM">lies.vermeulen@mail.example</cbc:EndpointID>' in ubl

    # The received e-mail: to the buyer, in Dutch (Antwerpen 2000), the PDF and the exact UBL attached.
    ((mail_from, rcpt, content),) = handler.received
    assert (mail_from, rcpt) == (SENDER, [BUYER_EMAIL])
    mail = parse_mail(content)
    assert mail["To"] == BUYER_EMAIL
    assert mail["Subject"] == "Factuur 2026-0004723"
    assert mail["Message-ID"] == f"<{status['as4_message_id']}>"
    assert mail["X-Gateway-Document-Id"] == document_id
    text = mail.get_body(("plain",))
    assert text is not None
    assert text["Content-Language"] == "nl"
    assert "In bijlage vindt u factuur 2026-0004723" in text.get_content()
    attachments = {str(part.get_filename()): part for part in mail.iter_attachments()}
    assert sorted(attachments) == ["2026-0004723.pdf", "2026-0004723.xml"]
    assert attachments["2026-0004723.pdf"].get_content_type() == "application/pdf"
    assert attachments["2026-0004723.pdf"].get_content().startswith(b"%PDF")
    assert attachments["2026-0004723.xml"].get_content() == ubl

    # The API: the receiver is the e-mail address, the timeline says why Peppol was not used.
    assert status["status"] == "delivered_by_email"
    assert status["receiver"] == f"EM:{BUYER_EMAIL}"
    assert [e["event"] for e in status["timeline"]] == ["submitted", "send-started", "email-accepted"]
    started = status["timeline"][1]["detail"]
    assert (started["channel"], started["to"]) == ("email", BUYER_EMAIL)
    assert str(started["discovery"]).startswith("not looked up")
    assert [item["id"] for item in found["items"]] == [document_id]  # searched case-insensitively
    assert set(webhook_statuses(store, clock)) == {"accepted", "sending", "delivered_by_email"}

    with store.unit_of_work(read_only=True) as uow:
        content_row = uow.outbound.get_content(document_id)
        (stored,) = uow.messages.for_document(document_id)
        # Peppol reporting counts AS4 transmissions only: an e-mail is none.
        month = uow.reporting.transmissions(
            datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
        )
    assert month == []
    assert dict(stored.request.headers)["Content-Type"] == "message/rfc822"
    assert stored.request.body.rstrip(b"\r\n") == content.rstrip(b"\r\n")
    # The stored report keeps the one waived Peppol finding, as a warning that says so.
    assert content_row is not None
    assert content_row.validation_report is not None
    report = content_row.validation_report
    assert report["valid"] is True
    assert [(i["rule"], i["severity"]) for i in report["issues"]] == [("PEPPOL-EN16931-CL008", "warning")]
    assert str(report["issues"][0]["message"]).startswith("waived: the buyer is e-mailed outside Peppol")


def test_a_credit_note_of_an_invoices_number_is_emailed_under_its_kind(
    store: SQLDocumentStore,
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    tmp_path: Path,
    relay: tuple[MailRelay, int],
) -> None:
    """Numbers are unique per kind of document: the credit note of the private person's invoice, numbered
    as the invoice, reaches the buyer's mailbox as ``creditnota-<number>.pdf/.xml`` (the buyer is Flemish:
    the word in the e-mail's language), the invoice under its number alone (the names of the pages' and the
    API's downloads)."""
    handler, port = relay
    clock, resolver = SettableClock(), _NoLookups()
    services = _services(store, validation_engine, artefacts_dir, tmp_path, resolver, clock, port)
    data = json.loads(PRIVATE_PERSON.read_bytes())
    data["number"] = "2026-CN-SAME"
    credit = {
        **data,
        "kind": "credit_note",
        "preceding_invoices": [{"number": data["number"], "issue_date": data["issue_date"]}],
    }
    with _client(services) as client:
        for path, body in (("/v1/outbound/invoices", data), ("/v1/outbound/credit-notes", credit)):
            submitted = client.post(path, json=body)
            assert submitted.status_code == 202, submitted.text
            result = _first_attempt(services, clock)
            assert result.status is DeliveryStatus.DELIVERED_BY_EMAIL, result.reason
    names = [
        sorted(str(part.get_filename()) for part in parse_mail(content).iter_attachments())
        for _, _, content in handler.received
    ]
    assert names == [
        ["2026-CN-SAME.pdf", "2026-CN-SAME.xml"],
        ["creditnota-2026-CN-SAME.pdf", "creditnota-2026-CN-SAME.xml"],
    ]


def test_a_buyer_with_neither_a_peppol_id_nor_an_email_is_refused(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path, tmp_path: Path
) -> None:
    data = json.loads(PRIVATE_PERSON.read_bytes())
    del data["buyer"]["contact"]
    services = _services(
        store, validation_engine, artefacts_dir, tmp_path, _NoLookups(), SettableClock(), None
    )
    with _client(services) as client:
        refused = client.post("/v1/outbound/invoices", content=json.dumps(data).encode())
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    text = json.dumps(problem)
    assert "neither a Peppol participant id" in text
    assert "buyer.contact.email" in text
    assert "give one of the two" in text
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.find_by_number("0208:0739484052", data["number"], BILLING_TYPES) == []


def test_an_emailed_buyer_without_a_relay_fails_at_the_first_attempt_with_the_reason(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path, tmp_path: Path
) -> None:
    clock, resolver = SettableClock(), _NoLookups()
    services = _services(store, validation_engine, artefacts_dir, tmp_path, resolver, clock, None)
    with _client(services) as client:
        submitted = client.post("/v1/outbound/invoices", content=PRIVATE_PERSON.read_bytes())
        assert submitted.status_code == 202, submitted.text
        result = _first_attempt(services, clock)
        status = client.get(f"/v1/outbound/{submitted.json()['id']}").json()
    assert result.status is DeliveryStatus.FAILED
    assert status["status_reason"].startswith(f"no-email-relay: EM:{BUYER_EMAIL} is reached by e-mail only")
    assert resolver.calls == []


def test_convert_and_a_posted_ubl_take_the_same_em_address(api: TestClient) -> None:
    data = json.loads(PRIVATE_PERSON.read_bytes())
    data["number"] = "PP-UBL-1"
    converted = api.post("/v1/convert", json=data)
    assert converted.status_code == 200, converted.text
    body = converted.json()
    assert body["report"]["valid"] is True
    assert [(i["rule"], i["severity"]) for i in body["report"]["issues"]] == [
        ("PEPPOL-EN16931-CL008", "warning")
    ]
    ubl = body["ubl"].encode()
    assert b'<cbc:EndpointID schemeID="EM">lies.vermeulen@mail.example</cbc:EndpointID>' in ubl
    posted = api.post("/v1/outbound/ubl", content=ubl, headers={"Content-Type": "application/xml"})
    assert posted.status_code == 202, posted.text
    status = api.get(f"/v1/outbound/{posted.json()['id']}").json()
    assert status["receiver"] == f"EM:{BUYER_EMAIL}"
    # An e-mail receiver is no participant to look up in the SML/SMP.
    assert api.get(f"/v1/participants/EM:{BUYER_EMAIL}").status_code == 422
    # The same UBL with a seller address under EM is refused: only the buyer's BT-49 is waived.
    seller_em = ubl.replace(
        b'<cbc:EndpointID schemeID="0208">0739484052</cbc:EndpointID>',
        b'<cbc:EndpointID schemeID="EM">invoices@coop.example</cbc:EndpointID>',
    ).replace(b"PP-UBL-1", b"PP-UBL-2")
    refused = api.post("/v1/outbound/ubl", content=seller_em, headers={"Content-Type": "application/xml"})
    assert refused.status_code == 422, refused.text
    assert "PEPPOL-EN16931-CL008" in refused.json()["detail"]


def test_the_openapi_description_documents_the_email_receiver(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    text = json.dumps(spec["paths"]["/v1/outbound/invoices"]["post"]["requestBody"])
    assert "a buyer without any Peppol id (a private person) is e-mailed only" in text
    assert "A buyer outside Peppol may have scheme EM" in text
    assert "EM:<address>" in json.dumps(spec["components"]["schemas"]["OutboundSummary"])


def test_an_address_the_relay_cannot_be_given_is_refused_at_submission_naming_the_field(
    api: TestClient,
) -> None:
    """A non-ASCII address was accepted, stored and failed only at send time (the SMTP adapter speaks no
    SMTPUTF8): refused at once, in the JSON and the UBL, and nothing is stored."""
    data = json.loads(PRIVATE_PERSON.read_bytes())
    data["number"] = "PP-UTF8-1"
    data["buyer"]["contact"]["email"] = "liës.vermeulen@mail.example"
    refused = api.post("/v1/outbound/invoices", json=data)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"] == "/problems/invalid-document-data"
    assert any(
        "buyer.contact.email (BT-58)" in error and "ASCII only" in error for error in problem["errors"]
    )
    ubl = api.post(
        "/v1/convert", json={**data, "buyer": {**data["buyer"], "contact": {"email": BUYER_EMAIL}}}
    )
    assert ubl.status_code == 200, ubl.text
    hostile = ubl.json()["ubl"].replace(BUYER_EMAIL, "liës.vermeulen@mail.example").encode()
    posted = api.post("/v1/outbound/ubl", content=hostile, headers={"Content-Type": "application/xml"})
    assert posted.status_code == 422, posted.text
    assert posted.headers["content-type"].startswith("application/problem+json")
    assert any(
        error.startswith("BT-49 buyer electronic address:") and "ASCII only" in error
        for error in posted.json()["errors"]
    ), posted.text
    assert api.get("/v1/outbound?number=PP-UTF8-1").json()["items"] == []
    # A valid address still goes.
    accepted = api.post(
        "/v1/outbound/ubl", content=ubl.json()["ubl"].encode(), headers={"Content-Type": "application/xml"}
    )
    assert accepted.status_code == 202, accepted.text


def test_a_document_stored_with_an_address_refused_now_is_still_found_by_its_receiver(
    store: SQLDocumentStore, validation_engine: ValidationEngine, artefacts_dir: Path, tmp_path: Path
) -> None:
    """A document stored before the ASCII rule keeps its EM receiver; the receiver filter refused it as
    input (422 invalid-identifier), so support could no longer find the document by it."""
    from sqlalchemy import update

    from gateway.store.tables import outbound_documents

    services = _services(
        store, validation_engine, artefacts_dir, tmp_path, _NoLookups(), SettableClock(), None
    )
    with _client(services) as client:
        submitted = client.post("/v1/outbound/invoices", content=PRIVATE_PERSON.read_bytes())
        assert submitted.status_code == 202, submitted.text
        document_id = submitted.json()["id"]
        legacy = "liës.vermeulen@mail.example"  # as stored before the rule
        with store.engine.begin() as connection:
            connection.execute(
                update(outbound_documents)
                .where(outbound_documents.c.id == document_id)
                .values(receiver_id=f"EM:{legacy}", receiver_key=f"EM:{legacy.lower()}")
            )
        found = client.get("/v1/outbound", params={"receiver": "EM:LIËS.vermeulen@mail.example"})
        assert found.status_code == 200, found.text
        assert [item["id"] for item in found.json()["items"]] == [document_id]
        refused = client.get("/v1/outbound", params={"receiver": "EM:not an address"})
        assert refused.status_code == 422, refused.text
