"""Every official example and every sample document renders to HTML and PDF and shows the UBL's figures.

The expected strings are read from the UBL with plain XPath here (not through gateway.render) and
formatted with Babel for the language of the case; the PDF is read back with pypdf.
"""

from __future__ import annotations

import html as html_module
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_currency
from lxml import etree
from pydantic import TypeAdapter
from pypdf import PdfReader

from gateway.model import CreditNote, Document, Invoice, complete_document
from gateway.render import LANGUAGES, OutputFormat, RenderOptions, render_document
from gateway.render.i18n import FORMAT_LOCALES
from gateway.ubl import write_ubl
from gateway.xmlcore import NS
from tests.conftest import ARTEFACTS, ROOT

#: CEN examples/testfiles that are also valid under the Peppol rules (bis-billing.md §5 table).
PEPPOL_VALID_CEN = [
    ARTEFACTS / "cen-en16931-1.3.16" / "ubl" / "examples" / "BIS3_Invoice_positive.XML",
    ARTEFACTS / "cen-en16931-1.3.16" / "ubl" / "examples" / "BIS3_Invoice_negativ.XML",
    ARTEFACTS
    / "cen-en16931-1.3.16"
    / "ubl"
    / "examples"
    / "FT G2G_TD01 con Allegato, Bonifico e Split Payment.xml",
    ARTEFACTS / "cen-en16931-1.3.16" / "test" / "testfiles" / "BIS_Billing_30-InomstatligFakturering.xml",
]
OFFICIAL = [
    *sorted((ARTEFACTS / "peppol-bis-billing-3.0.21" / "examples").glob("*.xml")),
    *sorted((ARTEFACTS / "peppol-bis-billing-3.0.19" / "examples").glob("*.xml")),
    *PEPPOL_VALID_CEN,
]
SAMPLES = sorted((ROOT / "tests" / "data" / "documents").glob("*.json"))
ADAPTER: TypeAdapter[Invoice | CreditNote] = TypeAdapter(Document)
OGM = re.compile(r"^\+\+\+\d{3}/\d{4}/\d{5}\+\+\+$")


def _sample_ubl(path: Path) -> bytes:
    return write_ubl(complete_document(ADAPTER.validate_python(json.loads(path.read_text()))))


def _cases() -> list[tuple[str, bytes, str]]:
    documents = [(p.relative_to(ARTEFACTS).as_posix(), p.read_bytes()) for p in OFFICIAL]
    documents += [(f"sample/{p.stem}", _sample_ubl(p)) for p in SAMPLES]
    # Each document in a different language in turn, so all three meet every kind of document.
    return [(name, data, LANGUAGES[i % len(LANGUAGES)]) for i, (name, data) in enumerate(documents)]


CASES = _cases()


def _flat(text: str) -> str:
    """Text with every kind of space (NBSP, narrow NBSP) as one plain space."""
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def _money(el: etree._Element, locale: str) -> str:
    return _flat(
        format_currency(
            Decimal(el.text or ""), el.get("currencyID"), locale=locale, decimal_quantization=False
        )
    )


def _expected(ubl: bytes, language: str) -> list[str]:
    """The payable amount, every VAT breakdown amount and the payment reference, as a reader sees them."""
    root = etree.fromstring(ubl)
    locale = FORMAT_LOCALES[language]
    currency = root.findtext("cbc:DocumentCurrencyCode", namespaces=NS)
    payable = root.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS)
    assert payable is not None
    wanted = [_money(payable, locale)]
    for sub in root.findall("cac:TaxTotal/cac:TaxSubtotal", NS):
        for field in ("cbc:TaxableAmount", "cbc:TaxAmount"):
            amount = sub.find(field, NS)
            assert amount is not None
            if amount.get("currencyID") == currency:
                wanted.append(_money(amount, locale))
    for payment_id in root.findall("cac:PaymentMeans/cbc:PaymentID", NS):
        reference = _flat(payment_id.text or "")
        if re.fullmatch(r"RF\d\d[0-9A-Z]+", reference):  # ISO 11649: printed in groups of four
            reference = " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
        wanted.append(reference)
    return wanted


