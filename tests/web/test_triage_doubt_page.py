"""An expense sent to triage because its seller (BT-34) or its buyer (BT-49) is not the participant its
access point vouches for or it was delivered to: the expense page says so in the reader's language, with
the stored reason (English, the identifiers) as its detail."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from gateway.model.expense import ExpenseStatus
from tests.contract.store_builders import received_expense
from tests.web.conftest import Site

BUYER_DOUBT = (
    "the buyer's electronic address (BT-49) 0208:0123456749 is not the receiver the document was delivered"
    " to (0208:0739484052): for support to check"
)
SELLER_DOUBT = (
    "the seller's electronic address (BT-34) 0208:0412345614 is not the sender its access point vouches for"
    " (0208:0999999913): kept under the sender, for support to check"
)


@pytest.mark.parametrize(
    ("language", "buyer", "seller"),
    [
        ("en", "is not the participant it was delivered to", "is not the one its access point sends for"),
        ("fr", "n'est pas le participant auquel elle a été livrée", "n'est pas celui pour lequel"),
        ("nl", "is niet de deelnemer aan wie ze werd bezorgd", "is niet degene voor wie"),
    ],
)
def test_the_doubts_of_an_expense_in_triage_are_explained_in_the_reader_s_language(
    site: Site, login: Callable[[str], httpx.Client], language: str, buyer: str, seller: str
) -> None:
    expense_id = received_expense(
        site.services.store,
        status=ExpenseStatus.TO_TRIAGE,
        received=datetime.now(UTC),
        number=f"DOUBT-{language}",
        supplier_name="Doubtful Supplier",
        status_reason=f"{SELLER_DOUBT}; {BUYER_DOUBT}",
    )
    text = html.unescape(login("sam").get(f"/web/expenses/{expense_id}", params={"lang": language}).text)
    assert buyer in text
    assert seller in text
    assert "(BT-49) 0208:0123456749" in text  # the stored detail stays
