"""HTML rendering: escaping of hostile text, the three languages, the banner, attachments, credit notes."""

from __future__ import annotations

import io
import re
import time

import pytest
from pypdf import PdfReader

from gateway.errors import MappingError, XMLInputError
from gateway.render import (
    LANGUAGES,
    OutputFormat,
    RenderOptions,
    ReportSummary,
    negotiate_language,
    read_attachment,
    read_view,
    render_document,
    render_fragment,
    render_html,
    stylesheet,
)
from gateway.render.mark_runs import MAX_MARK_RUN, SHORTENED
from tests.unit.render.support import sample, to_ubl, with_lines

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def _html(data: bytes, **options: object) -> str:
    return render_document(data, OutputFormat.HTML, RenderOptions(**options)).decode()  # type: ignore[arg-type]


def test_hostile_text_is_escaped_everywhere() -> None:
    document = sample()
    document["seller"]["legal_name"] = HOSTILE
    document["notes"] = [HOSTILE]
    document["lines"][0]["item"]["name"] = HOSTILE
    html = _html(to_ubl(document))
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    ("language", "labels", "due"),
    [
        ("en", ["Invoice", "Amount due", "VAT breakdown", "Payment reference"], "€1,234.56"),
        (
            "fr",
            ["Facture", "Montant à payer", "Ventilation de la TVA", "Communication"],
            "1\u202f234,56\xa0€",
        ),
        ("nl", ["Factuur", "Te betalen bedrag", "Btw-overzicht", "Mededeling"], "€\xa01.234,56"),
    ],
)
def test_three_languages(language: str, labels: list[str], due: str) -> None:
    document = sample()
    document["lines"] = [document["lines"][0]]
    document.pop("allowances_charges")
    document["lines"][0].update(quantity="1", allowances_charges=[], price={"net_amount": "1020.30"})
    html = _html(to_ubl(document), language=language)
    assert f'lang="{language}"' in html
    for label in labels:
        assert label in html, label
    assert due in html  # 1020.30 + 21 % VAT = 1234.56, formatted per locale


def test_dates_and_rates_follow_the_locale() -> None:
    data = to_ubl(sample())
    assert "2 novembre 2026" in _html(data, language="fr")
    assert "2 november 2026" in _html(data, language="nl")
    assert "2 November 2026" in _html(data, language="en")
    assert "21\xa0%" in _html(data, language="fr")


@pytest.mark.parametrize(
    ("header", "lang", "expected"),
    [
        ("nl-BE,nl;q=0.9,en;q=0.5", None, "nl"),
        ("de-DE,fr;q=0.4,en;q=0.8", None, "en"),
        ("fr-BE", "nl", "nl"),
        (None, "fr_BE", "fr"),
        ("de", None, "en"),
        ("en;q=0,fr;q=0.1", None, "fr"),
        ("garbage;q=x", None, "en"),
    ],
)
def test_language_negotiation(header: str | None, lang: str | None, expected: str) -> None:
    assert negotiate_language(header, lang) == expected


@pytest.mark.parametrize(
    "header",
    [
        "fr;q=inf,en;q=0.9",
        "fr;q=nan,en;q=0.9",
        "fr;q=2,en;q=0.9",
        "fr;q=1.5,en;q=0.9",
        "fr;q=-1,en;q=0.9",
        "fr;q=0.9999,en;q=0.9",
        "fr;q=1e0,en;q=0.9",
        "fr;q=,en;q=0.9",
        "fr;q=+1,en;q=0.9",
    ],
)
def test_a_weight_that_is_no_qvalue_leaves_the_language_out(header: str) -> None:
    # RFC 9110 §12.4.2: a qvalue is 0 to 1 with at most three decimals; Python's float() read "inf", "nan"
    # and "2" as weights, and inf or 2 outranked every true weight.
    assert negotiate_language(header) == "en"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr;q=1.000,en;q=0.9", "fr"),
        ("en;q=0.5,nl;q=0.501", "nl"),
        ("en;q=0.,fr;q=0.001", "fr"),
        ("nl;Q=1", "nl"),
    ],
)
def test_every_true_qvalue_is_honoured(header: str, expected: str) -> None:
    assert negotiate_language(header) == expected


