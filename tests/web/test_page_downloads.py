"""The Download PDF and Download UBL links of the outbound, received document and expense pages, over real
HTTP (httpx against uvicorn on loopback): the PDF printed by the API's renderer, its headers, who may
download what (as the pages), and a busy or failing printer said on the document's page."""

from __future__ import annotations

import html
import io
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import Site
from pypdf import PdfReader

import gateway.render.pdf
from gateway.bootstrap.slots import PrintSlots
from gateway.model.expense import SYSTEM_ACTOR
from gateway.services.expense_queries import get_expense
from gateway.services.outbound_queries import get_outbound, get_outbound_content
from tests.integration.expense_support import auth


def _pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def _number_of_outbound(site: Site, document_id: str) -> str:
    return get_outbound(site.services.store, document_id).document.document_number


def _expense_number(site: Site, expense_id: str) -> str:
    return get_expense(site.services.store, SYSTEM_ACTOR, expense_id).expense.number


def _printer(monkeypatch: pytest.MonkeyPatch, write_pdf: Callable[..., bytes]) -> None:
    """Replace WeasyPrint's ``HTML.write_pdf`` (the page is still parsed for a print)."""
    import weasyprint

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf)


def _assert_download(answer: httpx.Response, media_type: str, name: str) -> None:
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.headers["content-type"] == media_type
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.headers["content-security-policy"] == "sandbox"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert f'filename="{name}"' in disposition
    assert f"filename*=UTF-8''{name}" in disposition


