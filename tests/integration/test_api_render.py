"""GET /v1/{outbound,inbound}/{id}/render (HTML, PDF, language), the attachment downloads, roles and
problem+json; /docs and /redoc served from local assets."""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

import pytest
from pypdf import PdfReader

from gateway.bootstrap.slots import PrintSlots
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import DocumentContent, InboundDocument, InboundStatus
from gateway.render import read_attachment
from tests.integration.document_api import (  # noqa: F401 - fixtures
    SUPPORT_KEY,
    T0,
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
    problem_of,
)
from tests.unit.render.support import sample, to_ubl, with_lines

INBOUND_ID = "00000000-0000-0000-0000-0000000000aa"
REPORT = {
    "rule_set": "peppol-bis-billing-3.0.21",
    "valid": False,
    "issues": [{"rule": "BR-CO-15", "severity": "fatal", "layer": "cen", "message": "VAT total differs"}],
}


def _pdf_text(content: bytes) -> str:
    text = " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def receive(docs: DocumentAPI, body: bytes, document_id: str = INBOUND_ID) -> str:
    with docs.store.unit_of_work() as uow:
        uow.inbound.add(
            InboundDocument(
                id=document_id,
                as4_message_id=f"{document_id}@peer",
                sender=ParticipantID.parse("0208:0412345614"),
                receiver=ParticipantID.parse("0208:0739484052"),
                document_type=BIS_INVOICE,
                process=BIS_BILLING_PROCESS,
                status=InboundStatus.INVALID,
                received_at=T0,
                updated_at=T0,
                sbdh_instance_id=f"sbdh-{document_id}",
                status_reason="BR-CO-15",
            ),
            DocumentContent(body, REPORT),
        )
        uow.commit()
    return document_id


def test_inbound_html_with_banner_language_and_attachment(docs: DocumentAPI) -> None:
    ubl = to_ubl(sample("attachment-pdf"))
    document_id = receive(docs, ubl)
    page = docs.client.get(
        f"/v1/inbound/{document_id}/render", headers={**auth("support"), "Accept-Language": "nl-BE,nl;q=0.9"}
    )
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-language"] == "nl"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert "Dit document is niet geldig" in html
    assert "BR-CO-15" in html
    link = f"/v1/inbound/{document_id}/attachments/0"
    assert f'href="{link}"' in html
    french = docs.client.get(f"/v1/inbound/{document_id}/render?lang=fr", headers={"Accept-Language": "nl"})
    assert "Montant à payer" in french.text
    download = docs.client.get(link)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["cache-control"] == "private, no-store"  # as every document file
    embedded = read_attachment(ubl, 0)
    assert embedded is not None
    assert download.content == embedded.content
    missing = docs.client.get(f"/v1/inbound/{document_id}/attachments/7")
    assert missing.status_code == 404
    assert problem_of(missing)["type"] == "/problems/not-found"


def test_attachment_names_and_types_from_the_document_are_made_safe(docs: DocumentAPI) -> None:
    document = sample("attachment-pdf")
    document["attachments"][0].update(filename='фактура "x".html', mime_code="text/csv")
    document_id = receive(docs, to_ubl(document))
    download = docs.client.get(f"/v1/inbound/{document_id}/attachments/0")
    assert download.status_code == 200
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"x.html\"; filename*=UTF-8''")
    assert "%D1%84%D0%B0%D0%BA%D1%82%D1%83%D1%80%D0%B0%20%22x%22.html" in disposition
    assert download.headers["content-security-policy"] == "sandbox"
    assert download.headers["content-type"].startswith("text/csv")
    # A right-to-left override would show "scan\u202efdp.exe" as "scanexe.pdf": it is dropped from both names.
    spoofed = sample("attachment-pdf")
    spoofed["attachments"][0].update(filename="scan\u202efdp.exe")
    spoofed_id = receive(docs, to_ubl(spoofed), "00000000-0000-0000-0000-0000000000ba")
    assert docs.client.get(f"/v1/inbound/{spoofed_id}/attachments/0").headers["content-disposition"] == (
        "attachment; filename=\"scanfdp.exe\"; filename*=UTF-8''scanfdp.exe"
    )
    # A type outside the BIS list (here HTML) is never served as such from our origin.
    html_attachment = to_ubl(sample("attachment-pdf")).replace(
        b'mimeCode="application/pdf"', b'mimeCode="text/html"'
    )
    receive(docs, html_attachment, "00000000-0000-0000-0000-0000000000bb")
    served = docs.client.get("/v1/inbound/00000000-0000-0000-0000-0000000000bb/attachments/0")
    assert served.headers["content-type"] == "application/octet-stream"


