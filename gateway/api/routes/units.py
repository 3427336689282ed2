"""Production units: read by everyone working on expenses, written by admins (one unit or a whole list)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gateway.api.auth import Principal
from gateway.api.deps import ServicesDep, bounded_body, require_roles
from gateway.api.errors import problem_responses
from gateway.api.expense_schemas import UnitCodePath, UnitIn, UnitItemIn, UnitOut, unit_out
from gateway.api.schemas import json_request_body, parse_json_body
from gateway.config import Role
from gateway.errors import DocumentNotFound, InvalidExpenseRequest
from gateway.model.units import unit_key
from gateway.services.units import list_units, refuse_repeated_units, save_units, unit_from_mapping

router = APIRouter(prefix="/v1/units", tags=["units"], responses=problem_responses(503))

ReaderDep = Annotated[Principal, Depends(require_roles(Role.MEMBER, Role.SUPPORT))]
AdminDep = Annotated[Principal, Depends(require_roles())]
#: The raw JSON body, read (bounded) only after the admin is authenticated: declared after ``AdminDep``.
BodyDep = Annotated[bytes, Depends(bounded_body())]

_ERRORS = problem_responses(401, 403, 422, s403="Role refused", s422="Malformed unit code")
_WRITE_ERRORS = problem_responses(
    401,
    403,
    413,
    422,
    s403="Role refused",
    s422="Malformed unit (``errors`` names each field, an unknown one included), a unit or a member named "
    "twice, a key or code naming another unit",
)


@router.get("", response_model=list[UnitOut], responses=_ERRORS)
def list_all(services: ServicesDep, _who: ReaderDep) -> list[UnitOut]:
    """Every production unit, by key."""
    return [unit_out(u) for u in list_units(services.store)]


@router.put(
    "",
    response_model=list[UnitOut],
    responses=_WRITE_ERRORS,
    openapi_extra=json_request_body(list[UnitItemIn]),
)
def put_many(services: ServicesDep, _who: AdminDep, body: BodyDep) -> list[UnitOut]:
    """Admin: create or replace the listed units (``[{"code", "name", "active", "members"}]``), atomically."""
    items = parse_json_body(body, list[UnitItemIn])
    for n, item in enumerate(items, 1):
        _refuse_another_unit(item, item.code, f"item {n}: ")
    units = [
        unit_from_mapping(item.model_dump(exclude={"key"}), f"item {n}: ") for n, item in enumerate(items, 1)
    ]
    refuse_repeated_units(units)
    save_units(services.store, units, clock=services.clock)
    return [unit_out(u) for u in units]


def _refuse_another_unit(given: UnitIn, code: str, where: str = "") -> None:
    """A body's read-only ``key`` or ``code`` naming another unit than ``code`` is a mistake (422), not a
    rename; one that is no unit code at all is refused naming the field (and ``where``)."""
    key = unit_key(code)
    for field, value in given.read_only_fields().items():
        try:
            same = unit_key(value) == key
        except InvalidExpenseRequest as exc:
            raise InvalidExpenseRequest(f"{where}the body's {field}: {exc}") from None
        if not same:
            raise InvalidExpenseRequest(f"{where}the body's key or code names another unit than {code!r}")


_NOT_FOUND = problem_responses(404, s404="No such unit")


@router.get("/{code}", response_model=UnitOut, responses={**_ERRORS, **_NOT_FOUND})
def show(services: ServicesDep, _who: ReaderDep, code: UnitCodePath) -> UnitOut:
    """One production unit."""
    key = unit_key(code)
    for unit in list_units(services.store):
        if unit.key == key:
            return unit_out(unit)
    raise DocumentNotFound(code, "production unit")


@router.put(
    "/{code}", response_model=UnitOut, responses=_WRITE_ERRORS, openapi_extra=json_request_body(UnitIn)
)
def put_one(services: ServicesDep, _who: AdminDep, code: UnitCodePath, body: BodyDep) -> UnitOut:
    """Admin: create or replace one unit (a unit read with GET may be written back as it is)."""
    given = parse_json_body(body, UnitIn)
    _refuse_another_unit(given, code)
    unit = unit_from_mapping({**given.model_dump(exclude={"key", "code"}), "code": code})
    save_units(services.store, [unit], clock=services.clock)
    return unit_out(unit)
