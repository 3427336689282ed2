"""E-mail fallback through real discovery (development SML on loopback DNS, SMP over HTTP) to a real
SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL: which discovery outcomes e-mail the document
and which must not, the received MIME (attachments, headers, language), a temporary SMTP failure then
success (the same stored bytes resent), a permanent failure, and the evidence, timeline and webhooks;
a BT-1 with a line break (the subject and the attachments' names are built from it)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

import pytest
from as4_support import RECEIVER, dev_pki
from buyer_contact import BUYER_EMAIL, with_buyer_contact
from delivery_support import SettableClock, UUIDs, queue_document, webhook_statuses
from mail_support import MailRelay, parse_mail, relay_fixture  # noqa: F401 - the relay fixture

from gateway.bootstrap import render_pdf
from gateway.devnet import DevEndpoint, DevNetwork, DevService
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE
from gateway.model.message import DeliveryEvent, DeliveryStatus, OutboundDocument
from gateway.services.deliver import Deliverer, DeliveryResult, DeliverySettings
from gateway.services.email_fallback import EmailChannel
from gateway.services.ports import Mailer
from gateway.store import SQLDocumentStore
from gateway.transport.smtp import SMTPMailer, SMTPSettings
from gateway.worker import BackoffPolicy
from tests.contract.store_databases import BACKENDS
from tests.discovery_support import resolver_for
from tests.integration.conftest import backend_store

SENDER = "invoices@coop.test"


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, module_stores: dict[str, SQLDocumentStore]) -> SQLDocumentStore:
    return backend_store(request, module_stores)


@pytest.fixture
def network() -> Iterator[DevNetwork]:
    with DevNetwork(dev_pki().pki) as net:
        yield net  # RECEIVER is published nowhere: not registered


def _deliver(
    store: SQLDocumentStore,
    network: DevNetwork,
    clock: SettableClock,
    port: int,
    mailer_for: Callable[[Mailer], Mailer] | None = None,
) -> DeliveryResult:
    """Deliver the one due job (``mailer_for``: wraps the SMTP adapter, for a test to look in)."""

    async def go() -> DeliveryResult:
        from gateway.transport.http import HTTPAS4Transport

        async with HTTPAS4Transport(connect_timeout=2.0, send_timeout=5.0) as transport:
            smtp = SMTPMailer(SMTPSettings(host="127.0.0.1", port=port, starttls=False, timeout=5.0))
            mailer = smtp if mailer_for is None else mailer_for(smtp)
            deliverer = Deliverer(
                store=store,
                resolver=resolver_for(network, clock),  # type: ignore[arg-type]
                transport=transport,
                identity=dev_pki().sender,
                trust=dev_pki().trust,
                clock=clock,
                ids=UUIDs(),
                retry=BackoffPolicy(base=timedelta(seconds=30), max_attempts=12),
                jitter=random.Random(3).random,
                settings=DeliverySettings(
                    message_id_domain="gw.test",
                    lease_for=timedelta(minutes=5),
                    webhook_url="https://hooks.test/gw",
                ),
                email=EmailChannel(mailer, SENDER, render_pdf),
            )
            if isinstance(mailer, WatchingMailer):
                mailer.deliverer = deliverer
            with store.unit_of_work() as uow:
                (lease,) = uow.jobs.lease(now=clock.now(), limit=1, lease_for=timedelta(minutes=5), token="w")
                uow.commit()
            return await deliverer.deliver_one(lease)

    return asyncio.run(go())


class WatchingMailer:
    """The SMTP adapter, noting how many deliveries ``before_endpoints`` counts while each e-mail is sent."""

    def __init__(self, inner: Mailer) -> None:
        self.inner = inner
        self.deliverer: Deliverer | None = None
        self.before: list[int] = []

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        assert self.deliverer is not None
        self.before.append(self.deliverer.before_endpoints())
        return await self.inner.send(message, sender=sender, recipients=recipients)


def _document(store: SQLDocumentStore, document_id: str) -> OutboundDocument:
    with store.unit_of_work(read_only=True) as uow:
        document = uow.outbound.get(document_id)
    assert document is not None
    return document


def test_a_buyer_not_registered_gets_the_invoice_by_email(
    store: SQLDocumentStore, network: DevNetwork, relay: tuple[MailRelay, int]
) -> None:
    handler, port = relay
    clock = SettableClock()
    body = with_buyer_contact(BUYER_EMAIL, "BE", "9000")  # Ghent: Dutch
    document_id = queue_document(store, body=body, number="INV-MAIL-1")

    result = _deliver(store, network, clock, port)

    assert result.status is DeliveryStatus.DELIVERED_BY_EMAIL, result.reason
    document = _document(store, document_id)
    assert document.status is DeliveryStatus.DELIVERED_BY_EMAIL
    ((mail_from, rcpt, content),) = handler.received
    assert (mail_from, rcpt) == (SENDER, [BUYER_EMAIL])
    mail = parse_mail(content)
    assert mail["Message-ID"] == f"<{document.as4_message_id}>"
    assert mail["X-Gateway-Document-Id"] == document_id
    assert mail["Subject"] == "Factuur KIT-2024-0001"  # BT-1 of the UBL
    text = mail.get_body(("plain",))
    assert text is not None
    assert text["Content-Language"] == "nl"
    assert "Peppol" in text.get_content()
    assert "bijlage" in text.get_content()
    attachments = {part.get_filename(): part for part in mail.iter_attachments()}
    pdf = attachments[next(name for name in attachments if str(name).endswith(".pdf"))]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF")
    xml = attachments[next(name for name in attachments if str(name).endswith(".xml"))]
    assert xml.get_content_type() == "application/xml"
    assert xml.get_content() == body

    with store.unit_of_work(read_only=True) as uow:
        timeline = uow.outbound.timeline(document_id)
        (stored,) = uow.messages.for_document(document_id)
    assert [e.event for e in timeline] == [
        DeliveryEvent.SUBMITTED,
        DeliveryEvent.SEND_STARTED,
        DeliveryEvent.EMAIL_ACCEPTED,
    ]
    started = timeline[1].detail or {}
    assert started["channel"] == "email"
    assert started["to"] == BUYER_EMAIL
    assert str(started["discovery"]).startswith("not-registered")
    assert "250" in str((timeline[2].detail or {})["smtp_reply"])
    # The evidence is the exact MIME sent (the relay gets it with the SMTP line ends and dot-stuffing undone).
    assert stored.message_id == document.as4_message_id
    assert dict(stored.request.headers)["Content-Type"] == "message/rfc822"
    assert stored.request.body.rstrip(b"\r\n") == content.rstrip(b"\r\n")
    assert set(webhook_statuses(store, clock)) == {"sending", "delivered_by_email"}


def test_a_document_type_not_supported_is_emailed_in_french(
    store: SQLDocumentStore, network: DevNetwork, relay: tuple[MailRelay, int]
) -> None:
    handler, port = relay
    endpoint = DevEndpoint("https://ap.example/as4", dev_pki().pki.aps["POP000002"].certificate)
    network.publish(RECEIVER, [DevService(BIS_CREDIT_NOTE, ((BIS_BILLING_PROCESS, (endpoint,)),))])
    queue_document(store, body=with_buyer_contact(BUYER_EMAIL, "BE", "1000"))  # Brussels: French
    result = _deliver(store, network, SettableClock(), port)
    assert result.status is DeliveryStatus.DELIVERED_BY_EMAIL, result.reason
    mail = parse_mail(handler.received[0][2])
    assert (mail.get_body(("plain",)) or {})["Content-Language"] == "fr"
    assert mail["Subject"].startswith("Facture ")


def test_a_temporary_smtp_failure_is_retried_with_the_same_message(
    store: SQLDocumentStore, network: DevNetwork, relay: tuple[MailRelay, int]
) -> None:
    handler, port = relay
    clock = SettableClock()
    handler.script.append("451 4.3.0 try again later")
    document_id = queue_document(store, body=with_buyer_contact(BUYER_EMAIL, "NO", "0150"))

    first = _deliver(store, network, clock, port)
    assert first.status is DeliveryStatus.RETRYING
    document = _document(store, document_id)
    assert (document.status_reason or "").startswith("smtp-temporary-failure: 451")
    assert document.next_attempt_at is not None
    assert handler.received == []

    clock.current = document.next_attempt_at
    second = _deliver(store, network, clock, port)
    assert second.status is DeliveryStatus.DELIVERED_BY_EMAIL, second.reason
    ((_, _, content),) = handler.received
    mail = parse_mail(content)
    assert mail["Message-ID"] == f"<{document.as4_message_id}>"  # the stored message, not a new one
    assert (mail.get_body(("plain",)) or {})["Content-Language"] == "en"
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.messages.for_document(document_id)) == 1
        events = [e.event for e in uow.outbound.timeline(document_id)]
    assert events == [
        DeliveryEvent.SUBMITTED,
        DeliveryEvent.SEND_STARTED,
        DeliveryEvent.RETRYABLE_FAILURE,
        DeliveryEvent.SEND_STARTED,
        DeliveryEvent.EMAIL_ACCEPTED,
    ]


def test_a_permanent_smtp_failure_fails_with_the_smtp_reason(
    store: SQLDocumentStore, network: DevNetwork, relay: tuple[MailRelay, int]
) -> None:
    handler, port = relay
    clock = SettableClock()
    handler.script.append("550 5.1.1 mailbox unavailable")
    document_id = queue_document(store, body=with_buyer_contact(BUYER_EMAIL, "BE", "4000"))
    result = _deliver(store, network, clock, port)
    assert result.status is DeliveryStatus.FAILED
    reason = _document(store, document_id).status_reason or ""
    assert reason.startswith("smtp-permanent-failure: 550 5.1.1 mailbox unavailable"), reason
    assert set(webhook_statuses(store, clock)) == {"sending", "failed"}


@pytest.mark.parametrize(
    ("break_it", "status", "reason"),
    [
        ("smp-unreachable", DeliveryStatus.RETRYING, "smp-unreachable: "),
        ("bad-signature", DeliveryStatus.FAILED, "bad-smp-signature: "),
        ("no-email", DeliveryStatus.FAILED, "receiver-not-registered: "),
    ],
)
def test_other_outcomes_are_not_emailed(
    store: SQLDocumentStore,
    network: DevNetwork,
    relay: tuple[MailRelay, int],
    break_it: str,
    status: DeliveryStatus,
    reason: str,
) -> None:
    handler, port = relay
    email: str | None = BUYER_EMAIL
    if break_it == "smp-unreachable":
        endpoint = DevEndpoint("https://ap.example/as4", dev_pki().pki.aps["POP000002"].certificate)
        network.publish(RECEIVER, [DevService(BIS_INVOICE, ((BIS_BILLING_PROCESS, (endpoint,)),))])
        network.smp.fail_status = 503
    elif break_it == "bad-signature":
        endpoint = DevEndpoint("https://ap.example/as4", dev_pki().pki.aps["POP000002"].certificate)
        network.publish(RECEIVER, [DevService(BIS_INVOICE, ((BIS_BILLING_PROCESS, (endpoint,)),))])
        network.smp.tampered.add(RECEIVER)
    else:
        email = None
    document_id = queue_document(store, body=with_buyer_contact(email, "BE", "9000"))
    result = _deliver(store, network, SettableClock(), port)
    assert result.status is status
    assert (_document(store, document_id).status_reason or "").startswith(reason)
    assert handler.received == []


def test_a_delivery_by_email_does_not_count_as_before_an_endpoint_while_it_is_sent(
    store: SQLDocumentStore, network: DevNetwork, relay: tuple[MailRelay, int]
) -> None:
    # An e-mailed document never reaches an endpoint's slot: a full worker must not put off saying busy for
    # it while the SMTP relay answers (Workers, busy signal, review pass).
    _, port = relay
    queue_document(store, body=with_buyer_contact(BUYER_EMAIL, "BE", "9000"), number="INV-MAIL-BEFORE")
    watching: list[WatchingMailer] = []

    def wrap(inner: Mailer) -> Mailer:
        watching.append(WatchingMailer(inner))
        return watching[-1]

    result = _deliver(store, network, SettableClock(), port, mailer_for=wrap)
    assert result.status is DeliveryStatus.DELIVERED_BY_EMAIL, result.reason
    assert watching[0].before == [0]


def test_a_document_number_with_a_line_break_is_emailed_without_a_header_injected(
    store: SQLDocumentStore, network: DevNetwork, relay: tuple[MailRelay, int]
) -> None:
    handler, port = relay
    body = with_buyer_contact(BUYER_EMAIL, "BE", "9000")
    hostile = body.replace(
        b"<cbc:ID>KIT-2024-0001</cbc:ID>", b"<cbc:ID>KIT-1&#13;&#10;Bcc: evil@example.org</cbc:ID>", 1
    )
    assert hostile != body
    queue_document(store, body=hostile, number="INV-MAIL-CRLF")

    result = _deliver(store, network, SettableClock(), port)

    assert result.status is DeliveryStatus.DELIVERED_BY_EMAIL, result.reason
    ((_, rcpt, content),) = handler.received
    assert rcpt == [BUYER_EMAIL]
    mail = parse_mail(content)
    assert mail["Bcc"] is None
    assert mail["Subject"] == "Factuur KIT-1 Bcc: evil@example.org"
    # The attachments' names: the number's characters that are no file name's become dashes.
    names = sorted(str(part.get_filename()) for part in mail.iter_attachments())
    assert names == ["KIT-1-Bcc-evil-example.org.pdf", "KIT-1-Bcc-evil-example.org.xml"]


def test_a_buyer_address_smtp_cannot_carry_fails_the_document_with_a_reason(
    store: SQLDocumentStore, network: DevNetwork, relay: tuple[MailRelay, int]
) -> None:
    """A non-ASCII local part (no SMTPUTF8 asked for): smtplib's UnicodeEncodeError crashed the delivery."""
    handler, port = relay
    body = with_buyer_contact("josé@buyer.test", "BE", "9000")
    document_id = queue_document(store, body=body, number="INV-MAIL-UTF8")

    result = _deliver(store, network, SettableClock(), port)

    assert result.status is DeliveryStatus.FAILED, result.reason
    assert "ASCII" in (_document(store, document_id).status_reason or "")
    assert handler.received == []
