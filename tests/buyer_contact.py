"""The sample invoice (``as4_support.INVOICE``) with a buyer e-mail (BT-58) and address (BT-53, BT-55): what
the e-mail fallback reads to reach the buyer and choose the language. Shared by the fallback's integration
tests and the unit tests of the deliverer (tests/ is on sys.path via conftest)."""

from __future__ import annotations

from as4_support import INVOICE

BUYER_EMAIL = "kunde@buyer.test"


def with_buyer_contact(email: str | None, country: str, postcode: str) -> bytes:
    """The sample invoice with a buyer e-mail (BT-58, unless None) and address (BT-53, BT-55)."""
    head, sep, buyer = INVOICE.read_bytes().partition(b"<cac:AccountingCustomerParty>")
    buyer = buyer.replace(
        b"<cbc:PostalZone>0150</cbc:PostalZone>", f"<cbc:PostalZone>{postcode}</cbc:PostalZone>".encode(), 1
    )
    buyer = buyer.replace(
        b"<cbc:IdentificationCode>NO</cbc:IdentificationCode>",
        f"<cbc:IdentificationCode>{country}</cbc:IdentificationCode>".encode(),
        1,
    )
    if email is not None:
        marker = b"</cac:PartyLegalEntity>"
        contact = f"<cac:Contact><cbc:ElectronicMail>{email}</cbc:ElectronicMail></cac:Contact>"
        buyer = buyer.replace(marker, marker + contact.encode(), 1)
    return head + sep + buyer
