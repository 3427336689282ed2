"""The names of downloaded files (``gateway.render.file_names``): what a number or a supplier's embedded
file name may hold never reaches a browser as a path, a header break, a spoofed extension or a name shown as
another."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from babel.messages.pofile import read_po

from gateway.model.identifiers import BIS_CREDIT_NOTE, BIS_INVOICE, INVOICE_RESPONSE, DocumentTypeID
from gateway.model.responses import MLS_DOCUMENT_TYPE
from gateway.render import file_names
from gateway.render.file_names import (
    Named,
    attachment_name,
    content_disposition,
    download_name,
    evidence_name,
    kind_marker,
)
from gateway.ubl.reporting import EUSR_DOCUMENT_TYPE, TSR_DOCUMENT_TYPE

_DISPOSITION = re.compile(r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+)')


def _carried(disposition: str) -> tuple[str, str]:
    """(filename, decoded filename*) of a header that is ASCII, on one line and well formed."""
    assert disposition.isascii()
    assert not any(ch in disposition for ch in "\r\n\x00")
    quoted = _DISPOSITION.fullmatch(disposition)
    assert quoted is not None, disposition
    return quoted.group(1), unquote(quoted.group(2))


@pytest.mark.parametrize(
    ("number", "plain", "exact"),
    [
        ("INV-2026-001", "INV-2026-001.pdf", "INV-2026-001.pdf"),
        ("FAC/2026/Ü 7", "FAC-2026-U-7.pdf", "FAC-2026-Ü 7.pdf"),
        ('a"b;c\r\nd', "a-b-c-d.pdf", 'a"b;c d.pdf'),
        ("../../etc/passwd", "etc-passwd.pdf", "etc-passwd.pdf"),
        ("請求書", "doc-1.pdf", "請求書.pdf"),
        ("", "doc-1.pdf", "doc-1.pdf"),
        ("x" * 300, "x" * 100 + ".pdf", "x" * 100 + ".pdf"),
        # A right-to-left override shows "INV\u202egpj.exe.pdf" as "INVfdp.exe.jpg": format characters go.
        ("INV\u202egpj.exe", "INVgpj.exe.pdf", "INVgpj.exe.pdf"),
        ("A\u200bB\u2066C\u2069\ufeff", "ABC.pdf", "ABC.pdf"),
    ],
)
def test_download_names_are_safe(number: str, plain: str, exact: str) -> None:
    assert download_name(number, "doc-1", "pdf") == (plain, exact)
    assert _carried(content_disposition(download_name(number, "doc-1", "pdf"))) == (plain, exact)


@pytest.mark.parametrize(
    ("filename", "plain", "exact"),
    [
        ("bon de commande.pdf", "bon-de-commande.pdf", "bon de commande.pdf"),
        ('фактура "x".html', "x.html", 'фактура "x".html'),
        ("Übersicht.xlsx", "Ubersicht.xlsx", "Übersicht.xlsx"),
        # The supplier's name: no way up the tree, no header break, no spoofed extension.
        ("../../../etc/passwd", "etc-passwd", "etc-passwd"),
        ("..\\..\\boot.ini", "boot.ini", "boot.ini"),
        ("a\r\nSet-Cookie: x=1.pdf", "a-Set-Cookie-x-1.pdf", "a Set-Cookie: x=1.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe", "invoicefdp.exe"),
        ("report.p\u202edf", "report.pdf", "report.pdf"),
        # A long stem is shortened, its extension kept.
        ("y" * 300 + ".pdf", "y" * 100 + ".pdf", "y" * 100 + ".pdf"),
        # Nothing left, or no extension.
        ("\u200b\u2066", "attachment-0", "attachment-0"),
        ("見積書", "attachment-0", "見積書"),
        (".pdf", "attachment-0.pdf", "attachment-0.pdf"),
        ("README", "README", "README"),
    ],
)
def test_attachment_names_are_safe_and_keep_their_extension(filename: str, plain: str, exact: str) -> None:
    assert attachment_name(filename, "attachment-0") == (plain, exact)
    assert _carried(content_disposition(attachment_name(filename, "attachment-0"))) == (plain, exact)


@pytest.mark.parametrize(
    ("document_type", "marker"),
    [
        (BIS_INVOICE, None),  # an invoice's name is its number alone, as it always was
        (DocumentTypeID(BIS_INVOICE.value.replace("billing:3.0", "billing:3.0#conformant#x")), None),
        (BIS_CREDIT_NOTE, "credit-note"),
        (INVOICE_RESPONSE, "invoice-response"),
        (MLS_DOCUMENT_TYPE, "mls"),
        (TSR_DOCUMENT_TYPE, "transaction-statistics-report"),
        (EUSR_DOCUMENT_TYPE, "end-user-statistics-report"),
        (DocumentTypeID("urn:x::ApplicationResponse##urn:other::2.1"), "application-response"),
        (DocumentTypeID("urn:oasis:names:specification:ubl:schema:xsd:Order-2::Order##urn:x::2.1"), "order"),
        (DocumentTypeID("urn:x::Über\u202e/..##y::1"), "ber"),
        (DocumentTypeID("no-root"), "document"),
        (DocumentTypeID("urn:x::\u8acb\u6c42\u66f8##y::1"), "document"),
    ],
)
def test_the_kind_of_a_document_marks_its_name(document_type: DocumentTypeID, marker: str | None) -> None:
    assert kind_marker(document_type) == marker
    plain, exact = download_name("F-1", "doc-1", "xml", kind=marker)
    assert _carried(content_disposition((plain, exact))) == (plain, exact)


def test_an_invoice_and_a_credit_note_of_one_number_get_two_names() -> None:
    invoice = download_name("2026-0017", "doc-1", "pdf", kind=kind_marker(BIS_INVOICE))
    credit = download_name("2026-0017", "doc-2", "pdf", kind=kind_marker(BIS_CREDIT_NOTE))
    assert invoice == ("2026-0017.pdf", "2026-0017.pdf")
    assert credit == ("credit-note-2026-0017.pdf", "credit-note-2026-0017.pdf")
    # The number made safe as an invoice's, the kind before it; the fallback too when the number leaves none.
    assert download_name("FAC/Ü 7", "doc-1", "xml", kind="credit-note") == (
        "credit-note-FAC-U-7.xml",
        "credit-note-FAC-Ü 7.xml",
    )
    assert download_name("請求書", "doc-1", "xml", kind="credit-note") == (
        "credit-note-doc-1.xml",
        "credit-note-請求書.xml",
    )
    assert download_name("", "received-1", "xml", kind="mls") == ("mls-received-1.xml", "mls-received-1.xml")


def test_named_holds_the_one_rule_of_every_document_file() -> None:
    """``Named``: what the pages', the API's downloads and the e-mail fallback's attachments are named by."""
    credit = Named("2026-0017", BIS_CREDIT_NOTE, "document-1")
    assert credit.names("pdf") == ("credit-note-2026-0017.pdf", "credit-note-2026-0017.pdf")
    assert _carried(credit.disposition("xml")) == ("credit-note-2026-0017.xml", "credit-note-2026-0017.xml")
    assert Named("2026-0017", BIS_INVOICE, "document-2").names("xml") == ("2026-0017.xml", "2026-0017.xml")
    assert Named("a\r\n../b", BIS_INVOICE, "document-3").names("xml") == ("a-..-b.xml", "a ..-b.xml")


