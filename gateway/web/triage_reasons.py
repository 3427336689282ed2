"""Plain words, in the reader's language, for why an expense waits in triage: the kind of reason routing
gave (``services.routing.TriageReason``, recognised by how routing starts it), else the seller or buyer
doubts (``triage_doubts``). The stored reason (English, with the codes and fields) is shown as the detail,
and stays as it is in the store and the API."""

from __future__ import annotations

from typing import Final

from gateway.services.routing import TriageReason
from gateway.web.triage_doubts import triage_doubts

#: Each kind of reason routing gives for triage -> what it means for support.
TRIAGE_REASONS: Final = {
    TriageReason.CONFLICT: (
        "The invoice names more than one unit (their codes are in the detail): choose the one it is for."
    ),
    TriageReason.UNKNOWN_UNIT: (
        "The invoice names a unit code that is none of ours: check which unit it is for before assigning it."
    ),
    TriageReason.INACTIVE_UNIT: (
        "The invoice names a unit that is no longer active: choose the unit that now takes its invoices."
    ),
    TriageReason.MAPPING_EXPIRED: (
        "The invoice names no unit, and the unit choice remembered for its supplier has expired: choose its"
        " unit."
    ),
    TriageReason.MAPPING_INACTIVE: (
        "The invoice names no unit, and the unit remembered for its supplier is no longer active: choose its"
        " unit."
    ),
    TriageReason.NO_UNIT: (
        "The invoice names no unit code and its supplier has no unit remembered: choose its unit."
    ),
}


def triage_reasons(reason: str | None) -> list[str]:
    """The plain words (message ids) of why an expense with the stored ``reason`` waits in triage; none for
    a reason the page knows no kind of (it is shown as it is)."""
    kind = TriageReason.of(reason)
    if kind is not None:  # first: a supplier's text quoted in it may hold a doubt's marker
        return [TRIAGE_REASONS[kind]]
    return triage_doubts(reason)
