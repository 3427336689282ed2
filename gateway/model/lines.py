"""Invoice lines (BG-25) with their price (BG-29), item (BG-31), period (BG-26) and allowances/charges;
also the allowance/charge shape shared with the document level (BG-20/21)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import model_validator

from gateway.model.values import (
    HUNDRED,
    MAX_MAGNITUDE,
    Amount,
    Code,
    CountryCode,
    Identifier,
    ModelBase,
    Percentage,
    PositiveQuantity,
    Quantity,
    Text,
    UnitPrice,
)
from gateway.model.vat import VatSpec


class Period(ModelBase):
    """A period: BG-14 invoicing period (BT-73/74, BT-8 on the document) or BG-26 line period (BT-134/135)."""

    start_date: dt.date | None = None
    """BT-73/134 start date."""
    end_date: dt.date | None = None
    """BT-74/135 end date."""
    description_code: Code | None = None
    """BT-8 value added tax point date code (UNCL 2005: 3, 35, 432); document level only."""

    @model_validator(mode="after")
    def _check(self) -> Period:
        if self.start_date is None and self.end_date is None and self.description_code is None:
            raise ValueError("a period needs a start date, an end date or a description code (BR-CO-19)")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("period end date is before its start date (BR-29/BR-30)")
        return self


class AllowanceCharge(ModelBase):
    """An allowance or a charge: document level BG-20/BG-21 (with VAT) or line level BG-27/BG-28 (without).

    ``amount`` may be omitted when ``base_amount`` and ``percentage`` are given: the gateway then computes
    ``base x percentage / 100`` rounded to 2 decimals (PEPPOL-EN16931-R040).
    """

    charge: bool = False
    """UBL ``cbc:ChargeIndicator``: False = allowance (BG-20/27), True = charge (BG-21/28)."""
    amount: Amount | None = None
    """BT-92/99/136/141 amount (without VAT)."""
    base_amount: Amount | None = None
    """BT-93/100/137/142 base amount."""
    percentage: Percentage | None = None
    """BT-94/101/138/143 percentage (UBL ``cbc:MultiplierFactorNumeric``)."""
    reason: Text | None = None
    """BT-97/104/139/144 reason text."""
    reason_code: Code | None = None
    """BT-98/105/140/145 reason code (UNCL 5189 allowances, UNCL 7161 charges)."""
    vat: VatSpec | None = None
    """BT-95/96 (allowance) / BT-102/103 (charge) VAT category and rate; document level only."""

    @model_validator(mode="after")
    def _check(self) -> AllowanceCharge:
        # PEPPOL-EN16931-R041/R042: base amount and percentage go together.
        if (self.base_amount is None) != (self.percentage is None):
            raise ValueError("allowance/charge base amount and percentage must be given together (R041/R042)")
        if self.amount is None and self.base_amount is None:
            raise ValueError("allowance/charge needs an amount, or a base amount and a percentage (BT-92/99)")
        if self.reason is None and self.reason_code is None:
            raise ValueError("allowance/charge needs a reason or a reason code (BR-33/BR-38/BR-42/BR-44)")
        if self.magnitude() >= MAX_MAGNITUDE:
            raise ValueError(
                "allowance/charge base amount x percentage / 100 (R040) reaches 10^15: amount too large"
            )
        return self

    def magnitude(self) -> Decimal:
        """The larger of the absolute stated amount and base x percentage / 100, never rounded."""
        stated = self.amount.copy_abs() if self.amount is not None else Decimal(0)
        if self.base_amount is None or self.percentage is None:
            return stated
        return max(stated, self.base_amount.copy_abs() * self.percentage / HUNDRED)


class Price(ModelBase):
    """BG-29 price details. ``net_amount`` may be omitted when ``gross_amount`` is given: net = gross -
    discount (PEPPOL-EN16931-R046)."""

    net_amount: UnitPrice | None = None
    """BT-146 item net price (not negative, BR-27)."""
    gross_amount: UnitPrice | None = None
    """BT-148 item gross price (UBL ``Price/AllowanceCharge/BaseAmount``; BR-28)."""
    discount: UnitPrice | None = None
    """BT-147 item price discount (UBL ``Price/AllowanceCharge/Amount``)."""
    base_quantity: PositiveQuantity | None = None
    """BT-149 item price base quantity (PEPPOL-EN16931-R121: above zero)."""
    base_quantity_unit: Code | None = None
    """BT-150 item price base quantity unit of measure code (UN/ECE rec 20/21)."""

    @model_validator(mode="after")
    def _check(self) -> Price:
        if self.base_quantity_unit is not None and self.base_quantity is None:
            raise ValueError("BT-150 base quantity unit given without the base quantity BT-149")
        if self.net_amount is None and self.gross_amount is None:
            raise ValueError("price needs a net amount (BT-146) or a gross amount (BT-148)")
        # PEPPOL-EN16931-R046: net price = gross price - price discount.
        gross, net = self.gross_amount, self.net_amount
        if gross is not None and net is not None and net != gross - (self.discount or 0):
            raise ValueError("BT-146 net price must equal BT-148 gross price minus BT-147 discount (R046)")
        return self


class ItemAttribute(ModelBase):
    """BG-32 item attribute."""

    name: Text
    """BT-160 item attribute name."""
    value: Text
    """BT-161 item attribute value."""


class ItemClassification(ModelBase):
    """BT-158 item classification identifier with its scheme (UNTDID 7143) and scheme version."""

    code: Text
    list_id: Code
    """BT-158-1 scheme identifier (e.g. ``STI``, ``CV``); mandatory (BR-65)."""
    list_version: Text | None = None
    """BT-158-2 scheme version identifier."""


class Item(ModelBase):
    """BG-31 item information."""

    name: Text
    """BT-153 item name."""
    description: Text | None = None
    """BT-154 item description."""
    sellers_id: Text | None = None
    """BT-155 item seller's identifier."""
    buyers_id: Text | None = None
    """BT-156 item buyer's identifier."""
    standard_id: Identifier | None = None
    """BT-157 item standard identifier (scheme mandatory, BR-64, e.g. ``0160`` GTIN)."""
    classifications: tuple[ItemClassification, ...] = ()
    """BT-158 item classification identifiers."""
    origin_country: CountryCode | None = None
    """BT-159 item country of origin."""
    attributes: tuple[ItemAttribute, ...] = ()
    """BG-32 item attributes."""

    @model_validator(mode="after")
    def _check(self) -> Item:
        if self.standard_id is not None and self.standard_id.scheme is None:
            raise ValueError("BT-157 item standard identifier needs a scheme (BR-64)")
        return self


