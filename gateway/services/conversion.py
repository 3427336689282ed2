"""The one JSON -> UBL conversion path: parse the posted JSON document, complete it (EN 16931, see
``gateway.model.completion``), write Peppol BIS Billing 3.0 UBL and, for /v1/convert and
``gateway convert``, validate the result. The outbound submission uses :func:`convert_to_ubl` too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import TypeAdapter, ValidationError

from gateway.errors import InvalidDocumentData
from gateway.model import CreditNote, Document, Invoice, complete_document
from gateway.model.identifiers import EMAIL_SCHEME, EmailReceiver
from gateway.model.json_names import UNCHECKED_NAMES, repeated_names
from gateway.services.email_only import waive_email_address_rule
from gateway.ubl import write_ubl

if TYPE_CHECKING:
    from gateway.validation import ValidationEngine, ValidationReport

#: The request body of /v1/convert and `gateway convert`: an invoice or a credit note, told apart by ``kind``.
DocumentIn = Document

_DOC = TypeVar("_DOC", Invoice, CreditNote)

_KINDS = frozenset({"invoice", "credit_note"})
_EITHER: TypeAdapter[Invoice | CreditNote] = TypeAdapter(Document)
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {
    Invoice: TypeAdapter(Invoice),
    CreditNote: TypeAdapter(CreditNote),
}


@dataclass(frozen=True, slots=True)
class ConvertedDocument:
    """A completed document and its UBL (not yet validated)."""

    document: Invoice | CreditNote
    ubl: bytes


@dataclass(frozen=True, slots=True)
class Conversion:
    """The UBL produced for one document and its validation report."""

    document: Invoice | CreditNote
    ubl: bytes
    report: ValidationReport


@overload
def parse_document_json(data: bytes) -> Invoice | CreditNote: ...


@overload
def parse_document_json(data: bytes, model: type[_DOC]) -> _DOC: ...


def parse_document_json(data: bytes, model: type[_DOC] | None = None) -> Invoice | CreditNote:
    """Parse the JSON form of a document.

    Args:
        data: the JSON bytes.
        model: ``Invoice`` or ``CreditNote``; by default either, told apart by ``kind``.

    Returns:
        The parsed ``Invoice`` or ``CreditNote``.

    Raises:
        InvalidDocumentData: not JSON, an object in it naming a member twice (``model.json_names``: one
            ``<location>: duplicate key ...`` problem per repeated name, before any field is read), or
            fields missing or malformed (one ``<location>: <message>`` problem per field).
    """
    repeated = repeated_names(data)
    if repeated:
        raise InvalidDocumentData([f"{r.location}: {r.message}" for r in repeated])
    try:
        adapter = _EITHER if model is None else _ADAPTERS[model]
        document: Invoice | CreditNote = adapter.validate_json(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = list(error["loc"])
            if model is None and location and location[0] in _KINDS:
                location = location[1:]  # the union's tag: the document's own ``kind`` says it already
            problems.append(f"{'.'.join(str(p) for p in location) or 'document'}: {error['msg']}")
        raise InvalidDocumentData(problems) from exc
    if repeated is None:  # read by the model parser, not by the name check: a reader difference
        raise InvalidDocumentData([f"document: {UNCHECKED_NAMES}"])
    return document


def convert_to_ubl(document: Invoice | CreditNote) -> ConvertedDocument:
    """Complete the document (totals, VAT treatment, structured communication) and write its UBL.

    Raises:
        InvalidDocumentData: the document is inconsistent; nothing is written.
        MappingError: it cannot be written as UBL.
    """
    completed = complete_document(document)
    return ConvertedDocument(document=completed, ubl=write_ubl(completed))


def convert_document(
    document: Invoice | CreditNote, *, engine: ValidationEngine, rule_set: str | None = None
) -> Conversion:
    """Convert the document to UBL (:func:`convert_to_ubl`) and validate the result.

    Raises:
        InvalidDocumentData: the document is inconsistent; nothing is written.
    """
    converted = convert_to_ubl(document)
    report = engine.validate(converted.ubl, rule_set=rule_set)
    buyer = converted.document.buyer.endpoint
    if buyer is not None and buyer.scheme == EMAIL_SCHEME:
        # A buyer outside Peppol, e-mailed: as at submit (``services.email_only``).
        report = waive_email_address_rule(report, EmailReceiver(buyer.value))
    return Conversion(document=converted.document, ubl=converted.ubl, report=report)