def _pdf_text(pdf: bytes) -> str:
    return _flat(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.mark.parametrize(("name", "ubl", "language"), CASES, ids=[c[0] for c in CASES])
def test_document_renders_its_totals(name: str, ubl: bytes, language: str) -> None:
    options = RenderOptions(language=language)
    html = render_document(ubl, OutputFormat.HTML, options).decode()
    pdf = render_document(ubl, OutputFormat.PDF, options)
    assert pdf.startswith(b"%PDF-")
    html_text, pdf_text = _flat(html), _pdf_text(pdf)
    for wanted in _expected(ubl, language):
        assert wanted in html_text, (name, wanted)
        assert wanted in pdf_text, (name, wanted)


def test_belgian_samples_show_the_structured_communication() -> None:
    """The Belgian samples carry an OGM; the PDF shows it as +++ddd/dddd/ddddd+++."""
    belgian = [(name, ubl) for name, ubl, _ in CASES if name.startswith("sample/be-")]
    assert belgian
    for name, ubl in belgian:
        reference = etree.fromstring(ubl).findtext("cac:PaymentMeans/cbc:PaymentID", namespaces=NS)
        assert reference is not None, name
        assert OGM.match(reference), name
        assert reference in _pdf_text(render_document(ubl, OutputFormat.PDF, RenderOptions(language="fr")))


#: Business terms whose text a reader must find on the page as stated (EN 16931 UBL binding).
STATED_TERMS = (
    "cbc:Note",  # BT-22
    "cbc:BuyerReference",  # BT-10
    "cbc:AccountingCost",  # BT-19
    "cac:OrderReference/cbc:ID",  # BT-13
    "cac:ContractDocumentReference/cbc:ID",  # BT-12
    "cac:ProjectReference/cbc:ID",  # BT-11
    "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID",  # BT-25
    "cac:DespatchDocumentReference/cbc:ID",  # BT-16
    "cac:ReceiptDocumentReference/cbc:ID",  # BT-15
    "cac:AdditionalDocumentReference/cbc:ID",  # BT-18, BT-122
    "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID",  # BT-34
    "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID",  # BT-49
    ".//cac:PartyLegalEntity/cbc:RegistrationName",  # BT-27, BT-44
    ".//cac:PartyLegalEntity/cbc:CompanyID",  # BT-30, BT-47
    ".//cac:PartyTaxScheme/cbc:CompanyID",  # BT-31, BT-48, BT-63
    ".//cac:PostalAddress/cbc:CityName",  # BT-37, BT-52
    "cac:PayeeParty/cac:PartyName/cbc:Name",  # BT-59
    "cac:PaymentTerms/cbc:Note",  # BT-20
    ".//cbc:TaxExemptionReason",  # BT-120
    ".//cbc:TaxExemptionReasonCode",  # BT-121
    ".//cbc:AllowanceChargeReason",  # BT-97, BT-104, BT-139, BT-144
    ".//cac:Item/cbc:Name",  # BT-153
    ".//cac:SellersItemIdentification/cbc:ID",  # BT-155
    ".//cac:InvoiceLine/cbc:Note",  # BT-127
    ".//cac:CreditNoteLine/cbc:Note",
)


@pytest.mark.parametrize(("name", "ubl", "language"), CASES, ids=[c[0] for c in CASES])
def test_every_stated_term_is_on_the_page(name: str, ubl: bytes, language: str) -> None:
    root = etree.fromstring(ubl)
    page = _flat(
        html_module.unescape(render_document(ubl, OutputFormat.HTML, RenderOptions(language)).decode())
    )
    for path in STATED_TERMS:
        for element in root.findall(path, NS):
            stated = _flat(element.text or "")
            if stated:
                assert stated in page, (name, path, stated)
    for iban in root.findall("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", NS):
        assert "".join((iban.text or "").split()) in page.replace(" ", ""), (name, iban.text)
