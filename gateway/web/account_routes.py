"""Accounts of the people who log in: the admin's list with its add form and one account's page (role,
units, active, a new password), and every person's own page with a password change.

An account change a form asks for and the checks refuse is shown on the same page, in the person's
language, with what was typed (never a password) so it can be corrected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from gateway.config import Role
from gateway.services.units import units_by_key
from gateway.store.people import PersonRecord, SQLPeopleStore
from gateway.web.accounts import (
    AccountError,
    change_account,
    checked_units,
    create_account,
    set_password,
    unit_codes,
)
from gateway.web.i18n import page_language, translate
from gateway.web.login_routes import session_opened
from gateway.web.pages import (
    PageContext,
    PageRoute,
    checked_form,
    page,
    query_link,
    require_admin,
    require_person,
)
from gateway.web.people import PERSON_ROLES, Authenticator

router = APIRouter(prefix="/web", route_class=PageRoute, include_in_schema=False)

AdminDep = Annotated[PageContext, Depends(require_admin)]
PersonDep = Annotated[PageContext, Depends(require_person)]

#: What the page says after each change.
DONE: Final = {
    "created": "The account is created: the person can log in.",
    "changed": "The account is changed.",
    "password": "The password is changed; the account's open sessions have ended.",
    "own-password": "Your password is changed; your other sessions have ended.",
}


def _people(context: PageContext) -> SQLPeopleStore:
    people = context.services.people
    assert people is not None  # the pages are mounted only with the SQL store (web/app.py)
    return people


def _error_text(request: Request, error: AccountError) -> str:
    return translate(page_language(request), error.message) % error.values


def _unit_keys(context: PageContext, role: Role, text: str) -> frozenset[str]:
    """The keys of the units typed for a person of ``role``, every one of them an existing unit.

    Raises:
        AccountError: see ``checked_units``; a code of no unit.
    """
    keys = checked_units(role, unit_codes(text))
    unknown = sorted(keys - units_by_key(context.services.store, keys).keys())
    if unknown:
        raise AccountError("These units do not exist: %(keys)s.", keys=", ".join(unknown))
    return keys


def _role(text: str) -> Role:
    """The role typed; a role people cannot have (``sender``) is refused by ``checked_units`` next."""
    try:
        return Role(text)
    except ValueError as exc:
        raise AccountError("People are support, admin or member, not %(role)s.", role=text[:40]) from exc


def _codes(context: PageContext, keys: Iterable[str]) -> dict[str, str]:
    """Unit key -> code as published, for these unit keys (a key of no unit is left out)."""
    return {key: unit.code for key, unit in units_by_key(context.services.store, set(keys)).items()}


def _people_page(context: PageContext, status: int = 200, **values: Any) -> Response:
    records = _people(context).list_people()
    values.setdefault("form", {"name": "", "role": Role.MEMBER.value, "units": ""})
    return page(
        context.request,
        "people.html",
        status,
        session=context.session,
        people=records,
        codes=_codes(context, (key for record in records for key in record.units)),
        roles=[role.value for role in PERSON_ROLES],
        **{"done": None, "error": None, **values},
    )


@router.get("/people")
def people(context: AdminDep, done: str | None = None) -> Response:
    """Every account, and a form to add one."""
    return _people_page(context, done=DONE.get(done or ""))


@router.post("/people")
async def add_person(context: AdminDep) -> Response:
    """Add an account (a name already taken is refused, never replaced)."""
    form = await checked_form(context)
    return await anyio.to_thread.run_sync(_add_person, context, form)  # argon2: ~50 ms, off the loop


def _add_person(context: PageContext, form: dict[str, str]) -> Response:
    typed = {"name": form.get("name", ""), "role": form.get("role", ""), "units": form.get("units", "")}
    password = form.get("password", "")
    try:
        if password != form.get("again", ""):
            raise AccountError("The two new passwords differ.")
        role = _role(typed["role"])
        keys = _unit_keys(context, role, typed["units"])
        people, by, clock = _people(context), context.person, context.services.clock
        name = create_account(people, typed["name"], role, keys, password, by=by, clock=clock)
    except AccountError as exc:
        return _people_page(context, 422, form=typed, error=_error_text(context.request, exc))
    return RedirectResponse(query_link("/web/person", {"name": name, "done": "created"}), status_code=303)


def _person_page(context: PageContext, record: PersonRecord, status: int = 200, **values: Any) -> Response:
    codes = _codes(context, record.units)
    form = {
        "role": record.role,
        "units": ", ".join(sorted(codes.get(key, key) for key in record.units)),
        "active": record.active,
    }
    return page(
        context.request,
        "person.html",
        status,
        session=context.session,
        account=record,
        roles=[role.value for role in PERSON_ROLES],
        **{"form": form, "done": None, "error": None, **values},
    )


def _record(context: PageContext, name: str) -> PersonRecord:
    record = _people(context).get_person(name)
    if record is None:
        raise AccountError("There is no account named %(name)s.", name=name)
    return record


@router.get("/person")
def person(context: AdminDep, name: str = "", done: str | None = None) -> Response:
    """One account: its role, units and state, and a new password."""
    try:
        record = _record(context, name)
    except AccountError as exc:
        return _people_page(context, 404, error=_error_text(context.request, exc))
    return _person_page(context, record, done=DONE.get(done or ""))


@router.post("/person/change")
async def change_person(context: AdminDep) -> Response:
    """Change an account's role, units and whether it may log in."""
    form = await checked_form(context)
    return await anyio.to_thread.run_sync(_change_person, context, form)


