"""Who may see and do what on expenses, and the member role's units in the API key settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import Settings
from gateway.errors import ExpenseActionForbidden
from gateway.model.expense import Actor, ActorRole, ExpenseAction
from gateway.model.units import ProductionUnit
from gateway.services.expense_access import PERMISSIONS, check_action, visible_units

UNITS = [ProductionUnit("PU-1", "One", members=("ann",)), ProductionUnit("PU-2", "Two")]
A = ExpenseAction


def test_members_see_their_key_s_units_and_the_units_naming_them() -> None:
    named = {u.key for u in UNITS if "ann" in u.members}
    assert visible_units(Actor("ann", ActorRole.MEMBER, frozenset({"PU2"})), named) == {"PU1", "PU2"}
    assert visible_units(Actor("bob", ActorRole.MEMBER), ()) == frozenset()
    for role in (ActorRole.SUPPORT, ActorRole.ADMIN):
        assert visible_units(Actor("x", role), named) is None


@pytest.mark.parametrize("role", list(ActorRole))
@pytest.mark.parametrize("action", list(ExpenseAction))
def test_every_role_and_action(role: ActorRole, action: ExpenseAction) -> None:
    allowed = {
        ActorRole.MEMBER: {A.APPROVE, A.REJECT, A.QUERY, A.ANSWER, A.MARK_PAID, A.SETTLE},
        ActorRole.SUPPORT: {A.ASSIGN, A.ANSWER, A.MARK_PAID, A.SETTLE},
        ActorRole.ADMIN: {A.ASSIGN, A.APPROVE, A.REJECT, A.QUERY, A.ANSWER, A.MARK_PAID, A.SETTLE},
        ActorRole.SYSTEM: set(),
    }[role]
    assert PERMISSIONS[role] == allowed
    if action in allowed:
        check_action(Actor("x", role), action)
    else:
        with pytest.raises(ExpenseActionForbidden):
            check_action(Actor("x", role), action)


def test_api_keys_carry_units_and_refuse_malformed_codes() -> None:
    key = {"name": "farm", "role": "member", "key": "k" * 24, "units": ["PU-04711"]}
    settings = Settings.model_validate({"api": {"keys": [key]}})
    assert settings.api.keys[0].units == ["PU-04711"]
    with pytest.raises(ValidationError, match="not letters followed by digits"):
        Settings.model_validate({"api": {"keys": [{**key, "units": ["04711"]}]}})
    with pytest.raises(ValidationError):
        Settings.model_validate({"expenses": {"routing_rules": ["buyer-reference", "guess"]}})
