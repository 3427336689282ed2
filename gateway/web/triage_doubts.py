"""Plain words, in the reader's language, for the doubts that send a received document to triage: its
seller (BT-34) or its buyer (BT-49) is not the participant its access point vouches for or it was delivered
to (``services.expense_drafts``). The stored reason (English, with the identifiers) is shown as the detail."""

from __future__ import annotations

from typing import Final

from gateway.services.expense_drafts import Doubt

#: Each doubt ``expense_drafts`` gives (recognised by how it starts) -> what it means for support.
TRIAGE_DOUBTS: Final = {
    Doubt.SELLER: (
        "The seller the invoice names (its electronic address, BT-34) is not the one its access point sends"
        " for: check who really sent it before assigning it."
    ),
    Doubt.BUYER: (
        "The buyer the invoice names (its electronic address, BT-49) is not the participant it was"
        " delivered to: it may be another company's invoice; check it before assigning it."
    ),
}


def triage_doubts(reason: str | None) -> list[str]:
    """The plain words (message ids) of every doubt ``reason`` names, in the order above."""
    return [text for doubt, text in TRIAGE_DOUBTS.items() if doubt.value in (reason or "")]