def test_an_evidence_zip_is_named_after_its_document_id() -> None:
    document_id = "0b5c1e7a-0000-4000-8000-000000000001"
    assert evidence_name(document_id) == (f"evidence-{document_id}.zip", f"evidence-{document_id}.zip")
    assert _carried(content_disposition(evidence_name("../x\r\n"))) == ("evidence-x.zip", "evidence-x.zip")


@pytest.mark.parametrize(
    ("language", "credit", "evidence"),
    [
        ("en", "credit-note", "evidence"),
        ("fr", "note-de-credit", "preuves"),
        ("nl", "creditnota", "bewijsstukken"),
    ],
)
def test_a_readers_language_names_the_kind(language: str, credit: str, evidence: str) -> None:
    """Where the reader's language is known (the pages, the e-mail fallback) a kind's word is said in it, from
    the render catalogue; an invoice keeps its number alone; the names stay ASCII, ``filename*`` too."""
    named = Named("2026-0017", BIS_CREDIT_NOTE, "document-1")
    assert named.names("pdf", language) == (f"{credit}-2026-0017.pdf", f"{credit}-2026-0017.pdf")
    assert _carried(named.disposition("xml", language)) == (
        f"{credit}-2026-0017.xml",
        f"{credit}-2026-0017.xml",
    )
    assert Named("2026-0017", BIS_INVOICE, "d").names("pdf", language) == ("2026-0017.pdf", "2026-0017.pdf")
    assert evidence_name("doc-1", language) == (f"{evidence}-doc-1.zip",) * 2
    # Peppol's own names are said as Peppol says them, in every language (as the pages say them).
    for document_type, marker in ((INVOICE_RESPONSE, "invoice-response"), (TSR_DOCUMENT_TYPE, None)):
        name = Named("X-1", document_type, "d").names("xml", language)[0]
        assert name.startswith(marker or "transaction-statistics-report"), name


def test_without_a_language_the_names_are_english() -> None:
    """The API knows no reader's language: its names are the English ones, whatever the catalogues say."""
    named = Named("2026-0017", BIS_CREDIT_NOTE, "document-1")
    assert named.names("pdf") == named.names("pdf", "en") == ("credit-note-2026-0017.pdf",) * 2
    assert named.names("pdf", "de") == ("credit-note-2026-0017.pdf",) * 2  # no catalogue: English


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_kind_word_is_in_the_catalogue_and_ascii(language: str) -> None:
    po = Path(file_names.__file__).parent / "locale" / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as source:
        catalogue = read_po(source, locale=language)
    for word in file_names.TRANSLATED_KINDS:
        message = catalogue.get(word, context=file_names.FILE_NAME_CONTEXT)
        assert message is not None, word
        assert message.string, word
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", str(message.string)), message.string
