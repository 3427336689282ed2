"""The names of the pages' downloads when an invoice and a credit note share a number (numbers are unique per
kind of document): the credit note's PDF and UBL are named ``credit-note-<number>``, the invoice's keep
their number alone, on the outbound, received document and expense pages, over real HTTP; the credit note's
word and the evidence zip's in the page's language (``note-de-credit-``, ``creditnota-``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from conftest import DELIVERED_NUMBER, Site
from test_page_downloads import _assert_download

from gateway.model.expense import SYSTEM_ACTOR
from gateway.services.expense_queries import get_expense, list_expenses
from gateway.services.ports import ExpenseQuery
from gateway.validation import ValidationEngine
from tests.integration.expense_support import DOCUMENTS, auth, deliver, supplier_document

#: The number of the supplier invoice the site receives (``conftest.site``), given to a credit note too.
SHARED = "SUP-7001"


@pytest.fixture(scope="module")
def credit_notes(site: Site, validation_engine: ValidationEngine) -> tuple[str, str]:
    """(outbound credit note id, credit note expense id): a credit note we send numbered as the delivered
    invoice, and one the supplier sends numbered as its invoice SUP-7001, to the same unit."""
    data = json.loads((DOCUMENTS / "credit-note.json").read_text(encoding="utf-8"))
    data["number"] = DELIVERED_NUMBER
    with httpx.Client(base_url=site.url) as client:
        sent = client.post("/v1/outbound/credit-notes", json=data, headers=auth("sender"))
        assert sent.status_code == 202, sent.text
        credit = supplier_document(
            validation_engine,
            "credit-note.json",
            number=SHARED,
            buyer_reference="PU-04711",
            preceding_invoices=[{"number": SHARED, "issue_date": "2026-01-01"}],
        )
        deliver(client, credit, credit=True)  # type: ignore[arg-type]
    # The receipt is answered before the expense is drafted (the work after a receipt runs after the answer,
    # over real HTTP): wait for it.
    deadline = time.monotonic() + 30
    while True:
        found = list_expenses(site.services.store, SYSTEM_ACTOR, ExpenseQuery(limit=50)).items
        drafted = [e for e in found if e.kind == "credit_note" and e.number == SHARED]
        if drafted or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    [expense] = drafted
    outbound_id: str = sent.json()["id"]
    return outbound_id, expense.id


def _received(site: Site, expense_id: str) -> str:
    return get_expense(site.services.store, SYSTEM_ACTOR, expense_id).expense.inbound_document_id


def _names(client: httpx.Client, page: str, query: str = "") -> tuple[str, str]:
    """The filename of the PDF and of the UBL a page offers, checked as every download."""
    pdf = client.get(f"{page}/document.pdf{query}")
    ubl = client.get(f"{page}/document.xml{query}")
    names = []
    for answer in (pdf, ubl):
        assert answer.status_code == 200, answer.text[:2000]
        disposition = answer.headers["content-disposition"]
        names.append(disposition.split('filename="', 1)[1].split('"', 1)[0])
    _assert_download(pdf, "application/pdf", names[0])
    _assert_download(ubl, "application/xml", names[1])
    return names[0], names[1]


def test_an_outbound_invoice_and_credit_note_of_one_number_download_under_two_names(
    site: Site, credit_notes: tuple[str, str], login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    invoice = _names(client, f"/web/outbound/{site.delivered_id}")
    credit = _names(client, f"/web/outbound/{credit_notes[0]}")
    assert invoice == (f"{DELIVERED_NUMBER}.pdf", f"{DELIVERED_NUMBER}.xml")  # as always
    assert credit == (f"credit-note-{DELIVERED_NUMBER}.pdf", f"credit-note-{DELIVERED_NUMBER}.xml")


def test_a_received_invoice_and_credit_note_of_one_number_download_under_two_names(
    site: Site, credit_notes: tuple[str, str], login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    invoice = _names(client, f"/web/inbound/{_received(site, site.routed_expense)}")
    credit = _names(client, f"/web/inbound/{_received(site, credit_notes[1])}")
    assert invoice == (f"{SHARED}.pdf", f"{SHARED}.xml")
    assert credit == (f"credit-note-{SHARED}.pdf", f"credit-note-{SHARED}.xml")


def test_an_invoice_and_a_credit_note_expense_of_one_number_download_under_two_names(
    site: Site, credit_notes: tuple[str, str], login: Callable[[str], httpx.Client]
) -> None:
    member = login("mia")  # member of PU-04711, the unit of both
    invoice = _names(member, f"/web/expenses/{site.routed_expense}")
    credit = _names(member, f"/web/expenses/{credit_notes[1]}")
    assert invoice == (f"{SHARED}.pdf", f"{SHARED}.xml")
    assert credit == (f"credit-note-{SHARED}.pdf", f"credit-note-{SHARED}.xml")


@pytest.mark.parametrize(("language", "word"), [("fr", "note-de-credit"), ("nl", "creditnota")])
def test_a_credit_note_downloads_under_its_word_in_the_pages_language(
    site: Site, credit_notes: tuple[str, str], login: Callable[[str], httpx.Client], language: str, word: str
) -> None:
    client = login("sam")
    page = f"/web/outbound/{credit_notes[0]}"
    # The page's links carry its language, the UBL's and the evidence's as the PDF's.
    shown = client.get(page, headers={"Accept-Language": f"{language}-BE"})
    assert shown.status_code == 200
    for link in ("document.pdf", "document.xml", "evidence.zip"):
        assert f'href="{page}/{link}?lang={language}"' in shown.text
    credit = _names(client, page, f"?lang={language}")
    assert credit == (f"{word}-{DELIVERED_NUMBER}.pdf", f"{word}-{DELIVERED_NUMBER}.xml")
    # Accept-Language alone names them too; an invoice keeps its number alone in every language.
    by_header = client.get(f"{page}/document.xml", headers={"Accept-Language": language})
    assert f'filename="{word}-{DELIVERED_NUMBER}.xml"' in by_header.headers["content-disposition"]
    invoice = _names(client, f"/web/inbound/{_received(site, site.routed_expense)}", f"?lang={language}")
    assert invoice == (f"{SHARED}.pdf", f"{SHARED}.xml")
    expense = _names(login("mia"), f"/web/expenses/{credit_notes[1]}", f"?lang={language}")
    assert expense == (f"{word}-{SHARED}.pdf", f"{word}-{SHARED}.xml")


@pytest.mark.parametrize(
    ("language", "word"), [("en", "evidence"), ("fr", "preuves"), ("nl", "bewijsstukken")]
)
def test_the_evidence_zip_is_named_in_the_pages_language(
    site: Site, login: Callable[[str], httpx.Client], language: str, word: str
) -> None:
    answer = login("sam").get(f"/web/outbound/{site.delivered_id}/evidence.zip?lang={language}")
    _assert_download(answer, "application/zip", f"{word}-{site.delivered_id}.zip")
