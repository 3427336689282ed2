"""A partial payment of an expense: what the person records when marking it paid, and the Invoice Response
text the supplier gets (Peppol BIS Invoice Response 3: PD with the status reason PPD and a reason text,
PEPPOL-T111-R004/R005; bis-billing.md §9).

PD is final in the T111 order (AB → IP → UQ → CA → RE → AP → PD, no going back): once the supplier has been
told "paid partially", no second PD can follow. The rest of the payment is recorded on the expense only
(``ExpenseAction.SETTLE``), never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from gateway.errors import InvalidExpenseRequest, InvalidPayment
from gateway.model.free_text import check_free_text, has_visible_character
from gateway.model.message import JSONObject
from gateway.model.responses import StatusReason

#: The OpenPeppol status reason (OPStatusReason) of a partial payment; PD only (PEPPOL-T111-R005).
PARTIALLY_PAID: Final = StatusReason.PARTIALLY_PAID.value
#: The longest explanation a person may write (the StatusReason text sent to the supplier).
MAX_PAYMENT_NOTE: Final = 500
#: Amounts of EN 16931 have at most two decimals (BR-DEC-*).
_DECIMALS: Final = 2

# What a refused partial payment is told (English; the pages translate them, placeholders kept).
NO_NOTE: Final = "A partial payment needs an explanation for the supplier."
NOTE_TOO_LONG: Final = "The explanation of a partial payment has at most %(limit)s characters."
NOTE_CONTROL: Final = "The explanation holds a character that cannot be sent (a control character)."
NOT_A_NUMBER: Final = "The amount paid %(amount)s is not a number."
NOT_AN_AMOUNT: Final = "The amount paid %(amount)s is not an amount with at most two decimals."
NOT_POSITIVE: Final = "The amount paid must be more than zero."
NOT_BELOW_DUE: Final = (
    "The amount paid must be less than the amount due (%(payable)s); mark the expense paid in full instead."
)
NOT_PARTIAL: Final = "An explanation or an amount paid is for a partial payment: choose partially paid."
#: Every message above.
PAYMENT_MESSAGES: Final = frozenset(
    {
        NO_NOTE,
        NOTE_TOO_LONG,
        NOTE_CONTROL,
        NOT_A_NUMBER,
        NOT_AN_AMOUNT,
        NOT_POSITIVE,
        NOT_BELOW_DUE,
        NOT_PARTIAL,
    }
)


def parse_amount(value: str | Decimal) -> Decimal:
    """The amount a person typed or sent: a decimal with at most two decimals; a comma may stand for the
    decimal point (``600,50``, as typed in French and Dutch) when there is no point.

    Raises:
        InvalidPayment: not a finite decimal with at most two decimals.
    """
    if isinstance(value, Decimal):
        amount = value
    else:
        text = value.strip()
        if "," in text and "." not in text and text.count(",") == 1:
            text = text.replace(",", ".")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InvalidPayment(NOT_A_NUMBER, amount=value) from None
    if not amount.is_finite() or amount.as_tuple().exponent < -_DECIMALS:  # type: ignore[operator]
        raise InvalidPayment(NOT_AN_AMOUNT, amount=str(value))
    return amount


@dataclass(frozen=True, slots=True)
class PartialPayment:
    """An invoice paid in part.

    Attributes:
        note: why (e.g. "the rest after the credit note"), as the supplier reads it.
        paid: the amount paid, in the invoice currency (BT-5), when given.
    """

    note: str
    paid: Decimal | None = None

    def check(self, payable: Decimal) -> None:
        """Refuse an explanation that is empty, too long or holds a control character, or an amount not
        strictly between zero and the amount due (BT-115).

        Raises:
            InvalidPayment: naming what is wrong.
        """
        if not has_visible_character(self.note):
            raise InvalidPayment(NO_NOTE)
        if len(self.note) > MAX_PAYMENT_NOTE:
            raise InvalidPayment(NOTE_TOO_LONG, limit=MAX_PAYMENT_NOTE)
        try:
            check_free_text(self.note, "the explanation")  # the Invoice Response carries it in XML
        except InvalidExpenseRequest:
            raise InvalidPayment(NOTE_CONTROL) from None
        if self.paid is None:
            return
        if self.paid <= 0:
            raise InvalidPayment(NOT_POSITIVE)
        if self.paid >= payable:
            raise InvalidPayment(NOT_BELOW_DUE, payable=str(payable))

    def response_text(self, payable: Decimal, currency: str) -> str:
        """The StatusReason text of the PD response: the amount (if given) then the explanation."""
        if self.paid is None:
            return self.note
        return f"Paid {self._paid_text()} of {payable} {currency}: {self.note}"

    def _paid_text(self) -> str | None:
        """The amount paid in plain digits: a form's 1e1 is 10, never "1E+1" (``check`` bounds it below the
        amount due); None when not given."""
        return f"{self.paid:f}" if self.paid is not None else None

    def detail(self, currency: str) -> JSONObject:
        """The audit detail (and webhook ``data.detail``) of the partial payment."""
        return {
            "partial": True,
            "paid_amount": self._paid_text(),
            "currency": currency,
            "reason": self.note,
            "reason_codes": [PARTIALLY_PAID],
        }


def is_partial(detail: JSONObject | None) -> bool:
    """True when an audit detail records a partial payment."""
    return bool(detail and detail.get("partial") is True)


def payment_summary(detail: JSONObject | None) -> JSONObject:
    """What a webhook says of a payment (MARK_PAID) from its audit detail: ``partial``, and for a partial
    payment the amount paid (or None), its currency and the explanation sent to the supplier."""
    if not is_partial(detail):
        return {"partial": False, "paid_amount": None, "currency": None, "reason": None}
    assert detail is not None
    return {key: detail.get(key) for key in ("partial", "paid_amount", "currency", "reason")}


def same_payment(detail: JSONObject | None, payment: PartialPayment | None) -> bool:
    """True when a mark-paid recording ``payment`` (None: paid in full) says what the recorded mark-paid's
    audit ``detail`` says: in full both times, or in part with the same explanation and the same amount
    paid (by value: 600 is 600.00) or none both times. A retry of the recorded request is the same; a
    request changing the payment is not."""
    if payment is None or not is_partial(detail):
        return payment is None and not is_partial(detail)
    assert detail is not None
    if detail.get("reason") != payment.note:
        return False
    recorded = detail.get("paid_amount")
    if recorded is None or payment.paid is None:
        return recorded is None and payment.paid is None
    return isinstance(recorded, str) and Decimal(recorded) == payment.paid
