"""The OpenPeppol status reasons (OPStatusReason) a member picks when rejecting an expense or querying the
supplier, in plain words: the Invoice Response (RE, UQ) carries the code, so the supplier's software can act
on it (``PRI``: fix the price) instead of reading ``OTH`` and a free text only (bis-billing.md §9)."""

from __future__ import annotations

from typing import Final

from gateway.model.expense import STATUS_REASONS

#: Reason code -> label, in the order the form offers them; ``OTH`` (the default) last. ``NON`` ("no
#: issue") is left out: it explains no rejection or question.
REASON_LABELS: Final = {
    "PRI": "Prices are wrong",
    "QTY": "Quantities are wrong",
    "ITM": "Items are wrong",
    "REF": "References are wrong or missing (our unit, order)",
    "DEL": "Delivery problem",
    "QUA": "Quality of the items",
    "PAY": "Payment terms are wrong",
    "LEG": "Legal information is wrong",
    "FIN": "Financial information is wrong",
    "REC": "We are not the buyer (receiver unknown)",
    "UNR": "Not recognised",
    "OTH": "Other",
}
DEFAULT_REASON: Final = "OTH"

assert set(REASON_LABELS) == STATUS_REASONS - {"NON"}, "every OPStatusReason but NON has a label"


def form_reason_codes(value: str | None) -> tuple[str, ...]:
    """The reason codes of a form's ``reason_code`` field: none when it is absent or empty (the workflow then
    sends ``OTH``); an unknown code is passed on for the workflow to refuse (a 422 page naming it)."""
    return (value,) if value else ()