def test_the_outbound_page_links_its_pdf_and_ubl_and_both_download(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    number = _number_of_outbound(site, site.delivered_id)
    document = client.get(f"/web/outbound/{site.delivered_id}")
    assert document.status_code == 200
    pdf_link = f"/web/outbound/{site.delivered_id}/document.pdf?lang=en"
    ubl_link = f"/web/outbound/{site.delivered_id}/document.xml?lang=en"
    assert f'href="{pdf_link}">Download PDF</a>' in document.text
    assert f'href="{ubl_link}">Download UBL</a>' in document.text

    pdf = client.get(pdf_link)
    _assert_download(pdf, "application/pdf", f"{number}.pdf")
    assert pdf.content.startswith(b"%PDF")
    text = _pdf_text(pdf.content)
    assert number in text
    assert "Invoice" in text
    assert pdf.headers["content-language"] == "en"

    ubl = client.get(ubl_link)
    _assert_download(ubl, "application/xml", f"{number}.xml")
    assert ubl.content == get_outbound_content(site.services.store, site.delivered_id).body


def test_the_pdf_speaks_the_pages_language(site: Site, login: Callable[[str], httpx.Client]) -> None:
    client = login("sam")
    page = client.get(f"/web/outbound/{site.delivered_id}", headers={"Accept-Language": "fr-BE"})
    assert "Télécharger le PDF" in page.text
    assert "Télécharger l’UBL" in html.unescape(page.text).replace("'", "’")
    link = re.search(r'href="([^"]+document\.pdf[^"]*)"', page.text)
    assert link is not None
    pdf = client.get(link.group(1).replace("&amp;", "&"))
    assert pdf.status_code == 200
    assert pdf.headers["content-language"] == "fr"
    assert "Facture" in _pdf_text(pdf.content)


def test_a_member_downloads_the_expenses_of_their_unit_only(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    number = _expense_number(site, site.routed_expense)
    mia = login("mia")  # member of PU-04711, the unit of the routed expense
    page = mia.get(f"/web/expenses/{site.routed_expense}")
    assert page.status_code == 200
    assert "Download PDF" in page.text
    pdf = mia.get(f"/web/expenses/{site.routed_expense}/document.pdf")
    _assert_download(pdf, "application/pdf", f"{number}.pdf")
    assert pdf.content.startswith(b"%PDF")
    assert number in _pdf_text(pdf.content)
    ubl = mia.get(f"/web/expenses/{site.routed_expense}/document.xml")
    _assert_download(ubl, "application/xml", f"{number}.xml")
    assert ubl.content.lstrip().startswith(b"<?xml") or b"<Invoice" in ubl.content[:500]

    max_ = login("max")  # member of PU-00123: the expense does not exist for them, as its page
    for path in ("document.pdf", "document.xml"):
        refused = max_.get(f"/web/expenses/{site.routed_expense}/{path}")
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("text/html")
        assert number not in refused.text
        assert b"%PDF" not in refused.content
    # The triage queue belongs to no unit: a member gets it from no address either.
    assert mia.get(f"/web/expenses/{site.triage_expense}/document.pdf").status_code == 404
    # Support sees every expense.
    assert login("sam").get(f"/web/expenses/{site.triage_expense}/document.pdf").status_code == 200


@pytest.mark.parametrize("direction", ["outbound", "inbound"])
def test_sent_and_received_downloads_follow_the_role_model(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client], direction: str
) -> None:
    document_id = (
        site.delivered_id
        if direction == "outbound"
        else get_expense(site.services.store, SYSTEM_ACTOR, site.routed_expense).expense.inbound_document_id
    )
    assert login("mia").get(f"/web/{direction}/{document_id}").status_code == 403
    for path in ("document.pdf", "document.xml"):
        address = f"/web/{direction}/{document_id}/{path}"
        member = login("mia").get(address)
        assert member.status_code == 403  # as the document's page: support and admins only
        assert b"<Invoice" not in member.content
        assert b"%PDF" not in member.content
        anonymous = new_client().get(address)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/web/login")
        assert login("ada").get(address).status_code == 200
    unknown = login("sam").get("/web/outbound/00000000-0000-0000-0000-000000000000/document.pdf")
    assert unknown.status_code == 404
    assert "text/html" in unknown.headers["content-type"]


def test_a_download_changes_nothing_and_takes_get_only(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    before = get_expense(site.services.store, SYSTEM_ACTOR, site.routed_expense)
    assert client.get(f"/web/expenses/{site.routed_expense}/document.pdf").status_code == 200
    assert get_expense(site.services.store, SYSTEM_ACTOR, site.routed_expense) == before
    posted = client.post(f"/web/expenses/{site.routed_expense}/document.pdf")
    assert posted.status_code == 405
    assert "GET" in posted.headers["allow"]


def test_a_document_the_printer_fails_on_is_said_on_its_page_with_an_error_id(
    site: Site,
    login: Callable[[str], httpx.Client],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failing(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("layout of 'Jörg Peeters' failed")

    _printer(monkeypatch, failing)
    client = login("mia")
    with caplog.at_level(logging.ERROR, logger="gateway"):
        answer = client.get(f"/web/expenses/{site.routed_expense}/document.pdf")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Jörg" not in answer.text
    # The expense's own page, the reason in place, the rest served.
    assert "Audit trail" in answer.text
    assert "The PDF of this document could not be made" in answer.text
    found = re.search(r"error id ([0-9a-f]{32})", answer.text)
    assert found is not None, answer.text
    (record,) = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert site.routed_expense in record.getMessage()
    assert record.exc_info is not None


def test_a_printer_that_cannot_print_anything_is_a_500_page_not_a_stack(
    site: Site, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    def exhausted(*_args: object, **_kwargs: object) -> bytes:
        raise MemoryError

    _printer(monkeypatch, exhausted)
    answer = login("sam").get(
        f"/web/outbound/{site.delivered_id}/document.pdf", headers={"Accept-Language": "nl"}
    )
    assert answer.status_code == 500
    assert "Statusverloop" in answer.text  # the document's page, in Dutch
    assert "De pdf van dit document kon niet worden gemaakt (foutcode" in answer.text
    assert "Traceback" not in answer.text


def test_a_document_too_large_to_print_is_said_on_its_page(
    site: Site, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.render.pdf, "MAX_PDF_HTML_CHARS", 100)
    answer = login("sam").get(f"/web/outbound/{site.delivered_id}/document.pdf")
    assert answer.status_code == 422
    assert "too large to print as a PDF" in answer.text
    assert "Status timeline" in answer.text


class _HeldPrinter:
    """Prints that wait until released, counting those running."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, *_args: object, **_kwargs: object) -> bytes:
        self.started.set()
        self.release.wait(60)
        return b"%PDF-1.7 held"


@pytest.fixture(name="held")
def held_fixture(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[_HeldPrinter]:
    """One print slot, a wait of 0.2 s for it, and prints held until released."""
    printer = _HeldPrinter()
    _printer(monkeypatch, printer)
    monkeypatch.setattr(site.services, "print_slots", PrintSlots(1, 0.2))
    yield printer
    printer.release.set()


def test_busy_print_slots_are_a_try_again_page_with_retry_after(
    site: Site, login: Callable[[str], httpx.Client], held: _HeldPrinter
) -> None:
    """The pages wait for the same print slots as the API: a PDF the API is printing holds the page's."""
    member, support = login("mia"), login("sam")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(
            httpx.get,
            f"{site.url}/v1/expenses/{site.routed_expense}/render?format=pdf",
            headers=auth("support"),
        )
        assert held.started.wait(30)
        busy = member.get(f"/web/expenses/{site.routed_expense}/document.pdf")
        busy_outbound = support.get(f"/web/outbound/{site.delivered_id}/document.pdf")
        held.release.set()
        assert first.result(timeout=60).status_code == 200
    for answer in (busy, busy_outbound):
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == str(site.services.settings.server.retry_after_seconds)
        assert answer.headers["content-type"].startswith("text/html")
        assert "Every PDF printer of the gateway is busy. Try again in a moment." in answer.text
    assert "Audit trail" in busy.text
    assert "Status timeline" in busy_outbound.text
    # Once the slot is free again, the download works.
    again = member.get(f"/web/expenses/{site.routed_expense}/document.pdf")
    assert again.status_code == 200
    assert again.content == b"%PDF-1.7 held"


def test_the_evidence_zip_is_a_download_no_cache_keeps(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    # It holds the exact document sent and every signal received: as the PDF and the UBL, no cache keeps
    # it, no browser sniffs it into another type, opened it runs sandboxed.
    client = login("sam")
    answer = client.get(f"/web/outbound/{site.delivered_id}/evidence.zip")
    _assert_download(answer, "application/zip", f"evidence-{site.delivered_id}.zip")
    assert answer.content.startswith(b"PK")
