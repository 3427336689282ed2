"""EN 16931 completion: turn what the cooperative's invoicing system posts into a document that can only
produce a valid BIS Billing 3.0 invoice, or refuse it with every problem named (BT-/BG- numbers, rule ids).

It maps the issuing activity (bis-billing.md §7), builds and checks the payment instructions (OGM, §6.3),
applies the VAT treatment rules (§6.4: exemption reasons, category O without BT-31, K delivery data...)
and computes totals, checking any totals the caller sent.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

from gateway.errors import InvalidDocumentData
from gateway.model.document import CreditNote, Invoice
from gateway.model.identifiers import (
    EMAIL_RULE,
    EMAIL_SCHEME,
    is_email_address,
    is_valid_be_enterprise_number,
)
from gateway.model.lines import AllowanceCharge
from gateway.model.parties import Party
from gateway.model.payment import (
    CREDIT_TRANSFER_CODES,
    DIRECT_DEBIT_CODES,
    CreditTransfer,
    PaymentMeans,
    is_valid_iban,
    normalise_payment_reference,
    structured_communication_from_number,
)
from gateway.model.totals import (
    AnyDocument,
    ComputedTotals,
    allowance_charge_amount,
    compute_totals,
    fill_amounts,
)
from gateway.model.values import MAX_MAGNITUDE, ZERO, ElectronicAddress, format_decimal
from gateway.model.vat import (
    EXEMPTION_FORBIDDEN,
    EXEMPTION_REQUIRED,
    ZERO_RATE_CATEGORIES,
    VatBreakdown,
    VatCategory,
    VatSpec,
)

#: Categories whose BR-x-02 rule accepts the seller tax registration BT-32 instead of the VAT id BT-31.
_BT32_ACCEPTED = frozenset(
    {
        VatCategory.STANDARD,
        VatCategory.ZERO_RATED,
        VatCategory.EXEMPT,
        VatCategory.REVERSE_CHARGE,
        VatCategory.CANARY_IGIC,
        VatCategory.CEUTA_MELILLA_IPSI,
        VatCategory.SPLIT_PAYMENT,
    }
)
#: The Belgian category S rates in percent (VAT Code art. 37, Royal Decree no. 20).
BELGIAN_RATES: Final = frozenset({Decimal(21), Decimal(12), Decimal(6)})
_RULE_PREFIX = {
    VatCategory.INTRA_COMMUNITY: "BR-IC",
    VatCategory.CANARY_IGIC: "BR-AF",
    VatCategory.CEUTA_MELILLA_IPSI: "BR-AG",
}


def _rule(category: VatCategory, number: str) -> str:
    return f"{_RULE_PREFIX.get(category, 'BR-' + category.value)}-{number}"


def _fmt(value: Decimal | None) -> str:
    return "absent" if value is None else format_decimal(value)


def complete_document(doc: AnyDocument) -> AnyDocument:
    """Apply the gateway's outbound rules and compute every amount.

    Steps: activity -> BT-28/BG-6; Belgian identifier checks (mod 97); a buyer without a Peppol id gets
    its e-mail as BT-49 (scheme ``EM``), else R010 refuses it; PEPPOL-EN16931-R002/R003/R005;
    payment means from the seller IBAN with a generated OGM (invoices); VAT treatment per category
    (rates, VATEX defaults, O without BT-31 - the VAT number moves to BT-33 as text); totals computed
    and, where the caller stated them, checked.

    Args:
        doc: the posted invoice or credit note.

    Returns:
        A new document with all amounts present, ready for ``gateway.ubl.write_ubl``.

    Raises:
        InvalidDocumentData: listing every problem found, each naming the BT/BG and the rule.
    """
    problems: list[str] = []
    seller = _apply_activity(doc.seller)
    _check_party_numbers(seller, "seller", "BT-30", "BT-31", "BT-34", problems)
    _check_party_numbers(doc.buyer, "buyer", "BT-47", "BT-48", "BT-49", problems)
    if seller.endpoint is None:
        problems.append("seller electronic address BT-34 is required (PEPPOL-EN16931-R020)")
    buyer = _buyer_address(doc.buyer, problems)
    if doc.buyer_reference is None and doc.purchase_order_reference is None:
        problems.append(
            "buyer reference BT-10 or purchase order reference BT-13 is required (PEPPOL-EN16931-R003)"
        )
    if len(doc.notes) > 1:
        problems.append(
            f"{len(doc.notes)} invoice notes BT-22 given; at most one is allowed (PEPPOL-EN16931-R002)"
        )
    if doc.vat_accounting_currency is not None:
        if doc.vat_accounting_currency == doc.currency:
            problems.append("VAT accounting currency BT-6 must differ from the invoice currency BT-5 (R005)")
        if doc.vat_total_accounting_currency is None:
            problems.append("BT-111 total VAT in accounting currency is required with BT-6 (BR-53)")
    doc = doc.model_copy(update={"seller": seller, "buyer": buyer})
    doc = doc.model_copy(update={"payment_means": _payment_means(doc, problems)})
    if isinstance(doc, CreditNote) and doc.due_date is not None and not doc.payment_means:
        problems.append("a credit note's due date BT-9 is written in its payment means BG-16: give one")
    doc = _apply_vat_treatment(doc, problems)
    _check_belgian_rates(doc, problems)
    _check_magnitude(doc, problems)
    if problems:
        raise InvalidDocumentData(problems)
    doc = _check_and_compute(doc, problems)
    if problems:
        raise InvalidDocumentData(problems)
    return doc


def _apply_activity(seller: Party) -> Party:
    activity = seller.activity
    if activity is None:
        return seller
    update: dict[str, object] = {}
    if seller.trading_name is None:
        # bis-billing.md §7: BT-28 shows the activity, BT-27 stays the cooperative's legal name.
        update["trading_name"] = f"{seller.legal_name} - {activity.trading_name} ({activity.code})"
    if activity.contact is not None:
        update["contact"] = activity.contact
    return seller.model_copy(update=update)


def _buyer_address(buyer: Party, problems: list[str]) -> Party:
    """BT-49 of a buyer without a Peppol participant id (a private person): its e-mail address under the
    EAS scheme ``EM``, so that the document names where it goes (it is e-mailed, outside Peppol).

    The address the document is e-mailed to is checked here, at submission: BT-49 under ``EM``, or the
    contact e-mail BT-58 that becomes it. The SMTP adapter refuses what ``is_email_address`` refuses (a
    non-ASCII address needs SMTPUTF8); accepted, it failed at send time. A Peppol buyer's BT-58 is not
    judged: the document goes over Peppol, and should its e-mail fallback ever use an address the adapter
    cannot give the relay, that fallback fails with the adapter's reason (a valid invoice is not refused
    for an address it will most likely never be e-mailed to).
    """
    endpoint = buyer.endpoint
    if endpoint is not None:
        if endpoint.scheme == EMAIL_SCHEME and not is_email_address(endpoint.value):
            problems.append(
                f"buyer.endpoint BT-49 EM:{endpoint.value!r} is not one e-mail address {EMAIL_RULE}"
            )
        return buyer
    email = buyer.contact.email if buyer.contact is not None else None
    if email is None:
        problems.append(
            "the buyer has neither a Peppol participant id (BT-49: buyer.endpoint or "
            "buyer.enterprise_number) nor an e-mail address (BT-58: buyer.contact.email): give one of "
            "the two (PEPPOL-EN16931-R010)"
        )
        return buyer
    if not is_email_address(email):
        problems.append(
            f"buyer.contact.email (BT-58) {email!r} is not one e-mail address {EMAIL_RULE}: the invoice "
            "could not be e-mailed to it"
        )
        return buyer
    return buyer.model_copy(update={"endpoint": ElectronicAddress(value=email, scheme=EMAIL_SCHEME)})


def _check_party_numbers(
    party: Party, role: str, bt_legal: str, bt_vat: str, bt_endpoint: str, problems: list[str]
) -> None:
    legal = party.legal_registration_id
    if legal is not None and legal.scheme == "0208" and not is_valid_be_enterprise_number(legal.value):
        problems.append(f"{role} enterprise number {bt_legal} {legal.value!r} fails the KBO/BCE mod-97 check")
    endpoint = party.endpoint
    if endpoint is not None:
        if endpoint.scheme == "0208" and not is_valid_be_enterprise_number(endpoint.value):
            problems.append(
                f"{role} electronic address {bt_endpoint} 0208:{endpoint.value} fails the mod-97 check "
                "(PEPPOL-COMMON-R043)"
            )
        if endpoint.scheme == "9925" and not _valid_be_vat(endpoint.value):
            problems.append(
                f"{role} electronic address {bt_endpoint} 9925:{endpoint.value} is not a valid BE VAT number"
            )
    vat = party.vat_identifier
    if vat is not None:
        if not re.fullmatch(r"[A-Z]{2}.+", vat):
            problems.append(
                f"{role} VAT identifier {bt_vat} {vat!r} must start with its country code (BR-CO-09)"
            )
        elif vat.startswith("BE") and not _valid_be_vat(vat):
            problems.append(f"{role} VAT identifier {bt_vat} {vat!r} is not BE + a valid enterprise number")


def _valid_be_vat(value: str) -> bool:
    return value[:2].upper() == "BE" and is_valid_be_enterprise_number(value[2:])


def _payment_means(doc: Invoice | CreditNote, problems: list[str]) -> tuple[PaymentMeans, ...]:
    means = list(doc.payment_means)
    if not means and isinstance(doc, Invoice) and doc.seller.iban is not None:
        means.append(PaymentMeans(code="30", credit_transfer=CreditTransfer(account_id=doc.seller.iban)))
    result = []
    for pm in means:
        update: dict[str, object] = {}
        if pm.code in CREDIT_TRANSFER_CODES:
            if pm.credit_transfer is None:
                problems.append(
                    f"payment means {pm.code} (credit transfer) needs the payee account BT-84 (BR-61)"
                )
            elif re.match(r"[A-Z]{2}[0-9]{2}", pm.credit_transfer.account_id) and not is_valid_iban(
                pm.credit_transfer.account_id
            ):
                problems.append(
                    f"payment account BT-84 {pm.credit_transfer.account_id!r} is not a valid IBAN"
                )
            try:
                if pm.payment_id is not None:
                    update["payment_id"] = normalise_payment_reference(pm.payment_id)
                elif isinstance(doc, Invoice):
                    update["payment_id"] = structured_communication_from_number(doc.number)
            except InvalidDocumentData as exc:
                problems.extend(exc.problems)
        if pm.code in DIRECT_DEBIT_CODES and pm.direct_debit is None:
            problems.append(
                f"payment means {pm.code} (direct debit) needs the mandate reference BT-89 (R061)"
            )
        result.append(pm.model_copy(update=update))
    return tuple(result)


def _fix_spec(spec: VatSpec, where: str, problems: list[str]) -> VatSpec:
    category, rate = spec.category, spec.rate
    if category is VatCategory.STANDARD and (rate is None or rate <= 0):
        problems.append(f"{where}: category S needs a VAT rate above zero (BR-S-05)")
    elif category in ZERO_RATE_CATEGORIES:
        if rate is None:
            spec = spec.model_copy(update={"rate": ZERO})
        elif rate != 0:
            problems.append(
                f"{where}: category {category.value} needs VAT rate 0, not {_fmt(rate)} "
                f"({_rule(category, '05')})"
            )
    elif category is VatCategory.NOT_SUBJECT and rate is not None:
        if rate == 0:
            spec = spec.model_copy(update={"rate": None})  # BR-O-05: O carries no rate at all
        else:
            problems.append(f"{where}: category O must not have a VAT rate (BR-O-05)")
    elif rate is None and category is not VatCategory.NOT_SUBJECT:
        problems.append(f"{where}: category {category.value} needs a VAT rate ({_rule(category, '05')})")
    if category in EXEMPTION_FORBIDDEN and (spec.exemption_reason_code or spec.exemption_reason):
        problems.append(
            f"{where}: category {category.value} must not have an exemption reason ({_rule(category, '10')})"
        )
    return spec


def _apply_vat_treatment(doc: AnyDocument, problems: list[str]) -> AnyDocument:
    lines = tuple(
        line.model_copy(update={"vat": _fix_spec(line.vat, f"line {line.id} BT-151/152", problems)})
        for line in doc.lines
    )
    acs = tuple(
        ac.model_copy(update={"vat": _fix_spec(ac.vat, "document allowance/charge BT-95/102", problems)})
        for ac in doc.allowances_charges
        if ac.vat is not None
    )
    doc = doc.model_copy(update={"lines": lines, "allowances_charges": acs})
    categories = {line.vat.category for line in doc.lines} | {ac.vat.category for ac in acs if ac.vat}
    seller, buyer = doc.seller, doc.buyer
    if VatCategory.NOT_SUBJECT in categories:
        if len(categories) > 1:
            others = ", ".join(sorted(c.value for c in categories - {VatCategory.NOT_SUBJECT}))
            problems.append(f"category O cannot be mixed with other VAT categories ({others}) (BR-O-11..14)")
        if buyer.vat_identifier is not None:
            problems.append("category O forbids the buyer VAT identifier BT-48 (BR-O-02): remove it")
        if doc.tax_representative is not None:
            problems.append("category O forbids the seller tax representative VAT identifier BT-63 (BR-O-02)")
        if seller.vat_identifier is not None:
            # BR-O-02 forbids BT-31; Belgian law wants the VAT number on the invoice: keep it as text in
            # BT-33 and keep BT-30 (0208) (bis-billing.md §6.4 option 1).
            text = f"VAT {seller.vat_identifier}"
            info = seller.additional_legal_info
            if info is None or text not in info:
                info = f"{info} - {text}" if info else text
            seller = seller.model_copy(update={"vat_identifier": None, "additional_legal_info": info})
            doc = doc.model_copy(update={"seller": seller})
    tax_rep_vat = doc.tax_representative is not None
    for category in sorted(categories - {VatCategory.NOT_SUBJECT}, key=lambda c: c.value):
        ok = seller.vat_identifier is not None or tax_rep_vat
        if category in _BT32_ACCEPTED:
            ok = ok or seller.tax_registration is not None
        if not ok:
            problems.append(
                f"category {category.value} needs the seller VAT identifier BT-31 ({_rule(category, '02')})"
            )
    for category in (VatCategory.REVERSE_CHARGE, VatCategory.INTRA_COMMUNITY):
        if category in categories and buyer.vat_identifier is None:
            # BR-AE-02 would accept a legal registration id BT-47 instead; EU VAT Directive 2006/112/EC
            # art. 226(4) requires the customer's VAT number on such an invoice (and so does Belgium).
            problems.append(
                f"category {category.value} needs the buyer VAT identifier BT-48: EU VAT Directive "
                f"2006/112/EC art. 226(4) requires the customer's VAT number ({_rule(category, '02')})"
            )
    if VatCategory.INTRA_COMMUNITY in categories:
        delivery = doc.delivery
        if (delivery is None or delivery.date is None) and doc.invoice_period is None:
            problems.append(
                "category K needs the actual delivery date BT-72 or the invoicing period BG-14 (BR-IC-11)"
            )
        if delivery is None or delivery.address is None:
            problems.append(
                "category K needs the deliver-to country code BT-80 in the delivery address BG-15 (BR-IC-12)"
            )
    return doc


def _check_belgian_rates(doc: AnyDocument, problems: list[str]) -> None:
    # Belgian VAT Code art. 37 and Royal Decree no. 20: the standard rate is 21 %, the reduced rates are
    # 12 % and 6 % (0 % is category Z). Any other category S rate on a Belgian seller's invoice is a
    # mistake unless the caller says the VAT is another country's (``foreign_vat``).
    seller_vat = doc.seller.vat_identifier
    if doc.foreign_vat or seller_vat is None or not seller_vat.upper().startswith("BE"):
        return
    specs = [(f"line {line.id} BT-152", line.vat) for line in doc.lines] + [
        ("document allowance/charge BT-96/103", ac.vat) for ac in doc.allowances_charges if ac.vat
    ]
    for where, spec in specs:
        if spec.category is VatCategory.STANDARD and spec.rate is not None and spec.rate not in BELGIAN_RATES:
            problems.append(
                f"{where}: {_fmt(spec.rate)} % is not a Belgian VAT rate for category S (21, 12 or 6 %) "
                f"and the seller VAT identifier BT-31 {seller_vat} is Belgian; set foreign_vat if another "
                "country's VAT applies"
            )


def _check_magnitude(doc: AnyDocument, problems: list[str]) -> None:
    # Every total is at most twice the sum of the absolute line and allowance/charge amounts (VAT rates
    # are at most 100 %) plus BT-113/BT-114: keep that below the model's bound, so totals stay amounts.
    bound = 2 * (
        sum((line.magnitude() for line in doc.lines), start=ZERO)
        + sum((ac.magnitude() for ac in doc.allowances_charges), start=ZERO)
    )
    bound += (doc.prepaid_amount or ZERO).copy_abs() + (doc.rounding_amount or ZERO).copy_abs()
    if bound >= MAX_MAGNITUDE:
        problems.append(
            "document totals BG-22 would reach 10^15 (sum of the line net amounts BT-131 and "
            "allowances/charges with VAT): amounts too large"
        )


def _check_and_compute(doc: AnyDocument, problems: list[str]) -> AnyDocument:
    fresh = compute_totals(doc, use_stated=False)
    for line, net in zip(doc.lines, fresh.line_net_amounts, strict=True):
        if line.net_amount is not None and line.net_amount != net:
            problems.append(
                f"line {line.id}: invoice line net amount BT-131 stated {_fmt(line.net_amount)}, "
                f"computed {_fmt(net)}"
            )
        _check_ac_amounts(line.allowances_charges, f"line {line.id}", "BT-136/141", problems)
    _check_ac_amounts(doc.allowances_charges, "document", "BT-92/99", problems)
    breakdown = fresh.vat_breakdown
    if doc.vat_breakdown is not None:
        breakdown = _check_breakdown(doc.vat_breakdown, fresh.vat_breakdown, problems)
    for b in breakdown:
        if (
            b.category in EXEMPTION_REQUIRED
            and b.exemption_reason_code is None
            and b.exemption_reason is None
        ):
            problems.append(
                f"category {b.category.value} needs an exemption reason code BT-121 (VATEX) or text BT-120 "
                f"({_rule(b.category, '10')})"
            )
    if doc.totals is not None:
        labels = {
            "line_extension_amount": "BT-106 sum of line net amounts",
            "allowance_total": "BT-107 sum of allowances",
            "charge_total": "BT-108 sum of charges",
            "tax_exclusive_amount": "BT-109 total without VAT",
            "vat_total": "BT-110 total VAT",
            "tax_inclusive_amount": "BT-112 total with VAT",
            "payable_amount": "BT-115 amount due",
        }
        for field, label in labels.items():
            stated, computed = getattr(doc.totals, field), getattr(fresh.totals, field)
            optional_sum = field in ("allowance_total", "charge_total")
            if optional_sum and (stated is None or stated == (computed or ZERO)):
                continue
            if stated != computed:
                problems.append(f"{label}: stated {_fmt(stated)}, computed {_fmt(computed)}")
    if problems:
        return doc
    # What compute_totals(use_stated=True) gives for the document filled below, without computing it a
    # second time: a stated BT-131 as stated (equal in value to the computed one, checked above, but its
    # written form is kept: "10.000"), a missing one as computed (the same function, the same line); BG-23
    # and BG-22 as the document now states them.
    nets = tuple(
        net if line.net_amount is None else line.net_amount
        for line, net in zip(doc.lines, fresh.line_net_amounts, strict=True)
    )
    return fill_amounts(
        doc.model_copy(update={"vat_breakdown": breakdown, "totals": fresh.totals}),
        ComputedTotals(line_net_amounts=nets, vat_breakdown=breakdown, totals=fresh.totals),
    )


def _check_ac_amounts(acs: tuple[AllowanceCharge, ...], where: str, bt: str, problems: list[str]) -> None:
    for ac in acs:
        if ac.amount is not None and ac.base_amount is not None:
            computed = allowance_charge_amount(ac, use_stated=False)
            if computed != ac.amount:
                problems.append(
                    f"{where} allowance/charge amount {bt} stated {_fmt(ac.amount)}, base x percentage gives "
                    f"{_fmt(computed)} (PEPPOL-EN16931-R040)"
                )


def _check_breakdown(
    stated: tuple[VatBreakdown, ...], computed: tuple[VatBreakdown, ...], problems: list[str]
) -> tuple[VatBreakdown, ...]:
    by_key = {(b.category, b.rate): b for b in stated}
    result = []
    for b in computed:
        s = by_key.pop((b.category, b.rate), None)
        name = f"VAT breakdown {b.category.value} {_fmt(b.rate)}%"
        if s is None:
            problems.append(f"{name} is missing from the stated BG-23")
            continue
        if s.taxable_amount != b.taxable_amount:
            problems.append(
                f"{name}: BT-116 taxable amount stated {_fmt(s.taxable_amount)}, "
                f"computed {_fmt(b.taxable_amount)}"
            )
        if s.tax_amount != b.tax_amount:
            problems.append(
                f"{name}: BT-117 tax amount stated {_fmt(s.tax_amount)}, computed {_fmt(b.tax_amount)}"
            )
        if s.exemption_reason_code or s.exemption_reason:
            b = b.model_copy(
                update={
                    "exemption_reason_code": s.exemption_reason_code,
                    "exemption_reason": s.exemption_reason,
                }
            )
        result.append(b)
    for category, rate in by_key:
        problems.append(
            f"VAT breakdown {category.value} {_fmt(rate)}% is stated but no line or allowance uses it"
        )
    return tuple(result)


__all__ = ["complete_document"]
