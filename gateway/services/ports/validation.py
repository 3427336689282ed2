"""The validation port of the receive recipe."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from lxml import etree

    from gateway.validation import ValidationReport
    from gateway.xmlcore.held import HeldDocument


class DocumentValidator(Protocol):
    """What the recipe needs from ``gateway.validation.ValidationEngine``."""

    def validate(
        self,
        xml: bytes | HeldDocument,
        *,
        rule_set: str | None = None,
        on_parsed: Callable[[etree._Element], object] | None = None,
    ) -> ValidationReport:
        """Validate one UBL document under ``rule_set``; ``on_parsed`` is called with the parsed tree
        (before any layer runs) so a caller reads facts of the document without parsing it again. It may
        not be called at all (a large document validated without a tree): the caller then reads the
        bytes itself. A ``HeldDocument`` whose bytes nobody else holds may be spilled to a temporary file
        while the document is validated (``ValidationEngine.validate``)."""
        ...
