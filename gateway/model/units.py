"""Production units (the cooperative's activities that approve expenses) and the remembered supplier -> unit
mappings that support staff set when they triage a supplier for the first time.

A unit code is a letter prefix followed by digits, written with or without a dash (``PU-00123``,
``PU00123``); it is compared by its *key*: upper case, letters and digits only (bis-billing.md §8:
"a short stable code ... published as your buyer reference").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.errors import InvalidExpenseRequest

#: The shape of a unit code: 1-6 letters, an optional dash or blank, 1-12 digits.
UNIT_CODE_PATTERN: Final = re.compile(r"^([A-Za-z]{1,6})[\s-]?([0-9]{1,12})$")


def unit_key(code: str) -> str:
    """The comparison key of a unit code: upper case without blanks or dashes (``pu 00123`` -> ``PU00123``).

    Raises:
        InvalidExpenseRequest: ``code`` is not a letter prefix followed by digits.
    """
    match = UNIT_CODE_PATTERN.match(code.strip())
    if match is None:
        raise InvalidExpenseRequest(f"unit code {code!r} is not letters followed by digits (e.g. PU-00123)")
    return match.group(1).upper() + match.group(2)


def unit_prefix(key: str) -> str:
    """The letter prefix of a unit key (``PU00123`` -> ``PU``)."""
    return key.rstrip("0123456789")


@dataclass(frozen=True, slots=True)
class ProductionUnit:
    """A production unit (activity) of the cooperative.

    Attributes:
        code: the code as published (``PU-00123``); its key identifies the unit.
        name: the unit's name, for people.
        active: an inactive unit receives no new expenses (documents naming it go to triage).
        members: names of the principals (API keys, later people) allowed to approve its expenses.
    """

    code: str
    name: str
    active: bool = True
    members: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The comparison key of :attr:`code`."""
        return unit_key(self.code)


@dataclass(frozen=True, slots=True)
class SupplierMapping:
    """A remembered supplier -> unit assignment, used when a document names no unit.

    Attributes:
        supplier_key: the supplier's participant id key (``ParticipantID.key``, case-folded).
        unit_code: the unit key the supplier's documents go to.
        set_by: who triaged the supplier.
        set_at: when.
        expires_at: after this time the mapping is ignored (a supplier may start serving other units).
    """

    supplier_key: str
    unit_code: str
    set_by: str
    set_at: datetime
    expires_at: datetime

    def valid_at(self, at: datetime) -> bool:
        """True while the mapping has not expired."""
        return at < self.expires_at
