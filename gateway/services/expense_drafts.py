"""Expense drafts: the received UBL, read by the UBL reader into the EN 16931 model, turned into the draft
a member approves. Pure: nothing is retyped, every value comes from the document.

A credit note is a negative draft (its amounts carry a minus sign) so that sums over a unit's expenses
are right; its BG-3 references (BT-25) name the invoices it credits.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

from gateway.errors import InvalidDocumentData, InvalidIdentifier
from gateway.model import CreditNote, Invoice, InvoiceLine, ParticipantID
from gateway.model.document import base64_decoded_size
from gateway.model.message import JSONObject
from gateway.model.payment import format_structured_communication, parse_structured_communication
from gateway.services.routing import LineReferences

_ZERO: Final = Decimal("0.00")


class Doubt(StrEnum):
    """How each doubt ``build_draft`` gives starts (``supplier_of``, ``buyer_doubt``): the pages recognise it
    and say it in the reader's language (``web.triage_doubts``); the doubt itself is stored in English.
    Doubts are joined by ``"; "``, so a second one stands inside the reason."""

    SELLER = "the seller's electronic address (BT-34) "
    BUYER = "the buyer's electronic address (BT-49) "


@dataclass(frozen=True, slots=True)
class DraftValues:
    """What the workflow stores for a new expense.

    Attributes:
        kind: ``invoice`` or ``credit_note``.
        supplier_key: the supplier's participant id key: BT-34 when it names the SBDH sender's enterprise,
            else the SBDH sender (``supplier_of``).
        supplier_name: BT-27.
        number: BT-1.
        currency: BT-5.
        amount: BT-115, negative for a credit note.
        issue_date: BT-2 (ISO).
        credited_numbers: BT-25 numbers of the invoices a credit note credits.
        draft: the full draft as JSON.
    """

    kind: str
    supplier_key: str
    supplier_name: str
    number: str
    currency: str
    amount: Decimal
    issue_date: str
    credited_numbers: tuple[str, ...]
    draft: JSONObject
    #: Why the seller is not the one its access point vouches for (``supplier_of``), or the buyer not the
    #: receiver it was delivered to (``buyer_doubt``), None when neither: the expense then waits in triage.
    doubt: str | None = None

    @property
    def dedupe_key(self) -> str:
        """Same supplier + kind + number + amount: a duplicate (SHA-256 hex, fits an indexed column). The
        amount is compared by value, not as written (36.0 and 36.00 are one amount)."""
        text = f"{self.supplier_key}|{self.kind}|{self.number}|{_amount_text(self.amount)}|{self.currency}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _amount_text(amount: Decimal) -> str:
    """One text per amount value: two decimals (as stored keys have always had for the amounts BIS allows),
    more only when the value needs them."""
    try:
        cents = amount.quantize(Decimal("0.01"))
    except InvalidOperation:  # more digits than the context holds: as written
        return str(amount)
    return f"{cents:.2f}" if cents == amount else str(amount.normalize())


def _money(value: Decimal | None, sign: int) -> str | None:
    return None if value is None else str(value * sign)


def supplier_of(document: Invoice | CreditNote, sender: ParticipantID) -> tuple[ParticipantID, str | None]:
    """The supplier a received document is kept under, and why its seller is in doubt (None: it is not).

    The SBDH sender is the participant the sending access point knows as its customer (the BIS envelope
    rule: it equals the seller's electronic address, BT-34). BT-34 is the supplier when it names the same
    enterprise (``ParticipantID.same_enterprise``: spelled as the supplier spells it, as before); a BT-34
    naming another participant is only what the document says, so the supplier is the sender, and the doubt
    says so: otherwise any supplier could claim another's BT-34 - follow that supplier's unit mapping, have
    its credit notes linked to the other's invoices, and flag the other's identical invoice as its duplicate
    - and the Invoice Responses would go to the other. No BT-34 (or none that parses): the sender.
    """
    endpoint = document.seller.endpoint
    if endpoint is None:
        return sender, None
    try:
        stated = ParticipantID.parse(f"{endpoint.scheme}:{endpoint.value}")
    except InvalidIdentifier:  # a valid document's BT-34 parses; fall back to the SBDH sender
        return sender, None
    if stated.same_enterprise(sender):
        return stated, None
    return sender, (
        f"{Doubt.SELLER.value}{stated} is not the sender its access point vouches for"
        f" ({sender}): kept under the sender, for support to check"
    )


def buyer_doubt(
    document: Invoice | CreditNote,
    receiver: ParticipantID | None,
    *,
    ours: Collection[ParticipantID] = (),
) -> str | None:
    """Why the buyer a received document names is in doubt, or None: it is not.

    The SBDH receiver must equal the buyer's electronic address, BT-49 (bis-billing.md §8), as the sender
    equals BT-34 (``supplier_of``). A BT-49 naming another enterprise than the participant the document
    was delivered to says the document is another company's, or names its buyer wrongly: it is received
    (a receiver does not refuse a compliant invoice) but support decides, rather than the unit its buyer
    reference names approving it for payment. No receiver known or no BT-49: no doubt; a BT-49 that is no
    participant id (an EAS code that is no ICD, such as EM, e-mail) is not the receiver: a doubt. Otherwise
    no doubt when it names the receiver's enterprise (``ParticipantID.same_enterprise``: 9925:BE<KBO> and
    0208:<KBO> are one buyer), nor when it names another participant we serve (``ours``,
    ``GATEWAY_AS4__SERVED``: the cooperative's ids, a GLN beside its enterprise number) and it was
    delivered to one of them: the document is ours all the same, only its route differs.
    """
    endpoint = document.buyer.endpoint
    if receiver is None or endpoint is None:
        return None
    stated: ParticipantID | str
    try:
        stated = ParticipantID.parse(f"{endpoint.scheme}:{endpoint.value}")
    except InvalidIdentifier:  # another EAS than an ICD (EM: e-mail): no participant, not the receiver
        stated = f"{endpoint.scheme}:{endpoint.value}"
    else:
        if stated.same_enterprise(receiver) or (
            receiver in ours and any(stated.same_enterprise(p) for p in ours)
        ):
            return None
    return (
        f"{Doubt.BUYER.value}{stated} is not the receiver the document was delivered to"
        f" ({receiver}): for support to check"
    )


def _payment_reference(text: str | None) -> JSONObject:
    if not text:
        return {"structured_communication": None, "reference": None}
    try:
        digits = parse_structured_communication(text)
    except InvalidDocumentData:
        return {"structured_communication": None, "reference": text}
    return {"structured_communication": format_structured_communication(digits), "reference": text}


def attachment_bytes(document: Invoice | CreditNote, n: int) -> tuple[bytes, str, str] | None:
    """The embedded file of attachment ``n`` (1-based, document order): (bytes, MIME code, filename).

    Returns:
        None when there is no such attachment or it is an external reference without content.
    """
    if n < 1 or n > len(document.attachments):
        return None
    attachment = document.attachments[n - 1]
    if attachment.content is None or attachment.mime_code is None or attachment.filename is None:
        return None
    return base64.b64decode(attachment.content), attachment.mime_code, attachment.filename


def draft_line(line: InvoiceLine, *, credit: bool) -> JSONObject:
    """The draft's row of one invoice or credit note line."""
    sign = -1 if credit else 1
    return {
        "id": line.id,
        "name": line.item.name,
        "description": line.item.description,
        "quantity": str(line.quantity),
        "unit_code": line.unit_code,
        "price": str(line.price.net_amount) if line.price.net_amount is not None else None,
        "net": _money(line.net_amount, sign),
        "vat_category": line.vat.category.value,
        "vat_rate": str(line.vat.rate) if line.vat.rate is not None else None,
        "order_line_reference": line.order_line_reference,
        "accounting_cost": line.accounting_cost,
        "note": line.note,
    }


@dataclass(slots=True)
class DraftLines:
    """A document's lines as its draft and its routing need them, gathered one line at a time (``add`` is
    the ``on_line`` of ``gateway.ubl.read_ubl_line_by_line``): each line's model is dropped once read.

    Attributes:
        rows: the draft's row of every line (``draft_line``), in document order.
        references: the routing references of the lines that carry one, in document order.
    """

    rows: list[JSONObject] = field(default_factory=list)
    references: list[LineReferences] = field(default_factory=list)

    def add(self, line: InvoiceLine, credit: bool) -> None:
        """Keep ``line``'s row and references."""
        self.rows.append(draft_line(line, credit=credit))
        refs = LineReferences(line.id, line.accounting_cost, line.order_line_reference)
        if refs.any:
            self.references.append(refs)


def build_draft(
    document: Invoice | CreditNote,
    *,
    sender: ParticipantID,
    lines: list[JSONObject] | None = None,
    receiver: ParticipantID | None = None,
    ours: Collection[ParticipantID] = (),
) -> DraftValues:
    """The draft of a received document.

    Args:
        document: the document as read by ``gateway.ubl.read_ubl``.
        sender: the SBDH sender (the supplier's participant id when BT-34 is absent).
        receiver: the SBDH receiver, when known (``buyer_doubt``).
        ours: every participant we serve (``buyer_doubt``): a BT-49 naming one of them is not in doubt.
        lines: the rows of every line (``draft_line``, document order) when ``document`` does not hold its
            lines (a large document read line by line: ``gateway.ubl.read_ubl_line_by_line``).
    """
    credit = isinstance(document, CreditNote)
    sign = -1 if credit else 1
    seller = document.seller
    supplier_id, doubt = supplier_of(document, sender)
    doubts = [d for d in (doubt, buyer_doubt(document, receiver, ours=ours)) if d is not None]
    totals = document.totals
    payable = (totals.payable_amount if totals is not None else _ZERO) * sign
    supplier = {
        "name": seller.legal_name,
        "trading_name": seller.trading_name,
        "vat": seller.vat_identifier,
        "legal_id": seller.legal_registration_id.model_dump(mode="json")
        if seller.legal_registration_id
        else None,
        "ids": [i.model_dump(mode="json") for i in seller.identifiers],
        "peppol_id": f"{seller.endpoint.scheme}:{seller.endpoint.value}" if seller.endpoint else str(sender),
        "address": seller.address.model_dump(mode="json", exclude_none=True),
        "contact": seller.contact.model_dump(mode="json", exclude_none=True) if seller.contact else None,
    }
    means = []
    for m in document.payment_means:
        entry: JSONObject = {"code": m.code, "name": m.name, **_payment_reference(m.payment_id)}
        if m.credit_transfer is not None:
            entry["iban"] = m.credit_transfer.account_id
            entry["account_name"] = m.credit_transfer.account_name
            entry["bic"] = m.credit_transfer.provider_id
        if m.direct_debit is not None:
            entry["mandate"] = m.direct_debit.mandate_reference
        means.append(entry)
    first_transfer = next((m for m in means if m.get("iban")), means[0] if means else {})
    draft: JSONObject = {
        "kind": "credit_note" if credit else "invoice",
        "type_code": document.type_code,
        "number": document.number,
        "issue_date": document.issue_date.isoformat(),
        "due_date": document.due_date.isoformat() if document.due_date else None,
        "tax_point_date": document.tax_point_date.isoformat() if document.tax_point_date else None,
        "currency": document.currency,
        "supplier": supplier,
        "buyer_reference": document.buyer_reference,
        "order_reference": document.purchase_order_reference,
        "accounting_reference": document.accounting_cost,
        "notes": list(document.notes),
        "period": document.invoice_period.model_dump(mode="json", exclude_none=True)
        if document.invoice_period
        else None,
        "totals": {
            "line_net": _money(totals.line_extension_amount, sign) if totals else None,
            "allowances": _money(totals.allowance_total, sign) if totals else None,
            "charges": _money(totals.charge_total, sign) if totals else None,
            "tax_exclusive": _money(totals.tax_exclusive_amount, sign) if totals else None,
            "vat": _money(totals.vat_total, sign) if totals else None,
            "tax_inclusive": _money(totals.tax_inclusive_amount, sign) if totals else None,
            "prepaid": _money(document.prepaid_amount, sign),
            "rounding": _money(document.rounding_amount, sign),
            "payable": str(payable),
        },
        # BG-23, one row per category and rate: the input VAT to deduct (BT-117) per rate.
        "vat_breakdown": [
            {
                "category": b.category.value,
                "rate": str(b.rate) if b.rate is not None else None,
                "taxable": _money(b.taxable_amount, sign),
                "vat": _money(b.tax_amount, sign),
                "exemption_reason_code": b.exemption_reason_code,
                "exemption_reason": b.exemption_reason,
            }
            for b in document.vat_breakdown or ()
        ],
        "lines": [draft_line(line, credit=credit) for line in document.lines] if lines is None else lines,
        "payment": {
            "due_date": document.due_date.isoformat() if document.due_date else None,
            "terms": document.payment_terms,
            "iban": first_transfer.get("iban"),
            "structured_communication": first_transfer.get("structured_communication"),
            "reference": first_transfer.get("reference"),
            "means": means,
        },
        "attachments": [
            {
                "n": n,
                "id": a.id,
                "description": a.description,
                "filename": a.filename,
                "mime": a.mime_code,
                "size": base64_decoded_size(a.content) if a.content else None,
                "uri": a.uri,
                "embedded": a.content is not None,
            }
            for n, a in enumerate(document.attachments, start=1)
        ],
        "preceding_invoices": [
            {"number": p.number, "issue_date": p.issue_date.isoformat() if p.issue_date else None}
            for p in document.preceding_invoices
        ],
    }
    return DraftValues(
        kind=draft["kind"],
        supplier_key=supplier_id.key,
        supplier_name=seller.legal_name,
        number=document.number,
        currency=document.currency,
        amount=payable,
        issue_date=document.issue_date.isoformat(),
        credited_numbers=tuple(p.number for p in document.preceding_invoices) if credit else (),
        draft=draft,
        doubt="; ".join(doubts) or None,
    )
