"""Validate UBL and convert posted JSON documents to Peppol BIS Billing 3.0 UBL."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from gateway.api.deps import PrincipalDep, ServicesDep, bounded_body
from gateway.api.document_size import check_document_size
from gateway.api.json_body import json_request_body
from gateway.api.schemas import ConversionResponse, ReportResponse
from gateway.errors import DocumentRejected, InvalidDocumentData
from gateway.services.conversion import DocumentIn, convert_document

router = APIRouter(prefix="/v1", tags=["validation"])

_DOCUMENT: TypeAdapter[DocumentIn] = TypeAdapter(DocumentIn)

XML_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/validate",
    response_model=ReportResponse,
    openapi_extra=XML_BODY,
    responses={
        400: {"description": "Not well-formed or hostile XML (problem+json)"},
        413: {"description": "Document larger than the document limit (problem+json)"},
    },
)
async def validate(
    services: ServicesDep,
    _principal: PrincipalDep,
    body: Annotated[bytes, Depends(bounded_body())],
    rules: Annotated[str | None, Query(description="Rule set id; default: the one in force today")] = None,
) -> JSONResponse:
    """Validate a UBL Invoice or CreditNote: XSD, EN 16931 and Peppol rules. Always 200 with the report."""
    check_document_size(body, services.settings.validation.max_document_bytes)
    rule_set = rules or services.rule_set_today()
    report = await anyio.to_thread.run_sync(lambda: services.validation.validate(body, rule_set=rule_set))
    return JSONResponse(report.to_dict())


#: The JSON body of /v1/convert, documented by hand: it is read raw (after the key check, through the
#: bounded reader) and parsed in the route, so FastAPI must not parse it before the API key is checked.
CONVERT_BODY = json_request_body(DocumentIn)


def _parse_document(body: bytes) -> DocumentIn:
    try:
        document: DocumentIn = _DOCUMENT.validate_json(body)
    except ValidationError as exc:
        raise InvalidDocumentData(
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)]
        ) from exc
    return document


@router.post(
    "/convert",
    response_model=ConversionResponse,
    openapi_extra=CONVERT_BODY,
    responses={
        413: {"description": "Body or document larger than the limit (problem+json)"},
        422: {"description": "Invalid data, or the produced UBL fails validation (problem+json)"},
    },
)
async def convert(
    services: ServicesDep,
    _principal: PrincipalDep,
    body: Annotated[bytes, Depends(bounded_body())],
    rules: Annotated[str | None, Query(description="Rule set id; default: the one in force today")] = None,
) -> Any:
    """Convert a JSON invoice or credit note to BIS Billing 3.0 UBL and validate it.

    The UBL is returned only when it has no fatal finding; otherwise 422 with the full report.
    """
    check_document_size(body, services.settings.validation.max_document_bytes)
    document = _parse_document(body)
    rule_set = rules or services.rule_set_today()
    result = await anyio.to_thread.run_sync(
        lambda: convert_document(document, engine=services.validation, rule_set=rule_set)
    )
    if not result.report.valid:
        raise DocumentRejected(result.report, "the converted document fails validation")
    return ConversionResponse(ubl=result.ubl.decode("utf-8"), report=result.report.to_dict())
