"""Request and response descriptions of the API (separate from the domain model and the tables)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar, overload

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    TypeAdapter,
    ValidationError,
)

from gateway.model.free_text import CONTROL_RANGES
from gateway.model.json_names import UNCHECKED_NAMES, repeated_names

_RFC3339: Final = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    # pydantic's lax mode also reads numbers ("0.5") as Unix times; the OpenAPI schema says date-time.
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-02T09:00:00Z")
    return value


def _in_utc_range(value: datetime) -> datetime:
    # The store compares in UTC: 0001-01-01T00:00:00+01:00 or 9999-12-31T23:00:00-01:30 have no UTC
    # instant in datetime's range, which would surface as a store error (503) instead of a bad query.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be between years 1 and 9999 once converted to UTC") from None
    return value


#: A document id in a path: printable ASCII (ids are UUIDs; anything else is simply not found).
DocumentIdPath = Annotated[
    str, Path(pattern=r"^[!-~]{1,128}$", description="The document id (a UUID), as in status_url")
]

#: A document number (BT-1) to search for: free text (``model.free_text``), at most 200 characters.
DocumentNumberQuery = Annotated[
    str | None,
    Query(
        pattern=rf"^[^{CONTROL_RANGES}]{{1,200}}$",
        description="Only this document number (exact; an invoice and a credit note may share one)",
    ),
]

#: A timestamp query parameter: an RFC 3339 date-time with an offset (RFC 3339 §5.6), nothing else.
RFC3339DateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_utc_range)]


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


def _inline_schema(model: Any) -> dict[str, Any]:
    """The model's JSON schema with every ``$defs`` reference inlined, usable inside an OpenAPI operation."""
    schema = TypeAdapter(model).json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any, depth: int = 0) -> Any:
        if depth > 40:  # a recursive model would never end; ours are not recursive
            return {}
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = {
                    **definitions[ref.removeprefix("#/$defs/")],
                    **{k: v for k, v in node.items() if k != "$ref"},
                }
                return resolve(target, depth + 1)
            # The discriminator mapping names $defs entries that inlining removes; ``kind`` is a const anyway.
            return {key: resolve(value, depth + 1) for key, value in node.items() if key != "discriminator"}
        if isinstance(node, list):
            return [resolve(value, depth + 1) for value in node]
        return node

    result: dict[str, Any] = resolve(schema)
    return result


def json_request_body(model: Any, *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself (bounded) as ``model``.

    Args:
        model: what :func:`parse_json_body` reads the body as.
        required: False when the body may be left out (empty).
    """
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": _inline_schema(model)}},
        }
    }


_M = TypeVar("_M")


#: One validator per body model (building one is far slower than using it).
_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


@overload
def parse_json_body(body: bytes, model: type[_M]) -> _M: ...


@overload
def parse_json_body(body: bytes, model: type[_M], *, optional: bool) -> _M | None: ...


def parse_json_body(body: bytes, model: type[_M], *, optional: bool = False) -> _M | None:
    """Read a request body (already read through ``bounded_body``) as ``model``, strictly: what the
    OpenAPI schema of ``model`` refuses is refused (no ``"yes"`` for a boolean, no number for a string).

    Args:
        body: the raw body.
        model: a pydantic model or a type pydantic validates (e.g. ``list[SomeModel]``).
        optional: an empty body (or JSON ``null``) is None instead of an error.

    Raises:
        RequestValidationError: not JSON, an object in it naming a member twice (``model.json_names``:
            one error per repeated name, at ``body.<its path>``, before any field is read), or not ``model``;
            answered 422 problem+json whose ``errors`` name each field (``body.<field>``), as for every
            other malformed request.
    """
    if optional and (not body.strip() or body.strip() == b"null"):
        return None
    repeated = repeated_names(body)
    if repeated:
        raise RequestValidationError(
            [{"type": "json_duplicate_key", "loc": ("body", r.location), "msg": r.message} for r in repeated]
        )
    try:
        parsed: _M = _adapter(model).validate_json(body, strict=True)
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None
    if repeated is None:  # read by the model parser, not by the name check: a reader difference
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": UNCHECKED_NAMES}])
    return parsed


#: ``openapi_extra`` for a route that reads an XML body (UBL).
XML_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}},
    }
}
