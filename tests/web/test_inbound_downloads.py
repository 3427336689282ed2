"""The Download PDF and Download UBL links of a received document's page (``/web/inbound/{id}``), over real
HTTP (httpx against uvicorn on loopback): an invoice downloads as both, an invalid but well-formed one too
(its PDF carries the validation banner), an Invoice Response, an MLS or a document that cannot be read as
its UBL only (no PDF link, a message why; named after their kind and number), with the headers and the
roles of the page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import Site
from test_page_downloads import _assert_download, _pdf_text

from gateway.model import identifiers as ids
from gateway.model.expense import SYSTEM_ACTOR
from gateway.model.message import DocumentContent, InboundDocument, InboundStatus
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS
from gateway.services.expense_queries import get_expense
from gateway.services.inbound_queries import get_inbound
from tests.integration.expense_support import COOP, SUPPLIER

MLS_EXAMPLE = "peppol-mls-1.0.1/examples/MessageLevelStatus_Example_AP.xml"
T111_EXAMPLE = "peppol-invoice-response/examples/T111-uc004a-Invoice is rejected.xml"
INVOICE_EXAMPLE = "peppol-bis-billing-3.0.19/examples/base-example.xml"
INVALID_NUMBER = "Snippet1"  # the example's cbc:ID


@dataclass
class Received:
    """The received documents of the tests, by kind: their ids."""

    invoice: str
    invalid: str
    mls: str
    response: str
    unreadable: str


def _store(
    site: Site,
    body: bytes,
    status: InboundStatus,
    report: dict[str, object] | None,
    *,
    sender: ids.ParticipantID = SUPPLIER,
    kind: tuple[ids.DocumentTypeID, ids.ProcessID] = (ids.BIS_INVOICE, ids.BIS_BILLING_PROCESS),
) -> str:
    """A received document stored as the receiving side stores one (its AS4 message is not needed here)."""
    document_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    document = InboundDocument(
        id=document_id,
        as4_message_id=f"{document_id}@supplier.test",
        sender=sender,
        receiver=COOP,
        document_type=kind[0],
        process=kind[1],
        status=status,
        received_at=now,
        updated_at=now,
        status_reason="BR-CO-15" if status is InboundStatus.INVALID else None,
    )
    with site.services.store.unit_of_work() as uow:
        uow.inbound.add(document, DocumentContent(body, report))
        uow.commit()
    return document_id


@pytest.fixture(scope="module")
def received(site: Site, artefacts_dir: Path) -> Received:
    expense = get_expense(site.services.store, SYSTEM_ACTOR, site.routed_expense).expense
    invalid_body = re.sub(
        rb"(<cbc:PayableAmount[^>]*>)[^<]*", rb"\g<1>twelve", (artefacts_dir / INVOICE_EXAMPLE).read_bytes()
    )
    fatal = {
        "rule_set": "peppol-bis-billing-3",
        "valid": False,
        "issues": [
            {"rule": "BR-CO-15", "severity": "fatal", "message": "Amount due is wrong", "location": "/"}
        ],
    }
    spid = ids.ParticipantID.parse("0242:000002")
    return Received(
        invoice=expense.inbound_document_id,
        invalid=_store(site, invalid_body, InboundStatus.INVALID, fatal),
        mls=_store(
            site,
            (artefacts_dir / MLS_EXAMPLE).read_bytes(),
            InboundStatus.VALID,
            None,
            sender=spid,
            kind=(MLS_DOCUMENT_TYPE, MLS_PROCESS),  # as the receiver stores an MLS (its SBDH's)
        ),
        response=_store(
            site,
            (artefacts_dir / T111_EXAMPLE).read_bytes(),
            InboundStatus.VALID,
            None,
            kind=(ids.INVOICE_RESPONSE, ids.INVOICE_RESPONSE_PROCESS),
        ),
        unreadable=_store(site, b"<Invoice><cbc:ID>broken", InboundStatus.INVALID, None),
    )


def test_a_received_invoice_links_its_pdf_and_ubl_and_both_download(
    site: Site, received: Received, login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    page = client.get(f"/web/inbound/{received.invoice}")
    assert page.status_code == 200
    links = {label: href for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', page.text)}
    assert links["Download PDF"] == f"/web/inbound/{received.invoice}/document.pdf?lang=en"
    assert links["Download UBL"] == f"/web/inbound/{received.invoice}/document.xml?lang=en"
    assert 'id="no-pdf"' not in page.text

    pdf = client.get(links["Download PDF"])
    _assert_download(pdf, "application/pdf", "SUP-7001.pdf")
    assert pdf.content.startswith(b"%PDF")
    assert "SUP-7001" in _pdf_text(pdf.content)
    assert pdf.headers["content-language"] == "en"

    ubl = client.get(links["Download UBL"])
    _assert_download(ubl, "application/xml", "SUP-7001.xml")
    assert ubl.content == get_inbound(site.services.store, received.invoice).content.body


def test_an_invalid_but_well_formed_invoice_prints_with_its_findings(
    received: Received, login: Callable[[str], httpx.Client]
) -> None:
    """The renderer shows what it can read of an invalid invoice; the PDF says it is not valid and why."""
    client = login("sam")
    page = client.get(f"/web/inbound/{received.invalid}", headers={"Accept-Language": "fr-BE"})
    assert page.status_code == 200
    assert "Télécharger le PDF" in page.text
    pdf = client.get(f"/web/inbound/{received.invalid}/document.pdf?lang=fr")
    _assert_download(pdf, "application/pdf", f"{INVALID_NUMBER}.pdf")
    text = _pdf_text(pdf.content)
    assert "BR-CO-15" in text
    assert "Amount due is wrong" in text
    assert pdf.headers["content-language"] == "fr"


@pytest.mark.parametrize(
    ("which", "name"),
    [("mls", "mls-MLS-ID123.xml"), ("response", "invoice-response-imrid001.xml"), ("unreadable", None)],
)
def test_a_document_that_is_no_invoice_downloads_as_ubl_only(
    site: Site, received: Received, login: Callable[[str], httpx.Client], which: str, name: str | None
) -> None:
    document_id = getattr(received, which)
    client = login("sam")
    page = client.get(f"/web/inbound/{document_id}", headers={"Accept-Language": "nl-BE"})
    assert page.status_code == 200
    assert "document.pdf" not in page.text
    assert f'href="/web/inbound/{document_id}/document.xml?lang=nl">UBL downloaden</a>' in page.text
    assert 'id="no-pdf"' in page.text
    assert "Geen pdf" in page.text

    ubl = client.get(f"/web/inbound/{document_id}/document.xml?lang=nl")  # Peppol's names in every language
    body = get_inbound(site.services.store, document_id).content.body
    number = re.search(rb"<cbc:ID>([^<]+)</cbc:ID>", body)
    expected = name if name is not None else f"received-{document_id}.xml"
    if name is not None:
        assert number is not None
        assert expected.endswith(f"-{number.group(1).decode()}.xml")  # its kind, then its number
    _assert_download(ubl, "application/xml", expected)
    assert ubl.content == body

    # Its PDF address, typed by hand: the document's page with the reason, never a 5xx or a PDF.
    pdf = client.get(f"/web/inbound/{document_id}/document.pdf")
    assert pdf.status_code == 422
    assert pdf.headers["content-type"].startswith("text/html")
    assert 'id="pdf-problem"' in pdf.text
    assert "Validatierapport" in pdf.text or "Validation report" in pdf.text
    assert b"%PDF" not in pdf.content


def test_a_document_the_renderer_refuses_says_so_and_offers_no_pdf(
    received: Received, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway.render.html
    from gateway.errors import MappingError

    def refuse(*_args: object, **_kwargs: object) -> str:
        raise MappingError("the invoice has no currency")

    monkeypatch.setattr(gateway.render.html, "render_fragment", refuse)
    page = login("sam").get(f"/web/inbound/{received.invalid}")
    assert page.status_code == 200
    assert "This document cannot be shown: the invoice has no currency" in page.text
    assert "document.pdf" not in page.text
    assert 'id="no-pdf"' in page.text


def test_a_busy_printer_is_said_on_the_received_documents_page(
    site: Site, received: Received, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.render.pdf import RenderBusy

    async def busy(*_args: object, **_kwargs: object) -> bytes:
        raise RenderBusy("every slot is taken")

    monkeypatch.setattr(site.services.print_slots, "print", busy)
    answer = login("sam").get(f"/web/inbound/{received.invoice}/document.pdf")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == str(site.services.settings.server.retry_after_seconds)
    assert "Every PDF printer of the gateway is busy. Try again in a moment." in answer.text
    assert "Validation report" in answer.text
    assert "Traceback" not in answer.text


def test_unknown_received_documents_have_no_downloads(login: Callable[[str], httpx.Client]) -> None:
    """(Who may download a received document is tested with the outbound page's: test_page_downloads.)"""
    unknown = login("sam").get("/web/inbound/00000000-0000-0000-0000-000000000000/document.xml")
    assert unknown.status_code == 404
    assert "text/html" in unknown.headers["content-type"]


def test_the_download_is_named_after_the_number_recorded_with_the_verdict(
    site: Site, artefacts_dir: Path, login: Callable[[str], httpx.Client]
) -> None:
    # The number recorded at receipt (migration 0015) names the download without reading the body again;
    # a document received before it (no number recorded) is still named from its body.
    body = (artefacts_dir / INVOICE_EXAMPLE).read_bytes()
    recorded = _store(site, body, InboundStatus.VALID, None)
    numbered = str(uuid.uuid4())
    now = datetime.now(UTC)
    with site.services.store.unit_of_work() as uow:
        uow.inbound.add(
            InboundDocument(
                id=numbered,
                as4_message_id=f"{numbered}@supplier.test",
                sender=SUPPLIER,
                receiver=COOP,
                document_type=ids.BIS_INVOICE,
                process=ids.BIS_BILLING_PROCESS,
                status=InboundStatus.VALID,
                received_at=now,
                updated_at=now,
                document_number="STORED-42",
            ),
            DocumentContent(body, None),
        )
        uow.commit()
    client = login("sam")
    _assert_download(client.get(f"/web/inbound/{numbered}/document.xml"), "application/xml", "STORED-42.xml")
    _assert_download(client.get(f"/web/inbound/{recorded}/document.xml"), "application/xml", "Snippet1.xml")


def test_a_flood_of_combining_marks_is_shown_and_printed_cut_and_downloads_whole(
    site: Site, artefacts_dir: Path, login: Callable[[str], httpx.Client]
) -> None:
    """A sender's item name with 5,000 accents on one letter (one grapheme cluster: 50,000 held a print slot
    for 32 s): the page and the PDF show its first 30 and a sign that it was cut; the UBL download is the
    document as received, every accent kept."""
    from gateway.render.mark_runs import MAX_MARK_RUN, SHORTENED

    flood = "Z" + "\u0301" * 5_000
    example = (artefacts_dir / INVOICE_EXAMPLE).read_bytes()
    body = example.replace(b"<cbc:Name>item name</cbc:Name>", f"<cbc:Name>item {flood}</cbc:Name>".encode())
    assert flood.encode() in body
    document_id = _store(site, body, InboundStatus.VALID, None)
    shown = "item Z" + "\u0301" * MAX_MARK_RUN + SHORTENED
    overlong = re.compile(f"\u0301{{{MAX_MARK_RUN + 1}}}")
    client = login("sam")

    page = client.get(f"/web/inbound/{document_id}")
    assert page.status_code == 200
    assert shown in page.text
    assert overlong.search(page.text) is None

    pdf = client.get(f"/web/inbound/{document_id}/document.pdf?lang=en")
    _assert_download(pdf, "application/pdf", "Snippet1.pdf")
    text = _pdf_text(pdf.content)
    assert shown in text
    assert overlong.search(text) is None

    ubl = client.get(f"/web/inbound/{document_id}/document.xml")
    _assert_download(ubl, "application/xml", "Snippet1.xml")
    assert ubl.content == body
