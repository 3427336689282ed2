"""The validation port of the receive recipe."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.validation import ValidationReport


class DocumentValidator(Protocol):
    """What the recipe needs from ``gateway.validation.ValidationEngine``."""

    def validate(self, xml: bytes, *, rule_set: str | None = None) -> ValidationReport:
        """Validate one UBL document under ``rule_set``."""
        ...
