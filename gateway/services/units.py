"""Production units as data: read from a CSV or JSON file (``gateway units import``) or the admin API, and
stored in the database where routing and the access rules read them.

CSV: a header with ``code,name`` and optionally ``active`` (true/false, 1/0, yes/no) and ``members`` (names
separated by ``;``). JSON: a list of ``{"code", "name", "active", "members": [...]}`` objects.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from gateway.errors import InvalidExpenseRequest
from gateway.model.free_text import check_free_text
from gateway.model.json_names import loads_checked
from gateway.model.units import ProductionUnit, unit_key
from gateway.services.ports import Clock, DocumentStore

_TRUE = {"true", "1", "yes", "y", "ja", "oui"}
_FALSE = {"false", "0", "no", "n", "nee", "non", ""}


def unit_from_mapping(data: Any, where: str = "") -> ProductionUnit:
    """A unit from a JSON object or CSV row.

    Raises:
        InvalidExpenseRequest: a field is missing or malformed, or a member is named twice (naming
            ``where``).
    """
    if not isinstance(data, dict):
        raise InvalidExpenseRequest(f"{where}a unit must be an object with code and name")
    code = str(data.get("code") or "").strip()
    name = str(data.get("name") or "").strip()
    if not code or not name:
        raise InvalidExpenseRequest(f"{where}a unit needs a code and a name")
    check_free_text(name, f"{where}the name")
    unit_key(code)  # raises for a malformed code
    active = data.get("active", True)
    if isinstance(active, str):
        if active.strip().lower() not in _TRUE | _FALSE:
            raise InvalidExpenseRequest(f"{where}active must be true or false, not {active!r}")
        active = active.strip().lower() in _TRUE
    members = data.get("members") or ()
    if isinstance(members, str):
        members = [m for m in (part.strip() for part in members.split(";")) if m]
    if not isinstance(members, list | tuple) or not all(isinstance(m, str) for m in members):
        raise InvalidExpenseRequest(f"{where}members must be a list of names")
    for member in members:
        check_free_text(member, f"{where}member {member!r}")
    # Names compare exactly, as a member is matched: its API key's or person's name, case and all.
    repeated = _named_twice(members)
    if repeated:
        raise InvalidExpenseRequest(f"{where}members named twice: {', '.join(map(repr, repeated))}")
    return ProductionUnit(code, name, bool(active), tuple(members))


def parse_units(data: bytes, *, filename: str) -> list[ProductionUnit]:
    """The units of a ``.json`` or ``.csv`` file.

    Raises:
        InvalidExpenseRequest: the file is malformed (a JSON object naming a member twice included), or
            two rows name the same unit.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidExpenseRequest(f"{filename}: not UTF-8") from exc
    units: list[ProductionUnit] = []
    if filename.lower().endswith(".json"):
        try:
            # The API's rule for its JSON bodies (``model.json_names``): which of two values would count?
            items, repeated = loads_checked(text)
        except json.JSONDecodeError as exc:
            raise InvalidExpenseRequest(f"{filename}: not JSON ({exc.msg})") from exc
        except ValueError as exc:
            raise InvalidExpenseRequest(f"{filename}: not JSON ({exc})") from exc
        if repeated:
            raise InvalidExpenseRequest(f"{filename}: {'; '.join(r.message for r in repeated)}")
        if not isinstance(items, list):
            raise InvalidExpenseRequest(f"{filename}: expected a list of units")
        units = [unit_from_mapping(item, f"{filename} item {n}: ") for n, item in enumerate(items, 1)]
    else:
        rows = csv.DictReader(io.StringIO(text))
        units = [unit_from_mapping(dict(row), f"{filename} line {n}: ") for n, row in enumerate(rows, 2)]
    refuse_repeated_units(units, f"{filename}: ")
    return units


def refuse_repeated_units(units: Sequence[ProductionUnit], where: str = "") -> None:
    """Refuse a list naming one unit twice (``PU-04711`` and ``pu04711`` are one: which one to keep?).

    Raises:
        InvalidExpenseRequest: naming the repeated unit keys.
    """
    repeated = _named_twice(unit.key for unit in units)
    if repeated:
        raise InvalidExpenseRequest(f"{where}units named twice: {', '.join(repeated)}")


def _named_twice(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def save_units(store: DocumentStore, units: Sequence[ProductionUnit], *, clock: Clock) -> int:
    """Create or replace the units (one transaction). Units not named are left as they are.

    Returns:
        The number of units saved.
    """
    now = clock.now()
    with store.unit_of_work() as uow:
        for unit in units:
            uow.units.put(unit, at=now)
        uow.commit()
    return len(units)


def list_units(store: DocumentStore) -> list[ProductionUnit]:
    """Every production unit, by key."""
    with store.unit_of_work(read_only=True) as uow:
        return uow.units.all()


def units_by_key(store: DocumentStore, keys: Collection[str]) -> dict[str, ProductionUnit]:
    """The units of these keys that exist (a key without a unit is left out)."""
    with store.unit_of_work(read_only=True) as uow:
        return uow.units.get_many(keys)
