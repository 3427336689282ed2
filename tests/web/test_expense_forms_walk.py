"""The expense page's forms as people meet them (found walking the demo's pages): the free-text fields say
their limit to the browser, so a member who types a rejection reason or a question longer than the
workflow takes (``MAX_ACTION_TEXT``) is stopped while typing instead of losing the text to an error page
in English; and an action someone else made impossible meanwhile (two members on one invoice) is said on
the expense's page, in the person's language, with the expense as it is now."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from conftest import Site, csrf_of

from gateway.services.expenses import MAX_ACTION_TEXT


def test_the_reason_and_the_question_carry_the_workflows_limit(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    shown = login("mia").get(f"/web/expenses/{site.routed_expense}")
    assert shown.status_code == 200
    assert "status-to_approve" in shown.text  # the module's own site: nobody decided it yet
    fields = dict(re.findall(r'<textarea id="([a-z-]+)"[^>]*?maxlength="(\d+)"', shown.text))
    assert fields.get("reason") == str(MAX_ACTION_TEXT)
    assert fields.get("question") == str(MAX_ACTION_TEXT)


def test_an_action_another_person_took_first_is_said_on_the_page_in_the_persons_language(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    path = f"/web/expenses/{site.triage_expense}"
    sam = login("sam")
    assigned = sam.post(f"{path}/assign", data={"csrf_token": csrf_of(sam, path), "unit": "PU-04711"})
    assert assigned.status_code == 303
    mia, other = login("mia"), login("mia")  # the same invoice open in two tabs, or two members
    late_token = csrf_of(other, path)
    approved = mia.post(f"{path}/approve", data={"csrf_token": csrf_of(mia, path)})
    assert approved.status_code == 303
    late = other.post(
        f"{path}/reject",
        data={"csrf_token": late_token, "reason": "trop cher", "reason_code": "PRI"},
        headers={"Accept-Language": "fr"},
    )
    assert late.status_code == 409
    assert "Cette dépense a changé entre-temps" in late.text
    assert "not allowed in status" not in late.text
    assert re.search(r'status-approved">approuvée<', late.text)  # the page, as it is now


@pytest.mark.parametrize(
    ("action", "field", "said"),
    [
        ("reject", "reason", "Écrivez le motif du refus"),
        ("query", "question", "Écrivez votre question au fournisseur"),
    ],
)
def test_a_blank_reason_or_question_is_said_on_the_form_in_the_persons_language(
    site: Site, login: Callable[[str], httpx.Client], action: str, field: str, said: str
) -> None:
    # The browser's "required" lets a text of blanks through; it was an English error page.
    path = f"/web/expenses/{site.routed_expense}"
    mia = login("mia")
    answer = mia.post(
        f"{path}/{action}",
        data={"csrf_token": csrf_of(mia, path), field: "   ", "reason_code": "PRI"},
        headers={"Accept-Language": "fr"},
    )
    assert answer.status_code == 422
    assert said in answer.text
    assert "is required" not in answer.text
    assert 'status-to_approve">à approuver<' in answer.text  # nothing was taken
