"""The one JSON -> UBL conversion path: parse the posted JSON document, complete it (EN 16931, see
``gateway.model.completion``), write Peppol BIS Billing 3.0 UBL and, for /v1/convert and
``gateway convert``, validate the result. The outbound submission uses :func:`convert_to_ubl` too."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import TypeAdapter, ValidationError

from gateway.errors import InvalidDocumentData
from gateway.model import CreditNote, Document, Invoice, complete_document
from gateway.model.identifiers import EMAIL_SCHEME, EmailReceiver
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
        InvalidDocumentData: not JSON, or fields missing or malformed (one ``<location>: <message>``
            problem per field).
    """
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
    duplicates = _duplicate_names(data)
    if duplicates:
        raise InvalidDocumentData([f"document: duplicate key {name!r}" for name in duplicates])
    return document


def _duplicate_names(data: bytes) -> list[str]:
    """Object member names that occur twice in one object (sorted), in JSON that is known to be valid.

    RFC 8259 §4: with duplicate names "the behavior of software that receives such an object is
    unpredictable"; the model parser keeps the last one, another reader of the same body may keep the
    first, so such a body is refused rather than read as one of the invoices it could mean.
    """
    found: set[str] = set()

    def pairs(members: list[tuple[str, Any]]) -> None:
        if len(members) > 1:
            found.update(name for name, count in Counter(name for name, _ in members).items() if count > 1)

    # Numbers and constants are kept as text: only the names matter here (and no int-size limit applies).
    try:
        json.loads(data, object_pairs_hook=pairs, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError) as exc:  # the model parser accepted it: a reader difference
        raise InvalidDocumentData([f"document: not readable as JSON ({type(exc).__name__})"]) from exc
    return sorted(found)


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
