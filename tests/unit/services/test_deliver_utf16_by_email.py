"""A document stored in UTF-16 (before submissions were refused in it, ``xmlcore.encoding``) whose buyer is
not on Peppol fails its delivery at once, as on the AS4 path (``test_deliver``), instead of the encoding
refusal of the e-mail's read of the buyer escaping the attempt."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

from as4_support import dev_pki
from buyer_contact import BUYER_EMAIL, with_buyer_contact
from delivery_support import SettableClock, UUIDs, queue_document

from gateway.errors import ParticipantNotRegistered
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.model.message import DeliveryStatus
from gateway.services.deliver import Deliverer, DeliverySettings
from gateway.services.email_fallback import EmailChannel
from gateway.services.ports import Endpoint
from gateway.store import SQLDocumentStore
from gateway.worker import BackoffPolicy
from tests.unit.services.test_deliver import InProcessTransport
from tests.unit.services.test_deliver_fallback_after_as4 import LEASE, RecordingMailer


class NotOnPeppol:
    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        raise ParticipantNotRegistered(f"{receiver} is not registered")


def test_a_stored_utf_16_document_for_a_buyer_outside_peppol_fails_at_once(store: SQLDocumentStore) -> None:
    clock = SettableClock()
    mailer = RecordingMailer()
    deliverer = Deliverer(
        store=store,
        resolver=NotOnPeppol(),
        transport=InProcessTransport(None),  # type: ignore[arg-type]  # never reached
        identity=dev_pki().sender,
        trust=dev_pki().trust,
        clock=clock,
        ids=UUIDs(),
        retry=BackoffPolicy(base=timedelta(seconds=10), max_attempts=5),
        jitter=random.Random(1).random,
        settings=DeliverySettings(message_id_domain="unit.test", lease_for=LEASE),
        email=EmailChannel(mailer, "invoices@coop.test"),
    )
    text = with_buyer_contact(BUYER_EMAIL, "BE", "9000").decode("utf-8")
    body = text.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1).encode("utf-16")
    document_id = queue_document(store, body=body)
    with store.unit_of_work() as uow:
        (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=LEASE, token="t")
        uow.commit()

    result: Any = asyncio.run(deliverer.deliver_one(lease))

    assert mailer.sent == []
    assert result.status is DeliveryStatus.FAILED, result
    assert "encoded in UTF-16" in (result.reason or ""), result.reason
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
    assert document is not None
    assert document.status is DeliveryStatus.FAILED