class InvoiceLine(ModelBase):
    """BG-25 invoice line (UBL ``cac:InvoiceLine`` / ``cac:CreditNoteLine``)."""

    id: Text
    """BT-126 invoice line identifier."""
    note: Text | None = None
    """BT-127 invoice line note."""
    object_identifier: Identifier | None = None
    """BT-128 invoice line object identifier (with scheme)."""
    quantity: Quantity
    """BT-129 invoiced quantity."""
    unit_code: Code
    """BT-130 invoiced quantity unit of measure code (UN/ECE rec 20/21, e.g. ``C62``, ``HUR``)."""
    net_amount: Amount | None = None
    """BT-131 invoice line net amount; computed when absent: qty x price / base qty + charges - allowances."""
    order_line_reference: Text | None = None
    """BT-132 referenced purchase order line reference."""
    accounting_cost: Text | None = None
    """BT-133 invoice line buyer accounting reference."""
    period: Period | None = None
    """BG-26 invoice line period."""
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    """BG-27 line allowances and BG-28 line charges (no VAT of their own)."""
    price: Price
    """BG-29 price details."""
    vat: VatSpec
    """BG-30 line VAT information."""
    item: Item
    """BG-31 item information."""

    @model_validator(mode="after")
    def _check(self) -> InvoiceLine:
        if any(ac.vat is not None for ac in self.allowances_charges):
            raise ValueError(
                f"line {self.id}: line allowances/charges take the line VAT category, not their own"
            )
        if self.period is not None and self.period.description_code is not None:
            raise ValueError(f"line {self.id}: BT-8 belongs to the document invoicing period, not BG-26")
        if self.magnitude() >= MAX_MAGNITUDE:
            raise ValueError(
                f"line {self.id}: quantity BT-129 x net price BT-146 / base quantity BT-149 (R120) gives a "
                "line net amount of 10^15 or more: amount too large"
            )
        return self

    def magnitude(self) -> Decimal:
        """The larger of the absolute stated and computed line net amount BT-131 bounds, never rounded."""
        stated = self.net_amount.copy_abs() if self.net_amount is not None else Decimal(0)
        price = self.price
        if price.net_amount is not None:
            net_price = price.net_amount
        else:
            assert price.gross_amount is not None  # guaranteed by Price
            net_price = max(price.gross_amount, price.discount or Decimal(0))  # bounds |gross - discount|
        base = price.base_quantity or Decimal(1)
        computed = self.quantity.copy_abs() * net_price / base + sum(
            (ac.magnitude() for ac in self.allowances_charges), start=Decimal(0)
        )
        return max(stated, computed)
