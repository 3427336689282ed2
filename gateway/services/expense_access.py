"""Who may see and do what on expenses: members see and act only on their production units; support
triages, reassigns and reads everything; admin does everything (the roles of ``gateway.config.Role``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Final

from gateway.errors import ExpenseActionForbidden
from gateway.model.expense import Actor, ActorRole, Expense, ExpenseAction
from gateway.services.ports import UnitOfWork

A = ExpenseAction
R = ActorRole

#: The actions each role may take (on the expenses it can see); settling a partial payment goes with paying.
PERMISSIONS: Final[Mapping[ActorRole, frozenset[ExpenseAction]]] = {
    R.MEMBER: frozenset({A.APPROVE, A.REJECT, A.QUERY, A.ANSWER, A.MARK_PAID, A.SETTLE}),
    R.SUPPORT: frozenset({A.ASSIGN, A.ANSWER, A.MARK_PAID, A.SETTLE}),
    R.ADMIN: frozenset({A.ASSIGN, A.APPROVE, A.REJECT, A.QUERY, A.ANSWER, A.MARK_PAID, A.SETTLE}),
    R.SYSTEM: frozenset(),
}


def visible_units(actor: Actor, named: Collection[str]) -> frozenset[str] | None:
    """The unit keys whose expenses ``actor`` sees; None means every expense (triage included).

    Args:
        actor: who asks.
        named: keys of the units whose member list names the actor.

    A member sees the units its credentials carry and the units whose member list names it.
    """
    if actor.role is not R.MEMBER:
        return None
    return frozenset(actor.units | set(named))


def visible_to(uow: UnitOfWork, actor: Actor) -> frozenset[str] | None:
    """:func:`visible_units` with the member lists read in ``uow``."""
    if actor.role is not R.MEMBER:
        return None
    return visible_units(actor, uow.units.units_of_member(actor.name))


def check_action(actor: Actor, action: ExpenseAction) -> None:
    """Refuse an action the actor's role does not allow.

    Raises:
        ExpenseActionForbidden: naming the role and the action.
    """
    if action not in PERMISSIONS[actor.role]:
        raise ExpenseActionForbidden(f"role {actor.role.value!r} may not {action.value} expenses")


def as_seen(uow: UnitOfWork, expense: Expense, visible: Collection[str] | None) -> Expense:
    """``expense`` as an actor seeing the units ``visible`` (None: all) may see it: a credit note's link to
    the invoice it credits (BT-25, matched by supplier and number whatever the unit) is left out when that
    invoice is another unit's, which the actor may not know of."""
    credited_id = expense.credited_expense_id
    if visible is None or credited_id is None:
        return expense
    credited = uow.expenses.get(credited_id)
    if credited is not None and credited.unit_code in visible:
        return expense
    return replace(expense, credited_expense_id=None)
