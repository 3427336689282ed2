"""Production units: read by everyone working on expenses, written by admins (one unit or a whole list)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gateway.api.auth import Principal
from gateway.api.deps import ServicesDep, require_roles
from gateway.api.errors import problem_responses
from gateway.api.expense_schemas import UnitIn, UnitOut, unit_out
from gateway.config import Role
from gateway.errors import DocumentNotFound
from gateway.model.units import ProductionUnit, unit_key
from gateway.services.units import list_units, save_units, unit_from_mapping

router = APIRouter(prefix="/v1/units", tags=["units"], responses=problem_responses(503))

ReaderDep = Annotated[Principal, Depends(require_roles(Role.MEMBER, Role.SUPPORT))]
AdminDep = Annotated[Principal, Depends(require_roles())]

_ERRORS = problem_responses(401, 403, 422, s403="Role refused", s422="Malformed unit")


@router.get("", response_model=list[UnitOut], responses=_ERRORS)
def list_all(services: ServicesDep, _who: ReaderDep) -> list[UnitOut]:
    """Every production unit, by key."""
    return [unit_out(u) for u in list_units(services.store)]


@router.put("", response_model=list[UnitOut], responses=_ERRORS)
def put_many(services: ServicesDep, _who: AdminDep, body: list[dict[str, object]]) -> list[UnitOut]:
    """Admin: create or replace the listed units (``[{"code", "name", "active", "members"}]``), atomically."""
    units = [unit_from_mapping(item, f"item {n}: ") for n, item in enumerate(body, 1)]
    save_units(services.store, units, clock=services.clock)
    return [unit_out(u) for u in units]


_NOT_FOUND = problem_responses(404, s404="No such unit")


@router.get("/{code}", response_model=UnitOut, responses={**_ERRORS, **_NOT_FOUND})
def show(services: ServicesDep, _who: ReaderDep, code: str) -> UnitOut:
    """One production unit."""
    key = unit_key(code)
    for unit in list_units(services.store):
        if unit.key == key:
            return unit_out(unit)
    raise DocumentNotFound(code, "production unit")


@router.put("/{code}", response_model=UnitOut, responses=_ERRORS)
def put_one(services: ServicesDep, _who: AdminDep, code: str, body: UnitIn) -> UnitOut:
    """Admin: create or replace one unit."""
    unit = ProductionUnit(code.strip(), body.name, body.active, tuple(body.members))
    unit_key(unit.code)
    save_units(services.store, [unit], clock=services.clock)
    return unit_out(unit)
