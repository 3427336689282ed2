"""An expense routing sent to triage (no unit, two units, an unknown or inactive unit, an expired or
inactive supplier mapping): the expense page and the triage queue say why in the reader's language, and the
expense page keeps the stored reason (English, as routing wrote it and the API returns it) as its detail."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from gateway.model.expense import ExpenseStatus
from gateway.services.expense_drafts import Doubt
from gateway.services.routing import TriageReason
from gateway.web.triage_doubts import TRIAGE_DOUBTS
from gateway.web.triage_reasons import TRIAGE_REASONS, triage_reasons
from tests.contract.store_builders import received_expense
from tests.web.conftest import Site

#: Reasons as ``services.routing.route`` stores them, one of each kind.
STORED = {
    "conflict": "conflicting hints: PU04711 in BT-10, PU00123 in BT-22",
    "unknown": "unknown unit code PU09999 in BT-10 ('PU-09999')",
    "inactive": "inactive unit code PU00999 in BT-13 ('PO PU00999/7')",
    "expired": "no unit named; the supplier mapping to PU00123 expired on 2026-11-30",
    "mapped-inactive": "no unit named; the supplier mapping names PU00999, which is not an active unit",
    "none": "no unit code in the document and no supplier mapping",
}

#: A part of the page's words for each kind, in each language.
SAID = {
    "en": {
        "conflict": "names more than one unit",
        "unknown": "names a unit code that is none of ours",
        "inactive": "names a unit that is no longer active",
        "expired": "the unit choice remembered for its supplier has expired",
        "mapped-inactive": "the unit remembered for its supplier is no longer active",
        "none": "names no unit code and its supplier has no unit remembered",
    },
    "fr": {
        "conflict": "nomme plus d'une unité",
        "unknown": "nomme un code d'unité qui n'est aucune des nôtres",
        "inactive": "nomme une unité qui n'est plus active",
        "expired": "le choix d'unité retenu pour son fournisseur a expiré",
        "mapped-inactive": "l'unité retenue pour son fournisseur n'est plus active",
        "none": "ne nomme aucun code d'unité et aucune unité n'est retenue pour son fournisseur",
    },
    "nl": {
        "conflict": "noemt meer dan één eenheid",
        "unknown": "noemt een eenheidscode die geen van de onze is",
        "inactive": "noemt een eenheid die niet meer actief is",
        "expired": "de eenheidskeuze die voor haar leverancier onthouden werd, is verlopen",
        "mapped-inactive": "de eenheid die voor haar leverancier onthouden werd, is niet meer actief",
        "none": "noemt geen eenheidscode en voor haar leverancier werd geen eenheid onthouden",
    },
}


@pytest.mark.parametrize("language", ["en", "fr", "nl"])
def test_why_an_expense_waits_in_triage_is_said_in_the_reader_s_language(
    site: Site, login: Callable[[str], httpx.Client], language: str
) -> None:
    ids = {
        kind: received_expense(
            site.services.store,
            status=ExpenseStatus.TO_TRIAGE,
            received=datetime.now(UTC),
            number=f"WHY-{kind}-{language}",
            status_reason=reason,
        )
        for kind, reason in STORED.items()
    }
    sam = login("sam")
    queue = html.unescape(sam.get("/web/triage", params={"lang": language}).text)
    for kind, expense_id in ids.items():
        assert SAID[language][kind] in queue, kind
        text = html.unescape(sam.get(f"/web/expenses/{expense_id}", params={"lang": language}).text)
        assert SAID[language][kind] in text, kind
        assert STORED[kind] in text, kind  # the stored reason stays, as the detail


def test_a_supplier_s_text_quoted_in_a_routing_reason_is_no_doubt() -> None:
    quoted = "unknown unit code PU09999 in BT-22 ('PU-09999, see (BT-34) and (BT-49)')"
    assert triage_reasons(quoted) == [TRIAGE_REASONS[TriageReason.UNKNOWN_UNIT]]
    doubt = "the seller's electronic address (BT-34) 0208:0412345614 is not the sender ..."
    assert triage_reasons(doubt) == [TRIAGE_DOUBTS[Doubt.SELLER]]
    assert triage_reasons("a reason of another kind") == []
