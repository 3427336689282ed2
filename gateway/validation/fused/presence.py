"""Attribute-presence asserts read from one index of the document's attribute names.

The CEN syntax rules forbid UBL attributes the model does not use with asserts such as
``not(//@listName)``: 22 of them at the root, each a walk of the whole document. An assert that is
exactly ``not(//@NAME)`` (NAME without prefix) becomes a lookup in a map of the names of all
attributes of the document, built once per run on first use (``AttributeIndex``): the same answer,
one walk instead of 22.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from gateway.validation.fused.codes import MAP_NAMESPACE
from gateway.validation.fused.skeleton import xsl

_ABSENT_ATTRIBUTE = re.compile(r"^\s*not\(\s*//@([A-Za-z_][\w.\-]*)\s*\)\s*$")
VARIABLE = "fused-attribute-names"


@dataclass
class AttributeIndex:
    """Rewrites ``not(//@NAME)`` tests; declares the index when one was rewritten."""

    used: bool = False

    def rewrite(self, test: str) -> str:
        """``test`` as an index lookup when it is exactly ``not(//@NAME)``, else unchanged."""
        found = _ABSENT_ATTRIBUTE.match(test)
        if found is None:
            return test
        self.used = True
        return f"not(map:contains(${VARIABLE}, QName('', '{found.group(1)}')))"

    def declarations(self) -> list[etree._Element]:
        """The global index variable (the document's attribute names), if a test uses it."""
        if not self.used:
            return []
        node = etree.Element(xsl("variable"), nsmap={"map": MAP_NAMESPACE})
        node.set("name", VARIABLE)
        entries = "for $a in //@* return map:entry(node-name($a), true())"
        node.set("select", f"map:merge(({entries}), map{{'duplicates': 'use-first'}})")
        return [node]
