"""A layer's compact report (``gateway.validation.compact``): its marker, then the walk's findings of
the layer sorted into the official order, instead of SVRL."""

from __future__ import annotations

from lxml import etree

from gateway.validation.compact import FINDING_XPATH
from gateway.validation.compact import MARKER as COMPACT_MARKER
from gateway.validation.fused.absent import ASSERT_ATTRIBUTE, FIRED, MARKER, ForbiddenPaths
from gateway.validation.fused.rules import ORDER_ATTRIBUTE
from gateway.validation.fused.xslt import sub


def write_report(
    parent: etree._Element, forbidden: ForbiddenPaths, variable: str, keep: str | None = None
) -> None:
    """The compact report of one layer: its marker, then its findings in the official order: those of
    ``variable`` (the walk's finding elements and markers), or only those ``keep`` (a predicate) holds
    for."""
    sub(parent, "text").text = COMPACT_MARKER
    if keep is not None:
        sub(parent, "variable", name="fused-layer-findings", select=f"${variable}[{keep}]")
        variable = "fused-layer-findings"
    if not forbidden.asserts:
        each = sub(parent, "for-each", select=f"${variable}")
        sub(each, "sort", select=f"number(@{ORDER_ATTRIBUTE})", data_type="number")
        sub(each, "value-of", select=FINDING_XPATH)
        return
    moved = forbidden.marked(parent, variable)
    each = sub(parent, "for-each", select=f"${variable}[not(self::{MARKER} or self::{FIRED})], ${moved}")
    sub(each, "sort", select=f"number(@{ORDER_ATTRIBUTE})", data_type="number")
    # Within a pattern: a root rule's findings in assert order, then the others in walk order.
    sub(
        each,
        "sort",
        select=f"if (@{ASSERT_ATTRIBUTE}) then number(@{ASSERT_ATTRIBUTE}) else 1e9",
        data_type="number",
    )
    sub(each, "value-of", select=FINDING_XPATH)
