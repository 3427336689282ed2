"""Readers of single UBL fields for the rendering view: text, dates, decimals, amounts and parties.

Every reader is lenient: a foreign document that is well-formed but odd (a blank element, an amount that
is not a number) still renders, showing what it states.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final

from lxml import etree

from gateway.render.view import Address, Amount, Contact, Identifier, Party
from gateway.xmlcore import NS

Element = etree._Element

#: UBL prefixes used by the readers below.
UBL: dict[str, str] = {"cac": NS["cac"], "cbc": NS["cbc"]}
#: ``xsd:decimal`` (XML Schema 1.1 Part 2 §3.3.3), ASCII digits only, spaces around it allowed.
_XSD_DECIMAL: Final = re.compile(r"\s*[+-]?([0-9]*)(?:\.([0-9]*))?\s*", re.ASCII)
#: Significant digits ``Decimal`` keeps (its default context's precision), so also Babel's.
MAX_DIGITS: Final = 28
#: UBL 2.1 TaxScheme/ID of value added tax (BT-31 versus BT-32, UBL binding of EN 16931).
VAT_SCHEME = "VAT"


def text(el: Element | None, path: str) -> str | None:
    """Whitespace-normalised text at ``path`` below ``el``; None when absent or blank."""
    if el is None:
        return None
    found = el.find(path, UBL)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def texts(el: Element | None, path: str) -> tuple[str, ...]:
    """Every non-blank text at ``path`` below ``el``, in document order (notes keep their line breaks)."""
    if el is None:
        return ()
    values = (found.text.strip() for found in el.findall(path, UBL) if found.text)
    return tuple(value for value in values if value)


def attr(el: Element | None, path: str, name: str) -> str | None:
    """Stripped attribute ``name`` of the element at ``path``; None when absent or blank."""
    if el is None:
        return None
    found = el.find(path, UBL)
    value = found.get(name) if found is not None else None
    return value.strip() if value and value.strip() else None


def children(el: Element | None, path: str) -> list[Element]:
    """Every element at ``path`` below ``el``."""
    return [] if el is None else list(el.findall(path, UBL))


def child(el: Element | None, path: str) -> Element | None:
    """The first element at ``path`` below ``el``."""
    return None if el is None else el.find(path, UBL)


def to_decimal(value: str | None) -> Decimal | None:
    """The decimal value of ``value``; None when absent, not an ``xsd:decimal`` or with more digits than can
    be printed (the page then shows the text as stated).

    Only the ``xsd:decimal`` form (UBL amounts, quantities and rates): ``Decimal`` also reads ``1E-999999``,
    which Babel printed as a million characters, and ``1E+100000``, which it could not print at all
    (``InvalidOperation``: the page answered 500). At most ``MAX_DIGITS`` digits, counting the four decimals a
    currency may be rounded to: rounding a longer number exceeds ``Decimal``'s precision the same way.
    """
    if value is None:
        return None
    found = _XSD_DECIMAL.fullmatch(value)
    if found is None or not (found.group(1) or found.group(2)):
        return None
    whole, fraction = found.group(1).lstrip("0"), found.group(2) or ""
    if len(whole) + max(len(fraction), 4) > MAX_DIGITS:
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
        return None


def decimal(el: Element | None, path: str) -> Decimal | None:
    """The decimal at ``path``; None when absent or not a number."""
    return to_decimal(text(el, path))


def day(el: Element | None, path: str) -> date | None:
    """The ISO date (YYYY-MM-DD, UBL xsd:date) at ``path``; None when absent or malformed."""
    value = text(el, path)
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def amount(el: Element | None, path: str) -> Amount | None:
    """The amount at ``path`` with its @currencyID; None when absent."""
    value = text(el, path)
    if value is None:
        return None
    return Amount(value=to_decimal(value), currency=attr(el, path, "currencyID") or "", raw=value)


def identifier(el: Element | None, path: str, scheme_attr: str = "schemeID") -> Identifier | None:
    """The identifier at ``path`` with its scheme attribute; None when absent."""
    value = text(el, path)
    return None if value is None else Identifier(value, attr(el, path, scheme_attr))


def address(el: Element | None) -> Address | None:
    """A cac:PostalAddress or cac:Address (BG-5, BG-8, BG-12, BG-15); None when absent or empty."""
    if el is None:
        return None
    lines = tuple(
        value
        for value in (
            text(el, "cbc:StreetName"),
            text(el, "cbc:AdditionalStreetName"),
            *(" ".join((line.text or "").split()) for line in children(el, "cac:AddressLine/cbc:Line")),
        )
        if value
    )
    found = Address(
        lines=lines,
        city=text(el, "cbc:CityName"),
        postal_zone=text(el, "cbc:PostalZone"),
        subdivision=text(el, "cbc:CountrySubentity"),
        country=text(el, "cac:Country/cbc:IdentificationCode"),
    )
    return None if found == Address() else found


def contact(el: Element | None) -> Contact | None:
    """A cac:Contact (BG-6, BG-9); None when absent or empty."""
    if el is None:
        return None
    found = Contact(
        name=text(el, "cbc:Name"),
        telephone=text(el, "cbc:Telephone"),
        email=text(el, "cbc:ElectronicMail"),
    )
    return None if found == Contact() else found


def party(el: Element | None) -> Party:
    """A cac:Party (seller, buyer, payee, tax representative); an empty Party when absent."""
    if el is None:
        return Party()
    registration = text(el, "cac:PartyLegalEntity/cbc:RegistrationName")
    trading = text(el, "cac:PartyName/cbc:Name")
    vat_id = tax_registration = None
    for scheme in children(el, "cac:PartyTaxScheme"):
        company = text(scheme, "cbc:CompanyID")
        if text(scheme, "cac:TaxScheme/cbc:ID") == VAT_SCHEME:
            vat_id = vat_id or company
        else:  # BT-32: the seller's tax registration other than VAT (e.g. "FC")
            tax_registration = tax_registration or company
    return Party(
        name=registration or trading,
        trading_name=trading if registration and trading and trading != registration else None,
        endpoint=identifier(el, "cbc:EndpointID"),
        identifiers=tuple(
            Identifier(value, found.get("schemeID"))
            for found in children(el, "cac:PartyIdentification/cbc:ID")
            if (value := " ".join((found.text or "").split()))
        ),
        legal_id=identifier(el, "cac:PartyLegalEntity/cbc:CompanyID"),
        vat_id=vat_id,
        tax_registration=tax_registration,
        legal_form=text(el, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        address=address(child(el, "cac:PostalAddress")),
        contact=contact(child(el, "cac:Contact")),
    )
