"""The one JSON -> UBL conversion path: parse the posted JSON document, complete it (EN 16931, see
``gateway.model.completion``), write Peppol BIS Billing 3.0 UBL and, for /v1/convert and
``gateway convert``, validate the result. The outbound submission uses :func:`convert_to_ubl` too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

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


#: The longest literal with a point and no exponent that is exact without a check: 15 digits and the point
#: (a sign leaves 14): a 25 MiB body of such numbers is checked in ≈ 1.3 s of CPU instead of ≈ 6.
_ALWAYS_EXACT: Final = 16
#: Characters of a number literal shown in a refusal; a longer one is cut, with an ellipsis.
_SHOWN_LITERAL: Final = 40


class _Inexact(str):
    """A number literal a binary float would change, kept as its text in a parsed body."""


def _exact(literal: str) -> bool:
    """Whether a binary float holds the JSON number ``literal`` (with a point or an exponent) exactly."""
    if len(literal) <= _ALWAYS_EXACT and "e" not in literal and "E" not in literal:
        return True  # a point and at most 15 digits: a double holds every such decimal (DBL_DIG)
    try:
        return Decimal(literal) == Decimal(repr(float(literal)))
    except ArithmeticError:  # an exponent beyond what Decimal takes (1e999999999999999999999)
        return False


class _InexactSeen:
    """The number hook of ``repeated_names``'s pass: notes whether a literal is one a binary float would
    change (``_exact``); keeps nothing."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, literal: str) -> None:
        if not self.seen and not _exact(literal):
            self.seen = True


def _inexact_numbers(data: bytes) -> list[str]:
    """The problems of the JSON number literals (with a point or an exponent) of ``data`` that a binary
    float does not hold exactly, each at its location (``lines.0.quantity``, as the model's problems); read
    only once ``_InexactSeen`` saw one. The model parser reads such a literal through a float (a
    pydantic-core limitation), so it would quietly take another value than the one posted
    (``250.000000000000000001`` read as ``250.0``, ``123456789012.345678901`` as ``123456789012.34567``)."""
    # ``repeated_names`` refused repeated members before, and read the body with the same reader: a dict per
    # object loses nothing, and no error is expected here.
    parsed = json.loads(
        data,
        parse_float=lambda lit: lit if _exact(lit) else _Inexact(lit),
        parse_int=str,
        parse_constant=str,
    )
    found: list[str] = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), parsed)]
    while stack and len(found) < 20:
        path, value = stack.pop()
        if isinstance(value, _Inexact):
            shown = value if len(value) <= _SHOWN_LITERAL else value[:_SHOWN_LITERAL] + "…"
            found.append(
                f"{'.'.join(path) or 'document'}: the JSON number {shown} cannot be read exactly (it is read"
                ' through a binary float, about 16 significant digits); write it as a string, e.g. "1234.56"'
            )
        elif isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, str(i)), item) for i, item in reversed(list(enumerate(value))))
    return found


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
            ``<location>: duplicate key ...`` problem per repeated name, before any field is read), a
            JSON number a binary float does not hold exactly (``_inexact_numbers``: never rounded), or
            fields missing or malformed (one ``<location>: <message>`` problem per field).
    """
    inexact = _InexactSeen()  # judged in the name check's pass, not in one of its own
    repeated = repeated_names(data, on_float=inexact)
    if repeated:
        raise InvalidDocumentData([f"{r.location}: {r.message}" for r in repeated])
    if repeated is not None and inexact.seen:
        raise InvalidDocumentData(_inexact_numbers(data))
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
    return ConvertedDocument(document=completed, ubl=write_ubl(completed, completed=True))


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
