"""Parties of an invoice: seller (BG-4), buyer (BG-7), payee (BG-10), tax representative (BG-11).

The Party model is general (incoming invoices have arbitrary sellers). For the cooperative's own
documents it also carries the issuing activity (production unit), which bis-billing.md §7 maps onto the
trading name BT-28 and the contact BG-6, and the IBAN used to build BG-17 when no payment means is given.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import normalise_be_enterprise_number
from gateway.model.values import Code, CountryCode, ElectronicAddress, Identifier, ModelBase, Text


class Address(ModelBase):
    """A postal address: BG-5 (seller), BG-8 (buyer), BG-12 (tax representative), BG-15 (deliver to)."""

    street: Text | None = None
    """BT-35/50/64/75 address line 1 (UBL ``cbc:StreetName``)."""
    additional_street: Text | None = None
    """BT-36/51/65/76 address line 2 (UBL ``cbc:AdditionalStreetName``)."""
    address_line: Text | None = None
    """BT-162/163/164/165 address line 3 (UBL ``cac:AddressLine/cbc:Line``)."""
    city: Text | None = None
    """BT-37/52/66/77 city."""
    postal_code: Text | None = None
    """BT-38/53/67/78 post code."""
    subdivision: Text | None = None
    """BT-39/54/68/79 country subdivision."""
    country: CountryCode
    """BT-40/55/69/80 country code (ISO 3166-1 alpha-2)."""


class Contact(ModelBase):
    """A contact point: BG-6 (seller) or BG-9 (buyer)."""

    name: Text | None = None
    """BT-41/56 contact point."""
    telephone: Text | None = None
    """BT-42/57 contact telephone number."""
    email: Text | None = Field(
        default=None,
        description="BT-43/58 contact e-mail address. The buyer's is where the invoice is e-mailed when the "
        "buyer is not on Peppol; a buyer without any Peppol id (a private person) is e-mailed only, this "
        "address becoming its BT-49 with scheme EM",
    )
    """BT-43/58 contact e-mail address (see the description)."""


class Activity(ModelBase):
    """The cooperative's internal activity (production unit) that issued the document.

    Not an EN 16931 element: it is written only through the trading name BT-28 and the contact BG-6
    (bis-billing.md §7; never as BT-29), and kept for our own routing and records.
    """

    code: Text
    """Production-unit code, e.g. ``PU-04711``."""
    trading_name: Text
    """The activity's trading name, shown in BT-28 as ``<legal name> - <trading name> (<code>)``."""
    contact: Contact | None = None
    """The activity's contact person and mailbox (becomes BG-6)."""


class TaxRegistration(ModelBase):
    """BT-32 seller tax registration identifier under a tax scheme other than VAT."""

    value: Text
    scheme: Code = "TAX"
    """UBL ``cac:TaxScheme/cbc:ID`` (anything but ``VAT``)."""


def _compact_vat(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value).upper()


class Party(ModelBase):
    """A trading party: the seller (BG-4) or the buyer (BG-7).

    Input sugar for the cooperative's JSON: ``enterprise_number`` (a Belgian KBO/BCE number, mod-97
    checked) fills ``legal_registration_id`` and, when absent, ``endpoint`` with scheme ``0208``;
    ``vat_number`` is an alias of ``vat_identifier``.
    """

    legal_name: Text
    """BT-27 seller name / BT-44 buyer name (UBL ``PartyLegalEntity/RegistrationName``)."""
    trading_name: Text | None = None
    """BT-28 seller trading name / BT-45 buyer trading name (UBL ``PartyName/Name``)."""
    identifiers: tuple[Identifier, ...] = ()
    """BT-29 seller identifiers (incl. BT-90 with scheme ``SEPA``) / BT-46 buyer identifier."""
    legal_registration_id: Identifier | None = None
    """BT-30 seller / BT-47 buyer legal registration identifier (``0208`` = Belgian enterprise number)."""
    vat_identifier: Text | None = None
    """BT-31 seller / BT-48 buyer VAT identifier, with its country prefix (BR-CO-09)."""
    tax_registration: TaxRegistration | None = None
    """BT-32 seller tax registration identifier (seller only)."""
    additional_legal_info: Text | None = None
    """BT-33 seller additional legal information (seller only; UBL ``CompanyLegalForm``)."""
    endpoint: ElectronicAddress | None = Field(
        default=None,
        description="BT-34 seller / BT-49 buyer electronic address: a Peppol participant id (scheme 0208, "
        "9925...). A buyer outside Peppol may have scheme EM and its e-mail address (e-mailed, no Peppol); "
        "left out, the buyer's contact.email fills it that way; with neither the document is refused (422)",
    )
    """Filled for a buyer from ``contact.email`` by ``gateway.model.completion``."""
    address: Address
    """BG-5 seller / BG-8 buyer postal address."""
    contact: Contact | None = None
    """BG-6 seller / BG-9 buyer contact."""
    activity: Activity | None = None
    """The cooperative's issuing activity (not written to UBL except via BT-28 and BG-6)."""
    iban: Text | None = None
    """The seller's IBAN: builds BG-17 when the document names no payment means (not a UBL party field)."""

    @model_validator(mode="before")
    @classmethod
    def _sugar(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        vat = data.pop("vat_number", None)
        if vat is not None:
            if data.get("vat_identifier") not in (None, vat):
                raise ValueError("give vat_number or vat_identifier, not both")
            data["vat_identifier"] = _compact_vat(str(vat))
        kbo = data.pop("enterprise_number", None)
        if kbo is not None:
            try:
                number = normalise_be_enterprise_number(str(kbo))
            except InvalidIdentifier as exc:
                raise ValueError(str(exc)) from exc
            data.setdefault("legal_registration_id", {"value": number, "scheme": "0208"})
            data.setdefault("endpoint", {"value": number, "scheme": "0208"})
        if isinstance(data.get("iban"), str):
            data["iban"] = re.sub(r"\s", "", data["iban"]).upper()
        return data


class Payee(ModelBase):
    """BG-10 payee, when different from the seller (UBL ``cac:PayeeParty``)."""

    name: Text
    """BT-59 payee name."""
    identifier: Identifier | None = None
    """BT-60 payee identifier (scheme ``SEPA`` for the BT-90 creditor id)."""
    legal_registration_id: Identifier | None = None
    """BT-61 payee legal registration identifier."""


class TaxRepresentative(ModelBase):
    """BG-11 seller tax representative party (UBL ``cac:TaxRepresentativeParty``)."""

    name: Text
    """BT-62 seller tax representative name."""
    vat_identifier: Text
    """BT-63 seller tax representative VAT identifier."""
    address: Address
    """BG-12 seller tax representative postal address."""
