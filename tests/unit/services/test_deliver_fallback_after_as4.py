"""The e-mail fallback never e-mails a document that was already sent over Peppol: after a send whose receipt
was lost, a later lookup that says the buyer is no longer registered must not reach the buyer a second time
by e-mail (under another message id); the discovery failure is the outcome, as without the fallback."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from as4_support import dev_pki
from buyer_contact import BUYER_EMAIL, with_buyer_contact
from delivery_support import SettableClock, UUIDs, directory_json, queue_document, receiver_ap

from gateway.errors import ParticipantNotRegistered
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import DeliveryStatus
from gateway.services.deliver import Deliverer, DeliverySettings
from gateway.services.email_fallback import EmailChannel
from gateway.services.ports import Endpoint
from gateway.store import SQLDocumentStore
from gateway.transport.directory import parse_directory
from gateway.worker import BackoffPolicy
from tests.unit.services.test_deliver import URL, InProcessTransport

LEASE = timedelta(minutes=5)


class RecordingMailer:
    """Stands for the SMTP relay (the remote network): accepts every e-mail."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        self.sent.append(message)
        return "250 2.0.0 queued"


class Deregistering:
    """The directory, until the buyer leaves Peppol (``gone``): then every lookup says not registered."""

    def __init__(self) -> None:
        self.directory = parse_directory(directory_json(URL), base_dir=Path("."))
        self.gone = False

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        if self.gone:
            raise ParticipantNotRegistered(f"{receiver} is not registered")
        return await self.directory.resolve(receiver, document_type, process)


def test_a_document_sent_over_peppol_is_not_emailed_when_a_later_lookup_finds_the_buyer_gone(
    store: SQLDocumentStore,
) -> None:
    clock = SettableClock()
    receiver = receiver_ap()
    receiver.script.append("lost")  # the receiver takes the message; its receipt never arrives
    resolver = Deregistering()
    mailer = RecordingMailer()
    deliverer = Deliverer(
        store=store,
        resolver=resolver,
        transport=InProcessTransport(receiver),
        identity=dev_pki().sender,
        trust=dev_pki().trust,
        clock=clock,
        ids=UUIDs(),
        retry=BackoffPolicy(base=timedelta(seconds=10), max_attempts=5),
        jitter=random.Random(1).random,
        settings=DeliverySettings(message_id_domain="unit.test", lease_for=LEASE),
        email=EmailChannel(mailer, "invoices@coop.test"),
    )
    document_id = queue_document(store, body=with_buyer_contact(BUYER_EMAIL, "BE", "9000"))

    def attempt() -> Any:
        with store.unit_of_work() as uow:
            (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=LEASE, token=str(clock.now()))
            uow.commit()
        return asyncio.run(deliverer.deliver_one(lease))

    first = attempt()
    assert first.status is DeliveryStatus.RETRYING
    assert len(receiver.delivered) == 1  # the buyer's access point has the invoice
    resolver.gone = True
    clock.advance(minutes=10)
    second = attempt()

    assert mailer.sent == [], "the invoice went to the buyer a second time, by e-mail"
    assert second.status is DeliveryStatus.FAILED
    assert (second.reason or "").startswith("receiver-not-registered")
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
    assert document is not None
    assert document.status is DeliveryStatus.FAILED
    assert document.as4_message_id == receiver.delivered[0]  # its one message is the AS4 one
