"""E-mail fallback: when the buyer cannot receive a document over Peppol, e-mail it (sans-IO part).

Which discovery outcomes fall back (``falls_back``), who receives it (BT-58 buyer contact e-mail,
``cac:AccountingCustomerParty/cac:Party/cac:Contact/cbc:ElectronicMail``: the JSON model's
``buyer.contact.email``; a ready UBL carries it the same way), in which language (``language_for``), and the
MIME itself (``compose``): a short text, the PDF rendering and the UBL attached (named as the document's
downloads, ``render.file_names.Named``, in the e-mail's language: ``note-de-credit-<number>.pdf`` for a credit
note to a French reader), a Message-ID and our
document id in ``X-Gateway-Document-Id``. Sending is the ``Mailer`` port's; the bytes composed here are stored
before they are sent and every retry resends them unchanged (same Message-ID), like an AS4 message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from typing import Final

from lxml import etree

from gateway.errors import (
    DiscoveryError,
    DocumentTypeNotSupported,
    GatewayError,
    ParticipantNotRegistered,
)
from gateway.model.identifiers import is_email_syntax
from gateway.model.message import AS4MessageRecord, OutboundDocument
from gateway.render.file_names import Named
from gateway.services.ports import Mailer, PDFRenderer
from gateway.xmlcore import NS, parse_xml

log = logging.getLogger("gateway.email")

EMAIL_CONTENT_TYPE: Final = "message/rfc822"
"""Content-Type under which the exact MIME sent is kept in the AS4 message table (the evidence)."""
DOCUMENT_ID_HEADER: Final = "X-Gateway-Document-Id"

#: Discovery outcomes (``gateway.smp.LookupOutcome`` values) that mean "not on Peppol for this document".
#: Every other one (SML/SMP unreachable, bad signature, no AS4 endpoint, rejected certificate...) is a
#: Peppol problem to retry or to fail on, never a reason to leave the network.
FALLBACK_OUTCOMES: Final = frozenset({"not-registered", "document-type-not-supported"})

# Belgian postal codes by language region: Flanders 1500-3999 and 8000-9999 (nl); Brussels 1000-1299 and
# Wallonia 1300-1499, 4000-7999 (fr). German-speaking communes (4700-4799, ...) get French: no de catalogue.
_BE_DUTCH: Final = ((1500, 3999), (8000, 9999))
_FRENCH_COUNTRIES: Final = frozenset({"FR", "LU", "MC", "CH"})
_DUTCH_COUNTRIES: Final = frozenset({"NL", "SR"})


@dataclass(frozen=True, slots=True)
class BuyerContact:
    """What the e-mail needs from the UBL.

    Attributes:
        email: BT-58 buyer contact e-mail, or None (no fallback then).
        name: BT-44 buyer name.
        country: BT-55 buyer country code (upper case), or None.
        postcode: BT-53 buyer post code, or None.
        number: BT-1.
        credit_note: True for a CreditNote.
        seller: BT-27 seller name (signs the text).
    """

    email: str | None
    name: str
    country: str | None
    postcode: str | None
    number: str
    credit_note: bool
    seller: str = ""


@dataclass(frozen=True, slots=True)
class ComposedEmail:
    """An e-mail ready to send: its Message-ID (without angle brackets), recipient and exact bytes."""

    message_id: str
    recipient: str
    mime: bytes
    language: str


@dataclass(frozen=True, slots=True)
class EmailChannel:
    """The e-mail fallback as configured (``GATEWAY_MAIL__…``).

    Attributes:
        mailer: the SMTP adapter.
        sender: the From address (``GATEWAY_MAIL__FROM``), also the SMTP envelope sender.
        render_pdf: the PDF renderer, or None (the UBL alone is attached).
    """

    mailer: Mailer
    sender: str
    render_pdf: PDFRenderer | None = None


def falls_back(exc: DiscoveryError) -> bool:
    """True when ``exc`` says the buyer cannot receive this document on Peppol at all."""
    if isinstance(exc, ParticipantNotRegistered | DocumentTypeNotSupported):
        return True
    return getattr(exc.outcome, "value", None) in FALLBACK_OUTCOMES


def read_buyer(ubl: bytes) -> BuyerContact:
    """Read the buyer's contact facts from a BIS Billing Invoice or CreditNote (stored, so valid)."""
    root = parse_xml(ubl, what="UBL document")
    party = root.find("cac:AccountingCustomerParty/cac:Party", NS)

    def text(path: str) -> str | None:
        found = party.find(path, NS) if party is not None else None
        value = (found.text or "").strip() if found is not None else ""
        return value or None

    email = text("cac:Contact/cbc:ElectronicMail")
    number = root.find("cbc:ID", NS)
    return BuyerContact(
        # Syntax only: a non-ASCII address (refused at submission since, but stored before, or a posted UBL's
        # BT-58) is tried, and the SMTP adapter's refusal names why it cannot be e-mailed.
        email=email if email is not None and is_email_syntax(email) else None,
        name=text("cac:PartyLegalEntity/cbc:RegistrationName") or text("cac:PartyName/cbc:Name") or "",
        country=(text("cac:PostalAddress/cac:Country/cbc:IdentificationCode") or "").upper() or None,
        postcode=text("cac:PostalAddress/cbc:PostalZone"),
        number=(number.text or "").strip() if number is not None else "",
        credit_note=root.tag.endswith("}CreditNote"),
        seller=_text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName"),
    )