def test_banner_lists_the_findings() -> None:
    report = ReportSummary.from_json(
        {
            "rule_set": "peppol-bis-billing-3.0.21",
            "valid": False,
            "issues": [
                {"rule": "BR-CO-15", "severity": "warning", "message": "Totals <differ>"},
                {"rule": "PEPPOL-EN16931-R001", "severity": "fatal", "message": "Business process missing"},
            ],
        }
    )
    assert report is not None
    assert report.findings[0].rule == "PEPPOL-EN16931-R001"  # fatal first
    html = _html(to_ubl(sample()), report=report, language="fr")
    assert 'class="banner banner-fatal" role="alert"' in html
    assert "Ce document n'est pas valide" in html
    assert "BR-CO-15" in html
    assert "Totals &lt;differ&gt;" in html
    clean = _html(
        to_ubl(sample()), report=ReportSummary.from_json({"rule_set": "x", "valid": True, "issues": []})
    )
    assert "banner" not in clean.split("<body>")[1]


def test_attachments_are_listed_with_the_callers_link() -> None:
    data = to_ubl(sample("attachment-pdf"))
    view = read_view(data)
    assert view.attachments
    first = view.attachments[0]
    html = _html(data, attachment_url=lambda index: f"/files/{index}?x=<&>")
    assert f'href="/files/{first.index}?x=&lt;&amp;&gt;"' in html
    assert (first.filename or first.identifier) in html
    embedded = read_attachment(data, first.index)
    assert embedded is not None
    assert embedded.content.startswith(b"%PDF")
    assert embedded.mime_code == "application/pdf"
    assert read_attachment(data, 99) is None
    assert "href=" not in _html(data).split('class="attachments"')[1]


def test_credit_note_title_and_refund() -> None:
    html = _html(to_ubl(sample("credit-note")), language="nl")
    assert "<h1>Creditnota</h1>" in html
    assert "Terug te betalen bedrag" in html
    assert "Betaal-QR-code" not in html  # the seller pays back: no payment QR code


