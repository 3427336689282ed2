"""Validate UBL and convert posted JSON documents to Peppol BIS Billing 3.0 UBL."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from gateway.api.deps import PrincipalDep, ServicesDep, bounded_body
from gateway.api.document_size import check_document_size
from gateway.api.errors import problem_responses
from gateway.api.schemas import XML_REQUEST_BODY, ConversionResponse, ReportResponse, json_request_body
from gateway.errors import DocumentRejected
from gateway.services.conversion import DocumentIn, convert_document, parse_document_json

router = APIRouter(prefix="/v1", tags=["validation"], responses=problem_responses(401, 413, 415, 503))

RulesQuery = Annotated[
    str | None, Query(description="Rule set id; default: the one in force today (422 if unknown)")
]


@router.post(
    "/validate",
    response_model=ReportResponse,
    openapi_extra=XML_REQUEST_BODY,
    responses=problem_responses(400, 422, s400="Not well-formed or hostile XML", s422="Unknown rule set"),
)
async def validate(
    services: ServicesDep,
    _principal: PrincipalDep,
    body: Annotated[bytes, Depends(bounded_body(syntax="xml"))],
    rules: RulesQuery = None,
) -> JSONResponse:
    """Validate a UBL Invoice or CreditNote: XSD, EN 16931 and Peppol rules. Always 200 with the report."""
    check_document_size(body, services.settings.validation.max_document_bytes)
    rule_set = rules or services.rule_set_today()
    report = await anyio.to_thread.run_sync(lambda: services.validation.validate(body, rule_set=rule_set))
    return JSONResponse(report.to_dict())


@router.post(
    "/convert",
    response_model=ConversionResponse,
    openapi_extra=json_request_body(DocumentIn),
    responses=problem_responses(
        422, s422="Invalid data (``errors`` names each field), or the produced UBL fails validation"
    ),
)
async def convert(
    services: ServicesDep,
    _principal: PrincipalDep,
    body: Annotated[bytes, Depends(bounded_body(syntax="json"))],
    rules: RulesQuery = None,
) -> Any:
    """Convert a JSON invoice or credit note to BIS Billing 3.0 UBL and validate it.

    The UBL is returned only when it has no fatal finding; otherwise 422 with the full report.
    """
    check_document_size(body, services.settings.validation.max_document_bytes)
    rule_set = rules or services.rule_set_today()
    result = await anyio.to_thread.run_sync(
        lambda: convert_document(parse_document_json(body), engine=services.validation, rule_set=rule_set)
    )
    if not result.report.valid:
        raise DocumentRejected(result.report, "the converted document fails validation")
    return ConversionResponse(ubl=result.ubl.decode("utf-8"), report=result.report.to_dict())
