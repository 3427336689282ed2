"""EN 16931 calculations: line net amounts, the VAT breakdown per category and rate, document totals.

Rules followed: BR-CO-10..16 (totals), BR-CO-17 (VAT per category and rate = taxable x rate / 100,
rounded to 2 decimals), PEPPOL-EN16931-R120 (line net = qty x price / base qty + charges - allowances),
R040 (allowance = base x percentage / 100), R046 (net price = gross - discount). Rounding is ROUND_HALF_UP.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.errors import InvalidDocumentData
from gateway.model.document import CreditNote, DocumentTotals, Invoice
from gateway.model.lines import AllowanceCharge, InvoiceLine, Price
from gateway.model.values import HUNDRED, ZERO, round_amount
from gateway.model.vat import DEFAULT_EXEMPTIONS, VatBreakdown, VatCategory, VatSpec

#: Either kind of document.
AnyDocument = Invoice | CreditNote


@dataclass(frozen=True, slots=True)
class ComputedTotals:
    """What the gateway computes for a document.

    Attributes:
        line_net_amounts: BT-131 per line, in line order.
        vat_breakdown: BG-23, one entry per (category, rate) in order of first appearance.
        totals: BG-22 with BT-110.
    """

    line_net_amounts: tuple[Decimal, ...]
    vat_breakdown: tuple[VatBreakdown, ...]
    totals: DocumentTotals


def allowance_charge_amount(ac: AllowanceCharge, *, use_stated: bool = True) -> Decimal:
    """BT-92/99/136/141: the stated amount, or base x percentage / 100 rounded (PEPPOL-EN16931-R040)."""
    if ac.amount is not None and (use_stated or ac.base_amount is None):
        return ac.amount
    assert ac.base_amount is not None
    assert ac.percentage is not None
    return round_amount(ac.base_amount * ac.percentage / HUNDRED)


def net_price(price: Price) -> Decimal:
    """BT-146: the stated net price, or gross - discount (PEPPOL-EN16931-R046)."""
    if price.net_amount is not None:
        return price.net_amount
    assert price.gross_amount is not None  # guaranteed by the model
    return price.gross_amount - (price.discount or ZERO)


def line_net_amount(line: InvoiceLine, *, use_stated: bool = True) -> Decimal:
    """BT-131: the stated amount, or qty x (net price / base qty) + charges - allowances, rounded to 2."""
    if use_stated and line.net_amount is not None:
        return line.net_amount
    base_quantity = line.price.base_quantity or Decimal(1)
    charges = sum((allowance_charge_amount(ac) for ac in line.allowances_charges if ac.charge), start=ZERO)
    allowances = sum(
        (allowance_charge_amount(ac) for ac in line.allowances_charges if not ac.charge), start=ZERO
    )
    return round_amount(line.quantity * (net_price(line.price) / base_quantity) + charges - allowances)


def _vat_key(spec: VatSpec) -> tuple[VatCategory, Decimal | None]:
    # Decimal("21") and Decimal("21.00") compare and hash equal, so rates group numerically.
    return spec.category, spec.rate


def compute_vat_breakdown(
    doc: Invoice | CreditNote, line_nets: tuple[Decimal, ...]
) -> tuple[VatBreakdown, ...]:
    """BG-23 from the line net amounts and the document allowances/charges (BR-CO-17, BR-S-08 ...).

    Raises:
        InvalidDocumentData: two different exemption reasons for one category and rate.
    """
    taxable: dict[tuple[VatCategory, Decimal | None], Decimal] = {}
    reasons: dict[tuple[VatCategory, Decimal | None], set[tuple[str | None, str | None]]] = {}

    def add(spec: VatSpec, amount: Decimal) -> None:
        key = _vat_key(spec)
        taxable[key] = taxable.get(key, ZERO) + amount
        found = reasons.setdefault(key, set())
        if spec.exemption_reason_code or spec.exemption_reason:
            found.add((spec.exemption_reason_code, spec.exemption_reason))

    for line, net in zip(doc.lines, line_nets, strict=True):
        add(line.vat, net)
    for ac in doc.allowances_charges:
        assert ac.vat is not None  # guaranteed by the model
        amount = allowance_charge_amount(ac)
        add(ac.vat, amount if ac.charge else -amount)

    breakdown = []
    for (category, rate), base in taxable.items():
        found = reasons[(category, rate)]
        if len(found) > 1:
            raise InvalidDocumentData(
                f"VAT category {category.value} rate {rate}: conflicting exemption reasons "
                f"{sorted(found, key=str)}"
                " (BT-120/BT-121 allow one per VAT breakdown)"
            )
        code, text = found.pop() if found else DEFAULT_EXEMPTIONS.get(category, (None, None))
        tax = round_amount(base * rate / HUNDRED if rate is not None else ZERO)
        breakdown.append(
            VatBreakdown(
                category=category,
                rate=rate,
                taxable_amount=round_amount(base),
                tax_amount=tax,
                exemption_reason_code=code,
                exemption_reason=text,
            )
        )
    return tuple(breakdown)


def compute_totals(doc: Invoice | CreditNote, *, use_stated: bool = True) -> ComputedTotals:
    """Compute BT-131 per line, BG-23 and BG-22 (BR-CO-10..16).

    Args:
        doc: the document.
        use_stated: True (default) builds on the amounts the document states (line net amounts,
            allowance amounts, VAT breakdown) as evidence; False recomputes everything from quantities,
            prices, percentages and rates (used to check a caller's figures).

    Returns:
        The computed amounts.

    Raises:
        InvalidDocumentData: conflicting exemption reasons within one VAT category and rate.
    """
    line_nets = tuple(line_net_amount(line, use_stated=use_stated) for line in doc.lines)
    if use_stated and doc.vat_breakdown is not None:
        breakdown = doc.vat_breakdown
    else:
        breakdown = compute_vat_breakdown(doc, line_nets)
    allowances = [ac for ac in doc.allowances_charges if not ac.charge]
    charges = [ac for ac in doc.allowances_charges if ac.charge]
    allowance_total = sum((allowance_charge_amount(ac, use_stated=use_stated) for ac in allowances), ZERO)
    charge_total = sum((allowance_charge_amount(ac, use_stated=use_stated) for ac in charges), ZERO)
    line_total = sum(line_nets, ZERO)
    tax_exclusive = line_total - allowance_total + charge_total
    vat_total = sum((b.tax_amount for b in breakdown), ZERO)
    tax_inclusive = tax_exclusive + vat_total
    payable = tax_inclusive - (doc.prepaid_amount or ZERO) + (doc.rounding_amount or ZERO)
    # Sums of 2-decimal amounts are exact; quantizing only fixes the lexical form ("0" -> "0.00").
    totals = DocumentTotals(
        line_extension_amount=round_amount(line_total),
        allowance_total=round_amount(allowance_total) if allowances else None,
        charge_total=round_amount(charge_total) if charges else None,
        tax_exclusive_amount=round_amount(tax_exclusive),
        vat_total=round_amount(vat_total),
        tax_inclusive_amount=round_amount(tax_inclusive),
        payable_amount=round_amount(payable),
    )
    return ComputedTotals(line_net_amounts=line_nets, vat_breakdown=breakdown, totals=totals)


def fill_amounts(doc: AnyDocument, computed: ComputedTotals | None = None) -> AnyDocument:
    """Return the document with every computable amount present (stated amounts are kept).

    Fills BT-146 net prices, allowance/charge amounts, BT-131 line net amounts, BG-23 and BG-22.

    Args:
        doc: the document.
        computed: ``compute_totals(doc)`` when the caller has it already (its totals are only used when
            ``doc`` states none); computed here otherwise.
    """
    if computed is None:
        computed = compute_totals(doc)

    def fill_ac(ac: AllowanceCharge) -> AllowanceCharge:
        return ac if ac.amount is not None else ac.model_copy(update={"amount": allowance_charge_amount(ac)})

    lines = []
    for line, net in zip(doc.lines, computed.line_net_amounts, strict=True):
        price = line.price
        if price.net_amount is None:
            price = price.model_copy(update={"net_amount": net_price(price)})
        if price.gross_amount is not None and price.discount is None:
            # UBL needs Price/AllowanceCharge/Amount next to the gross price BaseAmount (R046).
            price = price.model_copy(update={"discount": ZERO})
        lines.append(
            line.model_copy(
                update={
                    "net_amount": net,
                    "price": price,
                    "allowances_charges": tuple(fill_ac(ac) for ac in line.allowances_charges),
                }
            )
        )
    return doc.model_copy(
        update={
            "lines": tuple(lines),
            "allowances_charges": tuple(fill_ac(ac) for ac in doc.allowances_charges),
            "vat_breakdown": computed.vat_breakdown,
            "totals": doc.totals if doc.totals is not None else computed.totals,
        }
    )