def _text(root: etree._Element, path: str) -> str:
    found = root.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def language_for(country: str | None, postcode: str | None) -> str:
    """The buyer's language from its address: fr, nl or en (the render catalogues).

    Belgium is split by postal code region (Flemish codes give nl, Brussels and Wallonia fr); France,
    Luxembourg, Monaco and Switzerland give fr; the Netherlands and Suriname nl; anywhere else en.
    """
    if country == "BE":
        digits = re.match(r"\d{4}", (postcode or "").strip())
        if digits is not None and any(lo <= int(digits.group()) <= hi for lo, hi in _BE_DUTCH):
            return "nl"
        return "fr"
    if country in _FRENCH_COUNTRIES:
        return "fr"
    if country in _DUTCH_COUNTRIES:
        return "nl"
    return "en"


_SUBJECT: Final = {
    "fr": ("Facture {n}", "Note de crédit {n}"),
    "nl": ("Factuur {n}", "Creditnota {n}"),
    "en": ("Invoice {n}", "Credit note {n}"),
}
_BODY: Final = {
    "fr": (
        "Bonjour,\n\nVous trouverez ci-joint {what} {n} de {seller}, en PDF et au format électronique "
        "UBL (Peppol BIS Billing 3.0).\nVotre adresse ne permet pas de la recevoir par le réseau Peppol ; "
        "c'est pourquoi nous vous l'envoyons par e-mail.\n\nCordialement,\n{seller}\n"
    ),
    "nl": (
        "Goeiedag,\n\nIn bijlage vindt u {what} {n} van {seller}, als PDF en in elektronisch UBL-formaat "
        "(Peppol BIS Billing 3.0).\nU bent niet bereikbaar via het Peppol-netwerk; daarom sturen wij ze u "
        "per e-mail.\n\nMet vriendelijke groeten,\n{seller}\n"
    ),
    "en": (
        "Hello,\n\nPlease find attached {what} {n} from {seller}, as a PDF and in electronic UBL format "
        "(Peppol BIS Billing 3.0).\nYou cannot receive it over the Peppol network, so we send it by "
        "e-mail.\n\nKind regards,\n{seller}\n"
    ),
}
_WHAT: Final = {
    "fr": ("la facture", "la note de crédit"),
    "nl": ("factuur", "creditnota"),
    "en": ("invoice", "credit note"),
}


def compose(
    document: OutboundDocument,
    ubl: bytes,
    buyer: BuyerContact,
    *,
    sender: str,
    message_id: str,
    at: datetime,
    render_pdf: PDFRenderer | None,
) -> ComposedEmail:
    """Write the e-mail for ``document`` (RFC 5322 with CRLF line ends, RFC 2045 MIME).

    The PDF is attached when ``render_pdf`` succeeds; a rendering failure is logged and the UBL alone goes
    (the UBL is the legal document; the PDF is a reading aid).

    Raises:
        ValueError: ``buyer.email`` is None.
    """
    if buyer.email is None:
        raise ValueError("no buyer e-mail address")
    language = language_for(buyer.country, buyer.postcode)
    which = 1 if buyer.credit_note else 0
    # BT-1 is the sender's text: a line break in it (any that str.splitlines knows) would make the Subject
    # header refused (ValueError, the delivery stuck); it goes on one line, runs of whitespace as one space.
    number = " ".join(buyer.number.split())
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = buyer.email
    msg["Subject"] = _SUBJECT[language][which].format(n=number)
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = f"<{message_id}>"
    msg[DOCUMENT_ID_HEADER] = document.id
    msg.set_content(
        _BODY[language].format(what=_WHAT[language][which], n=number, seller=buyer.seller or sender),
        headers=[f"Content-Language: {language}"],  # RFC 3282: the language of the text part
    )
    # Named as the pages' and the API's downloads of the document: its kind and number (a credit note and an
    # invoice of one number are two names), the kind's word in the e-mail's language (``note-de-credit-``).
    # The ASCII name: RFC 2231's encoded names are not read by every mail client.
    named = Named(number, document.document_type, f"document-{document.id}")
    if render_pdf is not None:
        try:
            pdf = render_pdf(ubl, language)
        except GatewayError as exc:
            log.warning(
                "document %s: no PDF for the e-mail (%s); the UBL alone is attached", document.id, exc
            )
        else:
            pdf_name = named.names("pdf", language)[0]
            msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    msg.add_attachment(ubl, maintype="application", subtype="xml", filename=named.names("xml", language)[0])
    return ComposedEmail(message_id, buyer.email, msg.as_bytes(), language)


def is_email_record(record: AS4MessageRecord) -> bool:
    """True when a stored outbound message is a fallback e-mail, not an AS4 message."""
    return any(
        name.lower() == "content-type" and value == EMAIL_CONTENT_TYPE
        for name, value in record.request.headers
    )


def stored_recipients(mime: bytes) -> list[str]:
    """The To addresses of a stored e-mail (a retry resends it to them)."""
    headers = BytesHeaderParser(policy=SMTP).parsebytes(mime)
    return [address for _, address in getaddresses(headers.get_all("To", [])) if address]
