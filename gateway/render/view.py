"""The read-only view of a BIS Billing 3.0 invoice or credit note that the templates receive.

It is built from the parsed UBL by ``gateway.render.extract`` and keeps every business term as stated,
including those the gateway's own model does not carry (a foreign supplier's document must render
faithfully). Amounts keep the stated text next to the decimal value: an unparsable figure is shown as
written instead of failing the rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Amount:
    """A stated amount (cbc:*Amount with @currencyID).

    Attributes:
        value: the decimal value, or None when the text is not a number.
        currency: ISO 4217 code from @currencyID (may be empty in an invalid document).
        raw: the text as written.
    """

    value: Decimal | None
    currency: str
    raw: str


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier with its scheme (@schemeID, or @listID for classifications)."""

    value: str
    scheme: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address (BG-5, BG-8, BG-12, BG-15)."""

    lines: tuple[str, ...] = ()
    city: str | None = None
    postal_zone: str | None = None
    subdivision: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact point (BG-6, BG-9)."""

    name: str | None = None
    telephone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    """A party: seller (BG-4), buyer (BG-7), payee (BG-10), tax representative (BG-11), deliver-to.

    Attributes:
        name: the legal registration name (BT-27/BT-44) or, failing it, the trading name.
        trading_name: the trading name (BT-28/BT-45) when it differs from ``name``.
        endpoint: the electronic address (BT-34/BT-49).
        identifiers: party identifiers (BT-29/BT-46/BT-60).
        legal_id: legal registration identifier (BT-30/BT-47/BT-61).
        vat_id: VAT identifier (BT-31/BT-48/BT-63).
        tax_registration: tax registration identifier other than VAT (BT-32).
        legal_form: additional legal information (BT-33).
    """

    name: str | None = None
    trading_name: str | None = None
    endpoint: Identifier | None = None
    identifiers: tuple[Identifier, ...] = ()
    legal_id: Identifier | None = None
    vat_id: str | None = None
    tax_registration: str | None = None
    legal_form: str | None = None
    address: Address | None = None
    contact: Contact | None = None


@dataclass(frozen=True, slots=True)
class Period:
    """An invoicing period (BG-14, BG-26) with its description code (BT-8)."""

    start: date | None = None
    end: date | None = None
    description_code: str | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    """A document reference: label key (e.g. "order"), the identifier and an optional issue date."""

    kind: str
    value: str
    scheme: str | None = None
    issue_date: date | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A supporting document (BG-24).

    Attributes:
        index: 0-based position among the document's attachments (the caller's download link uses it).
        identifier: BT-122.
        description: BT-123.
        filename: @filename of the embedded object (BT-125).
        mime_code: @mimeCode of the embedded object.
        size: decoded size in bytes of the embedded object, None when not embedded.
        url: external location (BT-124), shown as text, never fetched.
    """

    index: int
    identifier: str
    description: str | None = None
    filename: str | None = None
    mime_code: str | None = None
    size: int | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class AllowanceCharge:
    """A document-level (BG-20/BG-21) or line-level (BG-27/BG-28) allowance or charge."""

    charge: bool
    amount: Amount
    reason: str | None = None
    reason_code: str | None = None
    base_amount: Amount | None = None
    percent: Decimal | None = None
    vat_category: str | None = None
    vat_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """An invoice or credit-note line (BG-25)."""

    line_id: str
    name: str | None
    quantity: Decimal | None
    unit_code: str | None
    net_amount: Amount
    price: Amount | None = None
    price_base_quantity: Decimal | None = None
    price_discount: Amount | None = None
    gross_price: Amount | None = None
    vat_category: str | None = None
    vat_rate: Decimal | None = None
    description: str | None = None
    note: str | None = None
    accounting_cost: str | None = None
    order_line: str | None = None
    object_id: Identifier | None = None
    period: Period | None = None
    item_ids: tuple[Reference, ...] = ()
    origin_country: str | None = None
    classifications: tuple[Identifier, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    allowances_charges: tuple[AllowanceCharge, ...] = ()


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    """A VAT breakdown row (BG-23) with its exemption reason (BT-120, BT-121)."""

    category: str
    rate: Decimal | None
    taxable: Amount
    tax: Amount
    exemption_code: str | None = None
    exemption_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    """Document totals (BG-22) and the VAT totals (BT-110, BT-111)."""

    line_net: Amount | None = None
    allowances: Amount | None = None
    charges: Amount | None = None
    tax_exclusive: Amount | None = None
    vat: Amount | None = None
    vat_in_tax_currency: Amount | None = None
    tax_inclusive: Amount | None = None
    prepaid: Amount | None = None
    rounding: Amount | None = None
    payable: Amount | None = None


@dataclass(frozen=True, slots=True)
class PaymentMeans:
    """One payment instruction (BG-16) with its account (BG-17), card (BG-18) or mandate (BG-19)."""

    code: str | None
    code_name: str | None = None
    payment_id: str | None = None
    account_iban: str | None = None
    account_name: str | None = None
    account_bic: str | None = None
    card_number: str | None = None
    card_holder: str | None = None
    mandate_id: str | None = None
    debited_account: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Delivery information (BG-13)."""

    date: date | None = None
    location_id: Identifier | None = None
    party_name: str | None = None
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class DocumentView:
    """Everything a human-readable invoice or credit note shows (EN 16931 business terms).

    Attributes:
        credit_note: True for a UBL CreditNote.
        number: BT-1. issue_date: BT-2. due_date: BT-9. type_code: BT-3.
        currency: BT-5. tax_currency: BT-6. tax_point_date: BT-7.
        buyer_reference: BT-10. accounting_cost: BT-19. payment_terms: BT-20.
        notes: BT-22 (every note, in order). specification: BT-24. profile: BT-23.
    """

    credit_note: bool
    number: str
    issue_date: date | None
    type_code: str | None
    currency: str
    seller: Party
    buyer: Party
    due_date: date | None = None
    tax_currency: str | None = None
    tax_point_date: date | None = None
    buyer_reference: str | None = None
    accounting_cost: str | None = None
    payment_terms: str | None = None
    notes: tuple[str, ...] = ()
    specification: str | None = None
    profile: str | None = None
    period: Period | None = None
    references: tuple[Reference, ...] = ()
    payee: Party | None = None
    tax_representative: Party | None = None
    delivery: Delivery | None = None
    payment_means: tuple[PaymentMeans, ...] = ()
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    vat_breakdown: tuple[VatBreakdown, ...] = ()
    totals: Totals = field(default_factory=Totals)
    lines: tuple[Line, ...] = ()
    attachments: tuple[Attachment, ...] = ()