def test_outbound_pdf_shows_the_totals_and_the_structured_communication(docs: DocumentAPI) -> None:
    submitted = docs.client.post("/v1/outbound/invoices", json=sample("be-domestic-mixed-rates"))
    assert submitted.status_code == 202, submitted.text
    document_id = submitted.json()["id"]
    ubl = docs.client.get(f"/v1/outbound/{document_id}/ubl").content
    payable = re.search(rb'<cbc:PayableAmount currencyID="EUR">([0-9.]+)<', ubl)
    reference = re.search(rb"<cbc:PaymentID>([^<]+)<", ubl)
    assert payable is not None
    assert reference is not None
    pdf = docs.client.get(f"/v1/outbound/{document_id}/render?format=pdf&lang=fr", headers=auth("support"))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    whole, cents = payable.group(1).decode().split(".")
    assert f"{int(whole):,}".replace(",", " ") + f",{cents} €" in text
    assert reference.group(1).decode() in text
    assert "Montant à payer" in text


def test_problems(docs: DocumentAPI) -> None:
    receive(docs, b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>", INBOUND_ID)
    not_invoice = docs.client.get(f"/v1/inbound/{INBOUND_ID}/render")
    assert not_invoice.status_code == 422
    assert problem_of(not_invoice)["type"] == "/problems/mapping"
    for path in (
        "/v1/inbound/none/render",
        "/v1/outbound/none/render?format=pdf",
        "/v1/outbound/none/attachments/0",
    ):
        response = docs.client.get(path)
        assert response.status_code == 404, path
        assert problem_of(response)["type"] == "/problems/not-found"
    # An id that cannot be one (PostgreSQL stores no NUL: it answered 503) is refused before the store.
    for path in ("/v1/inbound/a%00b/render", "/v1/outbound/a%00b/render", "/v1/outbound/a%00b/attachments/0"):
        response = docs.client.get(path)
        assert problem_of(response)["type"] == "/problems/request-invalid", path
        assert response.status_code == 422
    bad_format = docs.client.get(f"/v1/inbound/{INBOUND_ID}/render?format=docx")
    assert bad_format.status_code == 422
    assert problem_of(bad_format)["type"] == "/problems/request-invalid"
    bad_lang = docs.client.get(f"/v1/inbound/{INBOUND_ID}/render?lang=de")
    assert bad_lang.status_code == 422
    anonymous = docs.client.get(f"/v1/inbound/{INBOUND_ID}/render", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    problem_of(anonymous)


def test_openapi_documents_the_rendered_media_types(docs: DocumentAPI) -> None:
    spec = docs.client.get("/openapi.json").json()
    for direction in ("outbound", "inbound"):
        content = spec["paths"][f"/v1/{direction}/{{document_id}}/render"]["get"]["responses"]["200"][
            "content"
        ]
        assert set(content) == {"text/html", "application/pdf"}


def test_api_docs_load_nothing_from_another_host(docs: DocumentAPI) -> None:
    for page_url in ("/docs", "/redoc"):
        page = docs.client.get(page_url)
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""", page.text)
        found = [u for pair in urls for u in pair if u]
        assert found, page_url
        assert not [u for u in found if re.match(r"^(https?:)?//", u)], found
        assert "cdn.jsdelivr" not in page.text
        assert "fonts.googleapis" not in page.text
        for asset in found:
            if asset.startswith("/static/"):
                assert docs.client.get(asset).status_code == 200, asset
    assert docs.client.get("/static/apidocs/swagger-ui-bundle.js").status_code == 200
    assert docs.client.get("/static/apidocs/redoc.standalone.js").status_code == 200


def test_a_document_too_large_to_print_is_refused_at_once_its_html_served(docs: DocumentAPI) -> None:
    """A supplier's invoice with thousands of lines held a worker for minutes (4,000 lines: 46 s, 800 MiB)."""
    document_id = receive(docs, to_ubl(with_lines(sample(), 3000)))
    started = time.monotonic()
    pdf = docs.client.get(f"/v1/inbound/{document_id}/render?format=pdf", headers=auth("support"))
    assert pdf.status_code == 422, pdf.headers
    assert problem_of(pdf)["type"] == "/problems/render-too-large"
    assert "HTML rendering" in problem_of(pdf)["detail"]
    assert time.monotonic() - started < 10
    page = docs.client.get(f"/v1/inbound/{document_id}/render", headers=auth("support"))
    assert page.status_code == 200
    assert page.text.count("<tr") > 3000


def test_an_amount_with_more_digits_than_can_be_printed_is_shown_as_stated(docs: DocumentAPI) -> None:
    """Forty digits in the amount due (a valid xsd:decimal) made every rendering of the document a 500."""
    digits = "9" * 40
    ubl = re.sub(rb"(<cbc:PayableAmount\b[^>]*>)[^<]*<", rb"\g<1>" + digits.encode() + b"<", to_ubl(sample()))
    document_id = receive(docs, ubl)
    page = docs.client.get(f"/v1/inbound/{document_id}/render", headers=auth("support"))
    assert page.status_code == 200, page.text
    assert digits in page.text
    pdf = docs.client.get(f"/v1/inbound/{document_id}/render?format=pdf", headers=auth("support"))
    assert pdf.status_code == 200
    assert digits in _pdf_text(pdf.content).replace(" ", "")


def _printer(monkeypatch: pytest.MonkeyPatch, write_pdf: Callable[..., bytes]) -> None:
    """Replace WeasyPrint's ``HTML.write_pdf`` (the narrowest seam: the page is still parsed for a print)."""
    import weasyprint

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf)


def test_a_document_the_printer_fails_on_is_a_422_problem_logged_with_its_id(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception out of WeasyPrint's layout (AssertionError, IndexError...) was a bare 500."""
    document_id = receive(docs, to_ubl(sample()))

    def failing(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("layout of 'Jörg Peeters' failed")

    _printer(monkeypatch, failing)
    with caplog.at_level(logging.ERROR, logger="gateway.render"):
        pdf = docs.client.get(f"/v1/inbound/{document_id}/render?format=pdf", headers=auth("support"))
    assert pdf.status_code == 422, pdf.text
    problem = problem_of(pdf)
    assert problem["type"] == "/problems/render-failed"
    assert "HTML rendering shows it" in problem["detail"]
    assert "Jörg" not in pdf.text  # the printer's words go to the log, not to the caller
    (record,) = [r for r in caplog.records if document_id in r.getMessage()]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], AssertionError)
    assert SUPPORT_KEY not in caplog.text
    # Its HTML is still served.
    assert docs.client.get(f"/v1/inbound/{document_id}/render", headers=auth("support")).status_code == 200


def test_a_printer_out_of_memory_is_a_500_problem_with_a_type(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    document_id = receive(docs, to_ubl(sample()))

    def exhausted(*_args: object, **_kwargs: object) -> bytes:
        raise MemoryError

    _printer(monkeypatch, exhausted)
    pdf = docs.client.get(f"/v1/inbound/{document_id}/render?format=pdf", headers=auth("support"))
    assert pdf.status_code == 500, pdf.text
    assert problem_of(pdf)["type"] == "/problems/render-unavailable"


class _SlowPrinter:
    """A print that takes ``seconds`` (in its worker thread), after ``hold`` is set if given, and counts how
    many run at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.hold: threading.Event | None = None  # set: each print waits for it first

    def __call__(self, *_args: object, **_kwargs: object) -> bytes:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        if self.hold is not None:
            self.hold.wait(60)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        return b"%PDF-1.7 slow"


def _slow_prints(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch, seconds: float, slots: PrintSlots
) -> tuple[str, _SlowPrinter]:
    """A received document, prints taking ``seconds`` each, and the app's print slots set to ``slots``."""
    document_id = receive(docs, to_ubl(sample()))
    printer = _SlowPrinter(seconds)
    _printer(monkeypatch, printer)
    monkeypatch.setattr(docs.services, "print_slots", slots)
    return document_id, printer


def _concurrently(docs: DocumentAPI, paths: list[str]) -> list[Any]:
    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(lambda path: docs.client.get(path, headers=auth("support")), paths))


def test_prints_are_limited_per_process_and_the_excess_gets_503_render_busy(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any number of large PDFs printed at once (each up to tens of seconds and hundreds of MiB). Held
    prints, not timed ones: the two refused answer, and the HTML page is served, while both prints are
    still running."""
    printing = threading.Event()
    document_id, printer = _slow_prints(docs, monkeypatch, 0, PrintSlots(2, 0.3))
    printer.hold = printing
    pdf = f"/v1/inbound/{document_id}/render?format=pdf"
    with ThreadPoolExecutor(4) as pool:
        answers = [pool.submit(docs.client.get, pdf, headers=auth("support")) for _ in range(4)]
        refused: list[Any] = []
        while len(refused) < 2:
            more, _ = wait([a for a in answers if a not in refused], timeout=30, return_when=FIRST_COMPLETED)
            if not more:
                printing.set()
                pytest.fail(f"{len(refused)} requests answered while the prints were held, not 2")
            refused += list(more)
        assert printer.running == 2  # both answered before any print ended
        # Meanwhile the event loop serves the rest: the prints run in worker threads.
        page = docs.client.get(f"/v1/inbound/{document_id}/render", headers=auth("support"))
        assert printer.running == 2
        printing.set()
        printed = [a.result(timeout=60) for a in answers if a not in refused]
    assert page.status_code == 200
    assert [r.status_code for r in printed] == [200, 200]
    assert printer.most == 2
    for busy in (future.result() for future in refused):
        assert busy.status_code == 503, busy.text
        assert problem_of(busy)["type"] == "/problems/render-busy"
        assert busy.headers["retry-after"] == str(docs.services.settings.server.retry_after_seconds)


def test_a_request_waits_for_a_print_slot_within_the_bound(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    document_id, printer = _slow_prints(docs, monkeypatch, 0.5, PrintSlots(1, 60.0))
    responses = _concurrently(docs, [f"/v1/inbound/{document_id}/render?format=pdf"] * 3)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert printer.most == 1
    assert docs.services.print_slots.taken == 0


def test_the_print_slots_come_from_the_settings(docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(docs.services, "print_slots", raising=False)
    document_id = receive(docs, to_ubl(sample()))
    _printer(monkeypatch, _SlowPrinter(0))
    assert docs.client.get(f"/v1/inbound/{document_id}/render?format=pdf").status_code == 200
    assert docs.services.print_slots.capacity == docs.services.settings.render.max_concurrent_pdfs == 2
