"""The expense inbox's search (/web/expenses): a member finds a supplier invoice by its number (any case, a
prefix with ``*``) or by the supplier, in their units only; the page links keep the status and the search;
what cannot be a number or a Peppol id is said on the form (422, translated), never a 5xx or JSON."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from conftest import Site

from gateway.model.expense import ExpenseStatus
from gateway.web.document_routes import PAGE_SIZE
from gateway.web.i18n import translate
from gateway.web.lookup_routes import NOT_AN_ID
from tests.contract.store_builders import content, created_event, expense_draft, inbound

Login = Callable[[str], httpx.Client]


def _numbers(page: httpx.Response) -> list[str]:
    """The document numbers listed, in order."""
    return re.findall(r'<a href="/web/expenses/[0-9a-f-]{36}">([^<]+)</a>', page.text)


def _link(page: httpx.Response, name: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(name)}</a>', page.text)
    return html.unescape(found.group(1)) if found else None


def test_a_member_finds_an_invoice_by_its_number_in_their_units_only(login: Login) -> None:
    mia, sam = login("mia"), login("sam")  # mia: PU-04711 (SUP-7001); SUP-7002 waits in triage
    found = mia.get("/web/expenses", params={"number": "sup-7001", "status": "any"})
    assert found.status_code == 200
    assert _numbers(found) == ["SUP-7001"]
    assert 'value="sup-7001"' in found.text  # the form keeps what was typed
    assert _numbers(mia.get("/web/expenses", params={"number": "SUP-70*", "status": "any"})) == ["SUP-7001"]
    assert _numbers(sam.get("/web/expenses", params={"number": "SUP-70*", "status": "any"})) == [
        "SUP-7002",
        "SUP-7001",
    ]
    hidden = mia.get("/web/expenses", params={"number": "SUP-7002", "status": "any"})
    assert hidden.status_code == 200
    assert _numbers(hidden) == []
    assert "No expense matches this search." in hidden.text
    # Within the status chosen (the inbox's default: to approve), and the page says how to widen it.
    narrow = sam.get("/web/expenses", params={"number": "SUP-7002"})
    assert _numbers(narrow) == []
    assert "choose “any” to search them all" in narrow.text


def test_a_supplier_is_searched_by_its_peppol_id_as_listed_under_its_name(login: Login) -> None:
    sam = login("sam")
    listed = sam.get("/web/expenses", params={"status": "any"})
    supplier = _link(listed, "0208:0412345614")  # the id under the supplier's name links to its expenses
    assert supplier == "/web/expenses?status=any&supplier=0208%3A0412345614"
    assert _numbers(sam.get(supplier)) == ["SUP-7002", "SUP-7001"]
    assert _numbers(
        sam.get("/web/expenses", params={"supplier": "0208:0412345614", "number": "sup-7001"})
    ) == ["SUP-7001"]
    assert (
        _numbers(sam.get("/web/expenses", params={"supplier": "0088:5798000000001", "status": "any"})) == []
    )


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("number", "N" * 201, "at most 200 characters, no control character"),
        ("number", "*", "its first characters followed by *"),
        ("number", "INV\x01", "no control character"),
        ("supplier", "Dairy Sud", "This is not a Peppol participant id"),
        ("supplier", "0208:", "This is not a Peppol participant id"),
    ],
)
def test_what_cannot_be_searched_is_said_on_the_form(
    login: Login, field: str, typed: str, message: str
) -> None:
    refused = login("mia").get("/web/expenses", params={field: typed, "status": "any"})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert message in html.unescape(refused.text)
    assert f'id="{field}" name="{field}"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert 'role="alert"' in refused.text


def test_the_form_message_speaks_the_persons_language(login: Login) -> None:
    mia = login("mia")
    french = mia.get("/web/expenses", params={"number": "*", "lang": "fr"})
    assert french.status_code == 422
    assert "au plus 200 caractères" in html.unescape(french.text)
    dutch = mia.get("/web/expenses", params={"supplier": "x", "lang": "nl"})
    assert dutch.status_code == 422
    assert translate("nl", NOT_AN_ID) in html.unescape(dutch.text)
    assert NOT_AN_ID not in html.unescape(dutch.text)


def _paged_expenses(site: Site, count: int) -> list[str]:
    """``count`` invoices PAGE-0.. for PU-04711 waiting for approval, newest last; their numbers."""
    store = site.services.store
    now = datetime.now(UTC)
    numbers = []
    with store.unit_of_work() as uow:
        for n in range(count):
            number = f"PAGE-{n:03d}"
            at = now + timedelta(seconds=n)
            document = replace(inbound(received_at=at), document_number=number)
            expense = expense_draft(
                document.id,
                number=number,
                status=ExpenseStatus.TO_APPROVE,
                at=at,
                unit_code="PU04711",
                supplier_key="0208:0412345614",
                supplier_name="Paged supplier",
                amount=Decimal("1.00"),
            )
            created = created_event(expense)
            uow.inbound.add(document, content())
            uow.expenses.add(expense, dedupe_key=uuid.uuid4().hex, event=created)
            numbers.append(number)
        uow.commit()
    return numbers


def test_the_page_links_keep_the_status_and_the_search_and_a_new_search_starts_at_page_one(
    site: Site, login: Login
) -> None:
    numbers = _paged_expenses(site, PAGE_SIZE + 2)
    mia = login("mia")
    first = mia.get("/web/expenses", params={"number": "page-*", "status": "any"})
    assert _numbers(first) == numbers[::-1][:PAGE_SIZE]
    following = _link(first, "Next page")
    assert following is not None
    assert "number=page-%2A" in following
    assert "status=any" in following
    second = mia.get(following)
    assert _numbers(second) == numbers[1::-1]
    assert _link(second, "Next page") is None
    assert _link(second, "First page") == "/web/expenses?status=any&number=page-%2A"
    # The form sends no cursor: submitting it (a new search) lists from the newest again.
    assert 'name="cursor"' not in second.text
    # "any" status without a search pages over every status too (its link used to fall back to "to approve").
    for every in ("any", ""):
        listed = mia.get("/web/expenses", params={"status": every})
        assert "status=any" in (_link(listed, "Next page") or ""), every