def _change_person(context: PageContext, form: dict[str, str]) -> Response:
    name, role_text, units_text = form.get("name", ""), form.get("role", ""), form.get("units", "")
    active = form.get("active") == "on"
    try:
        record = _record(context, name)
    except AccountError as exc:
        return _people_page(context, 404, error=_error_text(context.request, exc))
    try:
        role = _role(role_text)
        keys = _unit_keys(context, role, units_text)
        people, by, clock = _people(context), context.person, context.services.clock
        change_account(people, name, role, keys, active, by=by, clock=clock)
    except AccountError as exc:
        typed = {"role": role_text, "units": units_text, "active": active}
        return _person_page(context, record, 422, form=typed, error=_error_text(context.request, exc))
    return RedirectResponse(query_link("/web/person", {"name": name, "done": "changed"}), status_code=303)


@router.post("/person/password")
async def reset_password(context: AdminDep) -> Response:
    """Give an account a new password (its sessions end)."""
    form = await checked_form(context)
    return await anyio.to_thread.run_sync(_reset_password, context, form)


def _reset_password(context: PageContext, form: dict[str, str]) -> Response:
    name, by = form.get("name", ""), context.person
    try:
        record = _record(context, name)
    except AccountError as exc:
        return _people_page(context, 404, error=_error_text(context.request, exc))
    try:
        password, again = form.get("password", ""), form.get("again", "")
        new_hash = set_password(_people(context), name, password, again, by=by, clock=context.services.clock)
    except AccountError as exc:
        return _person_page(context, record, 422, error=_error_text(context.request, exc))
    if name == by.name:  # an admin who reset their own password ended their own session too
        return session_opened(context.request, by, "/web/account?done=own-password", new_hash)
    return RedirectResponse(query_link("/web/person", {"name": name, "done": "password"}), status_code=303)


def _account_page(context: PageContext, status: int = 200, **values: Any) -> Response:
    codes = _codes(context, context.person.units)  # the session read the account: no second read
    return page(
        context.request,
        "account.html",
        status,
        session=context.session,
        units=sorted(codes.get(key, key) for key in context.person.units),
        **{"done": None, "error": None, **values},
    )


@router.get("/account")
def account(context: PersonDep, done: str | None = None) -> Response:
    """The logged-in person's own account, with a password change."""
    return _account_page(context, done=DONE.get(done or ""))


@router.post("/account/password")
async def change_own_password(context: PersonDep) -> Response:
    """Change one's own password: the current one first (counted by the login rate limit)."""
    form = await checked_form(context)
    return await anyio.to_thread.run_sync(_change_own_password, context, form)


def _change_own_password(context: PageContext, form: dict[str, str]) -> Response:
    request, me = context.request, context.person
    authenticator: Authenticator = request.app.state.web_authenticator
    source = request.client.host if request.client else None
    try:
        if authenticator.authenticate(me.name, form.get("current", ""), source=source) is None:
            raise AccountError("The current password is wrong.")
        password, again = form.get("password", ""), form.get("again", "")
        new_hash = set_password(
            _people(context), me.name, password, again, by=me, clock=context.services.clock
        )
    except AccountError as exc:
        return _account_page(context, 422, error=_error_text(request, exc))
    return session_opened(request, me, "/web/account?done=own-password", new_hash)
