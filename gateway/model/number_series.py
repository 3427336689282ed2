"""Our documents' number series: a number is unique per seller and per document type, so an invoice and a
credit note may carry the same number: invoices may be numbered in one or more sequential series, and an
invoicing system that numbers its credit notes in their own series issues credit note "2026-0017" beside
invoice "2026-0017".

A document's series is its Peppol document type (the UBL root: Invoice or CreditNote), not the way it was
submitted: an invoice posted as JSON and one posted as UBL share the invoice series.

An Invoice Response names the document it answers by number (``cbc:ID``) and, optionally, by its type code
(``cbc:DocumentTypeCode``, UNCL 1001 as in BT-3): ``answered_types`` turns that code into the series to
look the number up in.
"""

from __future__ import annotations

from typing import Final

from gateway.model.identifiers import BIS_CREDIT_NOTE, BIS_INVOICE, DocumentTypeID

#: BT-3 codes of a BIS Billing 3.0 Invoice (PEPPOL-EN16931-P0100).
INVOICE_TYPE_CODES: Final = frozenset(
    {"71", "80", "82", "84", "102", "218", "219", "326", "331", "380", "382", "383", "384", "386", "388"}
    | {"393", "395", "553", "575", "623", "780", "817", "870", "875", "876", "877"}
)
#: BT-3 codes of a BIS Billing 3.0 CreditNote (PEPPOL-EN16931-P0101).
CREDIT_NOTE_TYPE_CODES: Final = frozenset({"381", "396", "81", "83", "532"})
#: The series an Invoice Response may answer, when its type code does not tell which.
BILLING_TYPES: Final = (BIS_INVOICE, BIS_CREDIT_NOTE)


def answered_types(type_code: str | None) -> tuple[DocumentTypeID, ...]:
    """The document types whose series an answer's number belongs to: the invoice series for an invoice
    code, the credit note series for a credit note code, both when the code is absent or unknown (the
    caller must then not guess when the number is in both)."""
    code = (type_code or "").strip()
    if code in INVOICE_TYPE_CODES:
        return (BIS_INVOICE,)
    if code in CREDIT_NOTE_TYPE_CODES:
        return (BIS_CREDIT_NOTE,)
    return BILLING_TYPES