def test_not_an_invoice_is_refused() -> None:
    with pytest.raises(MappingError):
        read_view(b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>')
    with pytest.raises(XMLInputError):
        read_view(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


def test_odd_but_well_formed_documents_render() -> None:
    """A foreign document with a non-numeric amount and no parties still renders, showing what it states."""
    data = (
        b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'
        b' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
        b' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">'
        b"<cbc:ID>X-1</cbc:ID><cbc:IssueDate>not a date</cbc:IssueDate>"
        b'<cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="EUR">12,5 EUR</cbc:PayableAmount>'
        b"</cac:LegalMonetaryTotal></Invoice>"
    )
    html = _html(data)
    assert "X-1" in html
    assert "12,5 EUR" in html
    assert render_document(data, OutputFormat.PDF).startswith(b"%PDF-")


def test_languages_are_the_three_expected() -> None:
    assert LANGUAGES == ("en", "fr", "nl")


def test_300_lines_render_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the figure (no timed assertion: the machine is shared)."""
    data = to_ubl(with_lines(sample(), 300))
    started = time.perf_counter()
    view = read_view(data)
    html = render_html(view, RenderOptions(language="fr"))
    elapsed = time.perf_counter() - started
    assert len(view.lines) == 300
    assert html.count('<tr class="line">') == 300
    with capsys.disabled():
        print(f"\n300-line invoice: read + HTML in {elapsed * 1000:.0f} ms")


def test_the_fragment_is_the_page_body_for_web_pages_and_e_mail() -> None:
    view = read_view(to_ubl(sample()))
    options = RenderOptions(language="nl")
    fragment = render_fragment(view, options)
    assert fragment.lstrip().startswith("<article")
    assert "<html" not in fragment
    assert fragment in render_html(view, options)
    assert "@page" in stylesheet()


@pytest.mark.parametrize(
    "number",
    [
        "9" * 40,  # a valid xsd:decimal whose rounding to cents exceeds Decimal's precision: a 500
        "9" * 20,  # a quantity shown with up to ten decimals: the same past 18 digits
        "1E+100000",  # not an xsd:decimal; Decimal reads it: InvalidOperation in Babel and the QR code
        "1E-999999",  # printed in full: 10 bytes of the document became a 1 MB amount on the page
        "1" + "0" * 30 + ".5",
        "0." + "0" * 40 + "1",
    ],
)
def test_numbers_outside_what_can_be_printed_are_shown_as_stated(number: str) -> None:
    """A hostile supplier's amounts, quantities and rates: the page renders, each shown as written."""
    data = to_ubl(sample())
    for tag in ("PayableAmount", "LineExtensionAmount", "PriceAmount", "InvoicedQuantity", "Percent"):
        data = re.sub(rf"(<cbc:{tag}\b[^>]*>)[^<]*<".encode(), rb"\g<1>" + number.encode() + b"<", data)
    assert data.count(number.encode()) > 10
    baseline = len(_html(to_ubl(sample())))
    for language in LANGUAGES:
        html = _html(data, language=language)
        assert number in html
        assert len(html) < baseline + 200 * len(number) * data.count(number.encode())


def test_a_credit_notes_project_reference_is_no_attachment() -> None:
    """BT-11 of a CreditNote is an AdditionalDocumentReference with code 50 (UBL binding), not a file: listed
    as an attachment it shifted the positions, and an expense's link ``…/attachments/{n}`` (numbered as the
    expense's own reader numbers them) gave another file, or none."""
    from gateway.services.expense_drafts import attachment_bytes
    from gateway.ubl import read_ubl

    data = {**sample("credit-note"), "attachments": sample("attachment-pdf")["attachments"]}
    data["project_reference"] = "PRJ-7"
    ubl = to_ubl(data)
    pattern = rb"\s*<cac:AdditionalDocumentReference>\s*<cbc:ID>PRJ-7</cbc:ID>.*?</cac:Add[^>]*>"
    project = re.search(pattern, ubl, re.S)
    assert project is not None
    first = ubl.index(b"<cac:AdditionalDocumentReference>")
    hostile = ubl[:first] + project.group().strip() + ubl[first:].replace(project.group(), b"", 1)
    view = read_view(hostile)
    assert [a.identifier for a in view.attachments] == ["TIMESHEET-2026-10", "OFFERTE-118"]
    assert ("project", "PRJ-7") in [(r.kind, r.value) for r in view.references]
    embedded = read_attachment(hostile, 0)
    assert embedded is not None
    assert attachment_bytes(read_ubl(hostile), 1) == (embedded.content, embedded.mime_code, embedded.filename)


#: A run of combining marks on one letter ("zalgo" text): one grapheme cluster that Pango laid out in time
#: quadratic in its length (50,000 in a line's name: 32 s to print). 5,000 here: the tests assert what is
#: shown, not how long it takes.
FLOOD = "Z" + "\u0301" * 5_000
SHOWN_FLOOD = "Z" + "\u0301" * MAX_MARK_RUN + SHORTENED
#: Names and notes in scripts that stack marks: shown exactly as stated.
REAL_NAMES = {
    "seller": "Công ty TNHH Nguyễn Thị Hường",
    "buyer": "क्षत्रिय ट्रेडर्स प्राइवेट लिमिटेड",
    "note": "בְּרֵאשִׁית בָּרָא אֱלֹהִים · บริษัท ไทยพาณิชย์ จำกัด · "
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f44d\U0001f3fd",
}


def _flooded() -> dict[str, object]:
    """The sample with the flood in a party name, a note, a line's name and its item property."""
    document = sample()
    document["seller"]["legal_name"] = "Seller " + FLOOD
    document["notes"] = ["Note " + FLOOD]
    document["lines"][0]["item"]["name"] = "Item " + FLOOD
    return document


def test_a_flood_of_combining_marks_is_shown_cut_everywhere() -> None:
    html = _html(to_ubl(_flooded()))
    assert re.search(f"\u0301{{{MAX_MARK_RUN + 1}}}", html) is None
    for shown_as in ("Seller " + SHOWN_FLOOD, "Note " + SHOWN_FLOOD, "Item " + SHOWN_FLOOD):
        assert shown_as in html
    fragment = render_fragment(read_view(to_ubl(_flooded())))
    assert re.search(f"\u0301{{{MAX_MARK_RUN + 1}}}", fragment) is None
    assert "Item " + SHOWN_FLOOD in fragment


def test_text_in_scripts_that_stack_marks_is_shown_as_stated() -> None:
    document = sample()
    document["seller"]["legal_name"] = REAL_NAMES["seller"]
    document["buyer"]["legal_name"] = REAL_NAMES["buyer"]
    document["notes"] = [REAL_NAMES["note"]]
    html = _html(to_ubl(document))
    for name in REAL_NAMES.values():
        assert name in html
    assert SHORTENED not in html


def test_a_flood_of_combining_marks_prints_cut() -> None:
    pdf = render_document(to_ubl(_flooded()), OutputFormat.PDF)
    text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    for shown_as in ("Seller " + SHOWN_FLOOD, "Note " + SHOWN_FLOOD, "Item " + SHOWN_FLOOD):
        assert shown_as in text
    assert re.search(f"\u0301{{{MAX_MARK_RUN + 1}}}", text) is None
