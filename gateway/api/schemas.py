"""Response models of the API (separate from the domain model and the tables)."""

from __future__ import annotations

from pydantic import BaseModel


class Issue(BaseModel):
    rule: str
    severity: str
    layer: str
    message: str
    location: str


class ReportResponse(BaseModel):
    rule_set: str
    valid: bool
    issues: list[Issue]


class ConversionResponse(BaseModel):
    ubl: str
    report: ReportResponse
