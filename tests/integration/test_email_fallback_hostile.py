"""E-mail fallback of documents whose values would break the e-mail's headers: a BT-1 document number with
a line break (the subject is built from it) is e-mailed with a one-line subject, no header injected."""

from __future__ import annotations

from buyer_contact import BUYER_EMAIL, with_buyer_contact
from delivery_support import SettableClock, queue_document
from mail_support import MailRelay, parse_mail, relay_fixture  # noqa: F401 - the relay fixture

from gateway.devnet import DevNetwork
from gateway.model.message import DeliveryStatus
from gateway.store import SQLDocumentStore
from tests.integration.test_email_fallback import _deliver, network, store  # noqa: F401 - fixtures


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
