"""The ``Content-Disposition`` of every API endpoint that returns a document as a file (RFC 6266: an ASCII
``filename`` and the exact ``filename*``), on SQLite and PostgreSQL: the UBL and the PDF of an outbound, a
received and an expense's document, a Peppol report's XML and the evidence zip, named as the pages'
downloads and the e-mail fallback's attachments (``render.file_names.Named``): an invoice and a credit note
of one number are two names; a number's hostile characters never reach the header as a path, a quote or a
header break; the OpenAPI document says so where each response is described."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.model.identifiers import DocumentTypeID
from gateway.model.message import DocumentContent, InboundDocument, InboundStatus
from gateway.validation import ValidationEngine
from tests.integration.document_api import (  # noqa: F401 - fixtures
    T0,
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
)
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    deliver,
    supplier_document,
)
from tests.integration.expense_support import auth as expense_auth
from tests.integration.test_api_reports import seed
from tests.unit.model.model_builders import invoice_data
from tests.unit.render.support import sample, to_ubl

NUMBER = "2026-0042"
_DISPOSITION = re.compile(r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+)')
#: What the API's document files are named after (the pages' downloads are; ``test_download_names``).
FILE_ROUTES = (
    ("/v1/outbound/{document_id}/ubl", "get"),
    ("/v1/outbound/{document_id}/render", "get"),
    ("/v1/outbound/{document_id}/evidence", "get"),
    ("/v1/inbound/{document_id}/ubl", "get"),
    ("/v1/inbound/{document_id}/render", "get"),
    ("/v1/expenses/{expense_id}/ubl", "get"),
    ("/v1/expenses/{expense_id}/render", "get"),
    ("/v1/reports/{report_id}/xml", "get"),
    ("/v1/outbound/{document_id}/attachments/{index}", "get"),
    ("/v1/inbound/{document_id}/attachments/{index}", "get"),
    ("/v1/expenses/{expense_id}/attachments/{n}", "get"),
)


def _names(response: Any) -> tuple[str, str]:
    """(filename, decoded filename*) of a file answered: ASCII, on one line, well formed; like the pages'
    downloads, never kept by a cache, never sniffed, sandboxed if opened."""
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"
    disposition = response.headers["content-disposition"]
    assert disposition.isascii()
    assert not any(ch in disposition for ch in "\r\n\x00")
    quoted = _DISPOSITION.fullmatch(disposition)
    assert quoted is not None, disposition
    return quoted.group(1), unquote(quoted.group(2))


def _outbound(docs: DocumentAPI, route: str, data: dict[str, Any]) -> str:
    answer = docs.client.post(f"/v1/outbound/{route}", content=json.dumps(data).encode())
    assert answer.status_code == 202, answer.text
    document_id: str = answer.json()["id"]
    return document_id


def test_an_outbound_invoice_and_credit_note_of_one_number_are_two_files(docs: DocumentAPI) -> None:
    invoice = _outbound(docs, "invoices", invoice_data(number=NUMBER))
    credit = _outbound(
        docs,
        "credit-notes",
        invoice_data(kind="credit_note", number=NUMBER, preceding_invoices=[{"number": NUMBER}]),
    )
    for document_id, stem in ((invoice, NUMBER), (credit, f"credit-note-{NUMBER}")):
        ubl = docs.client.get(f"/v1/outbound/{document_id}/ubl")
        assert _names(ubl) == (f"{stem}.xml", f"{stem}.xml")
        pdf = docs.client.get(f"/v1/outbound/{document_id}/render", params={"format": "pdf"})
        assert pdf.content.startswith(b"%PDF")
        assert _names(pdf) == (f"{stem}.pdf", f"{stem}.pdf")
        # The API knows no reader: a rendering in French is still named in English.
        french = docs.client.get(
            f"/v1/outbound/{document_id}/render",
            params={"format": "pdf", "lang": "fr"},
            headers={"Accept-Language": "fr"},
        )
        assert french.headers["content-language"] == "fr"
        assert _names(french) == (f"{stem}.pdf", f"{stem}.pdf")
        # The HTML rendering is a page to read, not a file.
        assert "content-disposition" not in docs.client.get(f"/v1/outbound/{document_id}/render").headers
        evidence = docs.client.get(f"/v1/outbound/{document_id}/evidence", params={"format": "zip"})
        assert _names(evidence) == (f"evidence-{document_id}.zip", f"evidence-{document_id}.zip")


def _received(
    docs: DocumentAPI, document_id: str, number: str | None, document_type: DocumentTypeID, body: bytes
) -> str:
    with docs.store.unit_of_work() as uow:
        uow.inbound.add(
            InboundDocument(
                id=document_id,
                as4_message_id=f"{document_id}@peer",
                sender=ParticipantID.parse("0208:0412345614"),
                receiver=ParticipantID.parse("0208:0739484052"),
                document_type=document_type,
                process=BIS_BILLING_PROCESS,
                status=InboundStatus.VALID,
                received_at=T0,
                updated_at=T0,
                document_number=number,
            ),
            DocumentContent(body, {"valid": True}),
        )
        uow.commit()
    return document_id


def test_a_received_invoice_and_credit_note_of_one_number_are_two_files(docs: DocumentAPI) -> None:
    credit_body = to_ubl({**sample("credit-note"), "number": NUMBER})
    invoice = _received(docs, "00000000-0000-0000-0000-0000000000a1", NUMBER, BIS_INVOICE, to_ubl(sample()))
    credit = _received(docs, "00000000-0000-0000-0000-0000000000a2", NUMBER, BIS_CREDIT_NOTE, credit_body)
    headers = auth("support")
    for document_id, stem in ((invoice, NUMBER), (credit, f"credit-note-{NUMBER}")):
        ubl = docs.client.get(f"/v1/inbound/{document_id}/ubl", headers=headers)
        assert _names(ubl) == (f"{stem}.xml", f"{stem}.xml")
        pdf = docs.client.get(f"/v1/inbound/{document_id}/render", params={"format": "pdf"}, headers=headers)
        assert _names(pdf) == (f"{stem}.pdf", f"{stem}.pdf")


def test_a_received_document_without_a_recorded_number_is_named_by_its_cbc_id(docs: DocumentAPI) -> None:
    """Received before migration 0015 and not backfilled: the number read from the body, as the pages do."""
    body = to_ubl({**sample("credit-note"), "number": "CN-FROM-BODY"})
    document_id = _received(docs, "00000000-0000-0000-0000-0000000000a3", None, BIS_CREDIT_NOTE, body)
    ubl = docs.client.get(f"/v1/inbound/{document_id}/ubl", headers=auth("support"))
    assert _names(ubl) == ("credit-note-CN-FROM-BODY.xml", "credit-note-CN-FROM-BODY.xml")


@pytest.mark.parametrize(
    ("number", "plain", "exact"),
    [
        ("../../etc/passwd", "credit-note-etc-passwd.xml", "credit-note-etc-passwd.xml"),
        (
            'CN"1"; filename=evil.exe',
            "credit-note-CN-1-filename-evil.exe.xml",
            'credit-note-CN"1"; filename=evil.exe.xml',
        ),
        (
            "CN-1\r\nSet-Cookie: x=1",
            "credit-note-CN-1-Set-Cookie-x-1.xml",
            "credit-note-CN-1 Set-Cookie: x=1.xml",
        ),
        ("C" * 150, f"credit-note-{'C' * 100}.xml", f"credit-note-{'C' * 100}.xml"),
        ("Ü-請求書", "credit-note-U.xml", "credit-note-Ü-請求書.xml"),
        ("請求書", "credit-note-received-00000000-0000-0000-0000-0000000000b1.xml", "credit-note-請求書.xml"),
    ],
)
def test_a_hostile_number_is_a_safe_file_name(docs: DocumentAPI, number: str, plain: str, exact: str) -> None:
    body = to_ubl(sample("credit-note"))
    document_id = _received(docs, "00000000-0000-0000-0000-0000000000b1", number, BIS_CREDIT_NOTE, body)
    ubl = docs.client.get(f"/v1/inbound/{document_id}/ubl", headers=auth("support"))
    assert _names(ubl) == (plain, exact)
    assert not any(ch in exact for ch in "/\\\r\n\x00")


def test_a_report_is_named_by_its_kind_and_month(
    docs: DocumentAPI, validation_engine: ValidationEngine
) -> None:
    reports = seed(docs, validation_engine)
    names = set()
    for report in reports:
        xml = docs.client.get(f"/v1/reports/{report.id}/xml", headers=auth("support"))
        names.add(_names(xml)[0])
    month = str(reports[0].month)
    assert names == {f"transaction-statistics-report-{month}.xml", f"end-user-statistics-report-{month}.xml"}


def test_an_expense_invoice_and_credit_note_of_one_number_are_two_files(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    invoice = supplier_document(
        validation_engine, "be-domestic-mixed-rates.json", number=NUMBER, buyer_reference="PU-04711"
    )
    credit = supplier_document(
        validation_engine,
        "credit-note.json",
        number=NUMBER,
        buyer_reference="PU-04711",
        preceding_invoices=[{"number": NUMBER, "issue_date": "2026-11-02"}],
    )
    assert deliver(app.client, invoice).status_code == 200
    assert deliver(app.client, credit, credit=True).status_code == 200
    headers = expense_auth("support")
    items = app.client.get("/v1/expenses", headers=headers).json()["items"]
    stems = {"invoice": NUMBER, "credit_note": f"credit-note-{NUMBER}"}
    assert sorted(item["kind"] for item in items) == ["credit_note", "invoice"]
    for item in items:
        stem = stems[item["kind"]]
        ubl = app.client.get(f"/v1/expenses/{item['id']}/ubl", headers=headers)
        assert _names(ubl) == (f"{stem}.xml", f"{stem}.xml")
        pdf = app.client.get(f"/v1/expenses/{item['id']}/render", params={"format": "pdf"}, headers=headers)
        assert _names(pdf) == (f"{stem}.pdf", f"{stem}.pdf")


def test_the_openapi_document_describes_the_content_disposition_of_each_file(docs: DocumentAPI) -> None:
    paths = docs.client.get("/openapi.json").json()["paths"]
    for path, method in FILE_ROUTES:
        ok = paths[path][method]["responses"]["200"]
        header = ok.get("headers", {}).get("Content-Disposition")
        assert header is not None, path
        assert "filename" in header["description"], path
        if path.endswith(("/ubl", "/render")):  # a document named by its kind
            assert "English whatever the language" in header["description"], path
        assert header["schema"] == {"type": "string"}, path
