"""Use case: turn a posted JSON document into Peppol BIS Billing 3.0 UBL and validate the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from gateway.errors import InvalidDocumentData
from gateway.model import CreditNote, Document, Invoice, complete_document
from gateway.ubl import write_ubl

if TYPE_CHECKING:
    from gateway.validation import ValidationEngine, ValidationReport

#: The request body of /v1/convert and `gateway convert`: an invoice or a credit note, told apart by ``kind``.
DocumentIn = Document

_DOCUMENT_ADAPTER: TypeAdapter[Invoice | CreditNote] = TypeAdapter(Document)


@dataclass(frozen=True, slots=True)
class Conversion:
    """The UBL produced for one document and its validation report."""

    document: Invoice | CreditNote
    ubl: bytes
    report: ValidationReport


def parse_document_json(data: bytes) -> Invoice | CreditNote:
    """Parse the JSON form of a document (``kind`` = ``invoice`` or ``credit_note``).

    Raises:
        InvalidDocumentData: not JSON, or fields missing or malformed (one problem per field).
    """
    try:
        return _DOCUMENT_ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise InvalidDocumentData(
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from exc


def convert_document(
    document: Invoice | CreditNote, *, engine: ValidationEngine, rule_set: str | None = None
) -> Conversion:
    """Complete the document (totals, VAT treatment, structured communication), write UBL, validate it.

    Raises:
        InvalidDocumentData: the document is inconsistent; nothing is written.
    """
    completed = complete_document(document)
    ubl = write_ubl(completed)
    return Conversion(document=completed, ubl=ubl, report=engine.validate(ubl, rule_set=rule_set))
