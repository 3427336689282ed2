"""The file names of the e-mail fallback's attachments (``services.email_fallback.compose``): named as the
pages' and the API's downloads (``render.file_names.Named``), so an invoice and a credit note of one number
arrive as two names, a credit note's word is in the buyer's language (the e-mail's), and a number's hostile
characters never reach a MIME header as a path, a quote or a header break."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from gateway.model.identifiers import (
    BIS_BILLING_PROCESS,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    DocumentTypeID,
    ParticipantID,
)
from gateway.model.message import DeliveryStatus, DocumentKind, OutboundDocument
from gateway.services.email_fallback import BuyerContact, compose

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
#: A buyer's (country, postal code) whose e-mail is written in each language (``language_for``).
ADDRESSES = {"en": ("DE", "10115"), "fr": ("BE", "1000"), "nl": ("BE", "9000")}


def _attachments(
    number: str, document_type: DocumentTypeID, *, pdf: bool = True, language: str = "en"
) -> list[str]:
    """The file names of the e-mail composed for a document of ``document_type`` numbered ``number``, to a
    buyer whose e-mail is written in ``language``."""
    country, postcode = ADDRESSES[language]
    document = OutboundDocument(
        id="0b5c1e7a-0000-4000-8000-000000000001",
        kind=DocumentKind.UBL,
        seller_id="seller",
        document_number=number,
        sender=ParticipantID.parse("0208:0739484052"),
        receiver=ParticipantID.parse("0208:0412345614"),
        document_type=document_type,
        process=BIS_BILLING_PROCESS,
        status=DeliveryStatus.SENDING,
        created_at=AT,
        updated_at=AT,
    )
    buyer = BuyerContact(
        email="buyer@example.test",
        name="Buyer",
        country=country,
        postcode=postcode,
        number=number,
        credit_note=document_type == BIS_CREDIT_NOTE,
        seller="Seller",
    )
    composed = compose(
        document,
        b"<Invoice/>",
        buyer,
        sender="invoices@coop.test",
        message_id="m1@gw.test",
        at=AT,
        render_pdf=(lambda ubl, language: b"%PDF-1.7") if pdf else None,
    )
    assert composed.language == language
    mail = message_from_bytes(composed.mime, policy=default)
    assert isinstance(mail, EmailMessage)
    return [str(part.get_filename()) for part in mail.iter_attachments()]


def test_a_credit_note_is_attached_under_its_kind_and_an_invoice_under_its_number() -> None:
    assert _attachments("2026-0001", BIS_CREDIT_NOTE) == [
        "credit-note-2026-0001.pdf",
        "credit-note-2026-0001.xml",
    ]
    assert _attachments("2026-0001", BIS_INVOICE) == ["2026-0001.pdf", "2026-0001.xml"]
    assert _attachments("2026-0001", BIS_CREDIT_NOTE, pdf=False) == ["credit-note-2026-0001.xml"]


@pytest.mark.parametrize(("language", "word"), [("fr", "note-de-credit"), ("nl", "creditnota")])
def test_a_credit_note_is_attached_under_its_word_in_the_buyers_language(language: str, word: str) -> None:
    assert _attachments("2026-0001", BIS_CREDIT_NOTE, language=language) == [
        f"{word}-2026-0001.pdf",
        f"{word}-2026-0001.xml",
    ]
    # An invoice: its number alone, in every language.
    assert _attachments("2026-0001", BIS_INVOICE, language=language) == ["2026-0001.pdf", "2026-0001.xml"]
    names = _attachments('CN"7"/../\r\n', BIS_CREDIT_NOTE, language=language)
    assert names == [f"{word}-CN-7.pdf", f"{word}-CN-7.xml"]


@pytest.mark.parametrize(
    ("number", "stem"),
    [
        ("../../etc/passwd", "credit-note-etc-passwd"),
        ('CN"7"; x=1', "credit-note-CN-7-x-1"),
        ("CN-1\r\nBcc: evil@example.org", "credit-note-CN-1-Bcc-evil-example.org"),
        ("FAC/2026/Ü 7", "credit-note-FAC-2026-U-7"),
        ("請求書", "credit-note-document-0b5c1e7a-0000-4000-8000-000000000001"),
        ("", "credit-note-document-0b5c1e7a-0000-4000-8000-000000000001"),
        ("C" * 300, "credit-note-" + "C" * 100),
        ("CN\u202egpj.exe", "credit-note-CNgpj.exe"),
    ],
)
def test_a_hostile_number_is_attached_under_a_safe_ascii_name(number: str, stem: str) -> None:
    names = _attachments(number, BIS_CREDIT_NOTE)
    assert names == [f"{stem}.pdf", f"{stem}.xml"]
    for name in names:
        assert name.isascii()
        assert name.isprintable()
        assert not any(ch in name for ch in '/\\"\r\n')
