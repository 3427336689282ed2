"""Delivery through SML/SMP discovery over the wire (development SML on loopback DNS, SMP over HTTP, AS4 over
HTTP), on SQLite and PostgreSQL: permanent discovery outcomes fail the first attempt with their typed reason,
unreachable ones are retried, and a receiver that rotated its certificate between two attempts gets the
same business document rebuilt for the new certificate."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from as4_support import NOW, RECEIVER, dev_pki
from delivery_support import ReceiverAP, SettableClock, UUIDs, queue_document, receiver_ap, serve
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.crypto import issue_ap
from gateway.devnet import DevEndpoint, DevNetwork, DevService
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import DeliveryEvent, DeliveryStatus, Direction, OutboundDocument
from gateway.services.deliver import Deliverer, DeliveryResult, DeliverySettings
from gateway.services.smp_resolver import SMPResolver
from gateway.store import SQLDocumentStore
from gateway.transport.http import HTTPAS4Transport
from gateway.validation import ValidationEngine
from gateway.worker import BackoffPolicy
from tests.contract.store_databases import BACKENDS
from tests.discovery_support import resolver_for
from tests.integration.conftest import SENDER_KEY, backend_store

DOCUMENTS = Path(__file__).resolve().parents[1] / "data" / "documents"


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, module_stores: dict[str, SQLDocumentStore]) -> SQLDocumentStore:
    return backend_store(request, module_stores)


@pytest.fixture
def clock() -> SettableClock:
    return _Clock()


@pytest.fixture
def receiver(clock: SettableClock) -> ReceiverAP:
    return receiver_ap(clock=clock.now)  # both sides share the time (timestamps are checked)


@pytest.fixture
def as4_url(receiver: ReceiverAP) -> Iterator[str]:
    with serve(receiver) as url:
        yield url


@pytest.fixture
def network(as4_url: str) -> Iterator[DevNetwork]:
    with DevNetwork(dev_pki().pki) as net:
        net.publish(RECEIVER, [_service(as4_url)])
        yield net


def _service(url: str, certificate: object = None) -> DevService:
    cert = certificate or dev_pki().pki.aps["POP000002"].certificate
    return DevService(BIS_INVOICE, ((BIS_BILLING_PROCESS, (DevEndpoint(url, cert),)),))  # type: ignore[arg-type]


class _Clock(SettableClock):
    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def _deliver(store: SQLDocumentStore, resolver: SMPResolver, clock: SettableClock) -> DeliveryResult:
    async def go() -> DeliveryResult:
        async with HTTPAS4Transport(connect_timeout=2.0, send_timeout=5.0) as transport:
            deliverer = Deliverer(
                store=store,
                resolver=resolver,
                transport=transport,
                identity=dev_pki().sender,
                trust=dev_pki().trust,
                clock=clock,
                ids=UUIDs(),
                retry=BackoffPolicy(base=timedelta(seconds=30), max_attempts=12),
                jitter=random.Random(3).random,
                settings=DeliverySettings(message_id_domain="gw.test", lease_for=timedelta(minutes=5)),
            )
            with store.unit_of_work() as uow:
                (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=timedelta(minutes=5), token="w")
                uow.commit()
            return await deliverer.deliver_one(lease)

    return asyncio.run(go())


def _document(store: SQLDocumentStore, document_id: str) -> OutboundDocument:
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
    assert document is not None
    return document


def test_a_rotated_receiver_certificate_gets_the_document_rebuilt_and_delivered(
    store: SQLDocumentStore,
    network: DevNetwork,
    receiver: ReceiverAP,
    as4_url: str,
    clock: SettableClock,
) -> None:
    resolver = resolver_for(network, clock)  # type: ignore[arg-type]
    document_id = queue_document(store)
    receiver.script.append("500")  # the first attempt fails on the receiver's side: retried later
    first = _deliver(store, resolver, clock)
    assert first.status is DeliveryStatus.RETRYING, first.reason
    old_message_id = _document(store, document_id).as4_message_id

    # The receiver rotates its key and publishes the new certificate in its SMP.
    pki = dev_pki().pki
    rotated = issue_ap(pki.ap_ca, "POP000002", now=NOW, serial=4242)
    receiver.key = rotated.key_material((pki.ap_ca.certificate, pki.root.certificate))
    network.publish(RECEIVER, [_service(as4_url, rotated.certificate)])
    # The retry is due long before the lookup cache (15 min) expires: a retry asks the SMP again.
    clock.current = _document(store, document_id).next_attempt_at or NOW

    second = _deliver(store, resolver, clock)
    assert second.status is DeliveryStatus.DELIVERED, second.reason
    document = _document(store, document_id)
    assert document.as4_message_id not in (None, old_message_id)  # an application-level resend
    with store.unit_of_work(read_only=True) as uow:
        messages = uow.messages.for_document(document_id)
        timeline = uow.outbound.timeline(document_id)
    # Both messages stay in the evidence; the business document and its SBDH instance are the same.
    assert {m.message_id for m in messages} == {old_message_id, document.as4_message_id}
    assert len({m.sbdh_instance_id for m in messages}) == 1
    assert all(m.direction is Direction.OUT for m in messages)
    (rebuilt,) = [e for e in timeline if (e.detail or {}).get("rebuilt_from")]
    assert rebuilt.event is DeliveryEvent.SEND_STARTED
    assert rebuilt.detail is not None
    assert rebuilt.detail["rebuilt_from"] == old_message_id
    assert rebuilt.detail["rebuild_reason"] == "receiver-certificate-changed"
    assert rebuilt.detail["receiver_certificate_serial"] == format(4242, "x")
    assert receiver.delivered == [document.as4_message_id]


def test_a_receiver_that_rotated_before_the_first_send_gets_the_rebuilt_message_at_the_retry(
    store: SQLDocumentStore,
    network: DevNetwork,
    receiver: ReceiverAP,
    as4_url: str,
    clock: SettableClock,
) -> None:
    resolver = resolver_for(network, clock)  # type: ignore[arg-type]
    asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))  # the old certificate, cached
    pki = dev_pki().pki
    rotated = issue_ap(pki.ap_ca, "POP000002", now=NOW, serial=4343)
    receiver.key = rotated.key_material((pki.ap_ca.certificate, pki.root.certificate))
    network.publish(RECEIVER, [_service(as4_url, rotated.certificate)])
    document_id = queue_document(store)

    first = _deliver(store, resolver, clock)  # encrypted to the old key: the receiver cannot read it
    assert first.status is DeliveryStatus.RETRYING, first.reason
    clock.current = _document(store, document_id).next_attempt_at or NOW
    second = _deliver(store, resolver, clock)
    assert second.status is DeliveryStatus.DELIVERED, second.reason
    assert receiver.delivered == [_document(store, document_id).as4_message_id]


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        ("unregister", "receiver-not-registered: "),
        ("tamper", "bad-smp-signature: "),
        ("credit-notes-only", "document-type-not-supported: "),
    ],
)
def test_a_permanent_discovery_outcome_fails_the_first_attempt(
    store: SQLDocumentStore,
    network: DevNetwork,
    receiver: ReceiverAP,
    clock: SettableClock,
    break_it: str,
    reason: str,
) -> None:
    if break_it == "unregister":
        network.sml.unregister(RECEIVER)
    elif break_it == "tamper":
        network.smp.tampered.add(RECEIVER)
    else:
        from gateway.model.identifiers import BIS_CREDIT_NOTE

        endpoint = DevEndpoint("https://ap.example/as4", dev_pki().pki.aps["POP000002"].certificate)
        network.smp.register(RECEIVER, [DevService(BIS_CREDIT_NOTE, ((BIS_BILLING_PROCESS, (endpoint,)),))])
    document_id = queue_document(store)
    result = _deliver(store, resolver_for(network, clock), clock)  # type: ignore[arg-type]
    assert result.status is DeliveryStatus.FAILED
    document = _document(store, document_id)
    with store.unit_of_work(read_only=True) as uow:
        events = [e.event for e in uow.outbound.timeline(document_id)]
    assert events == [DeliveryEvent.SUBMITTED, DeliveryEvent.PERMANENT_FAILURE]  # one lookup, no retries
    assert (document.status_reason or "").startswith(reason), document.status_reason
    assert receiver.requests == []


def test_an_unreachable_smp_is_retried(
    store: SQLDocumentStore, network: DevNetwork, clock: SettableClock
) -> None:
    network.smp.fail_status = 503
    document_id = queue_document(store)
    result = _deliver(store, resolver_for(network, clock), clock)  # type: ignore[arg-type]
    assert result.status is DeliveryStatus.RETRYING
    assert (_document(store, document_id).status_reason or "").startswith("smp-unreachable: ")


# --- through the API: submit, then the first worker attempt -------------------------------------------------


@pytest.fixture
def api_services(
    store: SQLDocumentStore,
    network: DevNetwork,
    clock: SettableClock,
    validation_engine: ValidationEngine,
    artefacts_dir: Path,
    tmp_path: Path,
) -> Services:
    settings = Settings.model_validate(
        {
            "artefacts": {"mirror": artefacts_dir, "cache_dir": tmp_path / "cache"},
            "api": {"keys": [{"name": "invoicing", "role": "sender", "key": SENDER_KEY}]},
            "truststore": {"stage": "development"},
        }
    )
    resolver = resolver_for(network, clock)  # type: ignore[arg-type]
    return Services(
        settings=settings,
        validation=validation_engine,
        store=store,
        clock=clock,
        identity=dev_pki().sender,
        trust=dev_pki().trust,
        directory=resolver,
        lookup=resolver,
    )


@pytest.mark.parametrize(
    ("sample", "publish", "reason", "outcome"),
    [
        ("be-domestic-mixed-rates.json", None, "receiver-not-registered: ", "not-registered"),
        ("credit-note.json", BIS_INVOICE, "document-type-not-supported: ", "document-type-not-supported"),
    ],
)
def test_a_submitted_document_for_a_receiver_that_cannot_receive_it_fails_at_the_first_attempt(
    api_services: Services,
    network: DevNetwork,
    clock: SettableClock,
    sample: str,
    publish: object,
    reason: str,
    outcome: str,
) -> None:
    buyer = ParticipantID.parse("0208:0412345614")  # the samples' buyer
    if publish is not None:
        endpoint = DevEndpoint("https://ap.example/as4", dev_pki().pki.aps["POP000002"].certificate)
        network.publish(buyer, [DevService(BIS_INVOICE, ((BIS_BILLING_PROCESS, (endpoint,)),))])
    body = (DOCUMENTS / sample).read_bytes()
    route = "/v1/outbound/credit-notes" if "credit" in sample else "/v1/outbound/invoices"
    with TestClient(
        create_app(api_services.settings, services=api_services, warm=False),
        headers={"Authorization": f"Bearer {SENDER_KEY}", "Content-Type": "application/json"},
    ) as client:
        lookup = client.get(
            f"/v1/participants/{buyer}",
            params={"document": "credit-note" if "credit" in sample else "invoice"},
        ).json()
        assert lookup["can_receive"] is False
        submitted = client.post(route, content=body)
        assert submitted.status_code == 202, submitted.text  # no lookup at submit (README: fail fast)
        document_id = submitted.json()["id"]

        async def first_attempt() -> DeliveryResult:
            with api_services.store.unit_of_work() as uow:
                (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=timedelta(minutes=5), token="w")
                uow.commit()
            return await api_services.deliverer.deliver_one(lease)

        assert asyncio.run(first_attempt()).status is DeliveryStatus.FAILED
        status = client.get(f"/v1/outbound/{document_id}").json()
    assert status["status"] == "failed"
    assert status["status_reason"].startswith(reason)
    assert status["next_attempt_at"] is None
    assert [entry["event"] for entry in status["timeline"]] == ["submitted", "permanent-failure"]
    assert lookup["outcome"] == outcome  # the lookup before send gave the same answer
