"""The triage page says when each supplier's first Invoice Response (AB) is due and flags, in words, those
overdue or due by the next working day; the oldest come first, so a paged queue shows the most urgent on
its first page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from babel.dates import format_date

from gateway.model.expense import ExpenseStatus
from gateway.model.first_response import BRUSSELS, first_response_due
from gateway.model.working_days import add_working_days, next_working_day
from gateway.render.i18n import FORMAT_LOCALES
from gateway.web.document_routes import PAGE_SIZE
from tests.contract.store_builders import received_expense
from tests.web.conftest import Site

OVERDUE, SOON = "TRI-OVERDUE", "TRI-SOON"


def _triaged(site: Site, number: str, received: datetime) -> None:
    """An expense in triage whose document was received at ``received`` (drafted then)."""
    received_expense(
        site.services.store,
        status=ExpenseStatus.TO_TRIAGE,
        received=received,
        number=number,
        supplier_name="Late Supplier",
        status_reason="no unit named",
    )


def _due_soon_receipt(now: datetime) -> datetime:
    """A receipt time whose response is due at the end of the next working day (Brussels)."""
    target = next_working_day(now.astimezone(BRUSSELS).date())
    day = target - timedelta(1)
    while add_working_days(day, 3) != target:
        day -= timedelta(1)
    return datetime.combine(day, datetime.min.time(), tzinfo=BRUSSELS).replace(hour=12)


@pytest.fixture(scope="module")
def queue(site: Site) -> Site:
    """The site's triage queue (SUP-7002, received at its start) with more than a page of later ones, one
    received a month ago (overdue) and one due by the end of the next working day."""
    now = datetime.now(UTC)
    _triaged(site, OVERDUE, now - timedelta(days=30))
    _triaged(site, SOON, _due_soon_receipt(now))
    for n in range(PAGE_SIZE):
        _triaged(site, f"TRI-NEW-{n:02d}", now + timedelta(seconds=n))
    return site


def _row(page: str, number: str) -> str:
    found = re.search(rf"<tr>(?:(?!</tr>).)*>{re.escape(number)}</a>.*?</tr>", page, re.S)
    assert found, f"{number} not on the page"
    return found.group(0)


def test_the_most_urgent_come_first_on_the_first_page_with_a_flag_in_words(
    queue: Site, login: Callable[[str], httpx.Client]
) -> None:
    page = login("sam").get("/web/triage")
    assert page.status_code == 200
    text = page.text
    # Oldest first: the overdue one, then the one due soon, both on page one of a queue longer than a page.
    assert text.index(f">{OVERDUE}<") < text.index(f">{SOON}<") < text.index(">SUP-7002<")
    assert text.index(">SUP-7002<") < text.index(">TRI-NEW-00<")
    overdue = _row(text, OVERDUE)
    assert "Overdue" in overdue
    due = first_response_due(datetime.now(UTC) - timedelta(days=30))
    assert format_date(due.last_day, "full", locale=FORMAT_LOCALES["en"]) in overdue
    soon = _row(text, SOON)
    assert "Due soon" in soon
    assert "Overdue" not in soon
    recent = _row(text, "TRI-NEW-00")
    assert "Overdue" not in recent
    assert "Due soon" not in recent
    assert (
        format_date(first_response_due(datetime.now(UTC)).last_day, "full", locale=FORMAT_LOCALES["en"])
        in recent
    )
    # The rule is said on the page (working days, Brussels, holidays).
    assert "3 working days" in text
    assert "Belgian public holidays" in text
    assert ">TRI-NEW-24<" not in text  # the newest, on the next page


def test_the_next_page_continues_oldest_first(queue: Site, login: Callable[[str], httpx.Client]) -> None:
    client = login("sam")
    first = client.get("/web/triage").text
    link = re.search(r'href="(/web/triage\?[^"]*cursor=[^"]+)"', first)
    assert link, "no next page"
    second = client.get(link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert ">TRI-NEW-24<" in second.text
    assert f">{OVERDUE}<" not in second.text


@pytest.mark.parametrize(
    ("language", "overdue", "soon", "header"),
    [
        ("fr", "En retard", "Échéance proche", "Première réponse due"),
        ("nl", "Te laat", "Bijna verlopen", "Eerste antwoord verschuldigd"),
    ],
)
def test_the_flags_and_dates_are_translated(
    queue: Site, login: Callable[[str], httpx.Client], language: str, overdue: str, soon: str, header: str
) -> None:
    text = login("sam").get("/web/triage", params={"lang": language}).text
    assert header in text
    assert overdue in _row(text, OVERDUE)
    assert soon in _row(text, SOON)
    due = first_response_due(datetime.now(UTC) - timedelta(days=30))
    assert format_date(due.last_day, "full", locale=FORMAT_LOCALES[language]) in _row(text, OVERDUE)


def test_the_inbox_is_unchanged_newest_first(queue: Site, login: Callable[[str], httpx.Client]) -> None:
    text = login("sam").get("/web/expenses", params={"status": "to_triage"}).text
    assert text.index(">TRI-NEW-24<") < text.index(">TRI-NEW-00<")
    assert f">{OVERDUE}<" not in text  # the oldest, on a later page


def _facts(page: str) -> str:
    found = re.search(r'<dl class="facts">.*?</dl>', page, re.S)
    assert found, "no facts on the expense page"
    return found.group(0)


@pytest.mark.parametrize(
    ("language", "overdue", "header"),
    [("en", "Overdue", "First response due"), ("fr", "En retard", "Première réponse due")],
)
def test_the_expense_page_in_triage_says_when_its_first_response_is_due(
    site: Site, login: Callable[[str], httpx.Client], language: str, overdue: str, header: str
) -> None:
    received = datetime.now(UTC) - timedelta(days=30)
    expense_id = received_expense(
        site.services.store, status=ExpenseStatus.TO_TRIAGE, received=received, number=f"ONE-LATE-{language}"
    )
    page = login("sam").get(f"/web/expenses/{expense_id}", params={"lang": language})
    assert page.status_code == 200
    facts = _facts(page.text)
    assert header in facts
    assert overdue in facts
    due = first_response_due(received)
    assert format_date(due.last_day, "full", locale=FORMAT_LOCALES[language]) in facts


@pytest.mark.parametrize(
    ("language", "overdue", "header"),
    [("en", "Overdue", "First response due"), ("fr", "En retard", "Première réponse due")],
)
def test_the_expense_page_out_of_triage_says_no_first_response_due(
    site: Site, login: Callable[[str], httpx.Client], language: str, overdue: str, header: str
) -> None:
    received = datetime.now(UTC) - timedelta(days=30)
    expense_id = received_expense(
        site.services.store,
        status=ExpenseStatus.TO_APPROVE,
        received=received,
        number=f"ONE-ROUTED-{language}",
    )
    page = login("sam").get(f"/web/expenses/{expense_id}", params={"lang": language})
    assert page.status_code == 200
    assert header not in page.text
    assert overdue not in page.text
