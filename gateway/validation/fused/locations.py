"""The SVRL location of a finding in time independent of its element's number of siblings.

The skeleton's location mode (``schematron-get-full-path``) writes, for each ancestor-or-self element,
its index among its same-named siblings: ``1 + count(preceding-sibling::*[local-name()=...
and namespace-uri()=...])``. That count walks every preceding sibling, so a document of n same-named
siblings that each fail an assert (4,000 empty ``cbc:Note``, a 20,000-line invoice with an error per
line) costs n² / 2 sibling visits: 46 s of validation for 8,000 empty notes (BENCHMARKS.md,
*Validation, locations of many findings*).

``linear_locations`` rewrites that one ``xsl:variable`` of the copied template (only when it is
exactly the skeleton's expression, else the template is left as it is) into a call of ``FUNCTION``,
which returns the same number: the same count when the element has fewer than 32 preceding siblings
of any name (at most 31 visited, the cost of ordinary documents unchanged); else the number the
accumulator ``ACCUMULATOR`` holds at the element. The accumulator keeps, during one walk of the
document made the first time it is read, a stack (nested maps) of per-parent counts of the children
seen by expanded name (``{namespace}local``: a local name holds no ``}``, so two names never share a
key), each update a persistent map's ``put``: the whole document's positions in O(n log n), once.

The accumulator applies to the transformed document only (the unnamed mode's ``use-accumulators``);
an element in any other tree (none of the skeleton's findings is) keeps the count.
"""

from __future__ import annotations

from lxml import etree

from gateway.validation.fused.findings import PREFIX
from gateway.validation.fused.skeleton import xsl

FUNCTION = f"{PREFIX}:same-named-before"
ACCUMULATOR = f"{PREFIX}:same-named-siblings"
_MODE = "schematron-get-full-path"
#: The skeleton's count of the context element's same-named preceding siblings, whitespace normalised.
_COUNT = (
    "count(preceding-sibling::*[local-name()=local-name(current()) "
    "and namespace-uri() = namespace-uri(current())])"
)
#: Below this many preceding siblings (of any name) the count itself is cheaper than the accumulator.
_FEW = 32
_PUT = "Q{http://www.w3.org/2005/xpath-functions/map}put"


def _name(node: str) -> str:
    return f"concat('{{', namespace-uri({node}), '}}', local-name({node}))"


def linear_locations(stylesheet: etree._Element) -> int:
    """Rewrite the location count of ``stylesheet`` (a fused stylesheet: the ``xs`` and findings
    prefixes bound) and add ``FUNCTION`` and ``ACCUMULATOR``; return how many counts were rewritten
    (0: the stylesheet is left unchanged)."""
    rewritten = 0
    for template in stylesheet.iterchildren(xsl("template")):
        if template.get("mode") != _MODE or template.get("match") != "*":
            continue
        for variable in template.iterchildren(xsl("variable")):
            if variable.get("name") == "preceding" and " ".join(variable.get("select", "").split()) == _COUNT:
                variable.set("select", f"{FUNCTION}(.)")
                rewritten += 1
    if rewritten:
        stylesheet.extend(_declarations())
    return rewritten


def _declarations() -> list[etree._Element]:
    mode = etree.Element(xsl("mode"))
    mode.set("use-accumulators", ACCUMULATOR)
    accumulator = etree.Element(xsl("accumulator"), name=ACCUMULATOR)
    accumulator.set("as", "map(*)")
    accumulator.set("initial-value", "map{'top': map{}}")
    start = etree.SubElement(accumulator, xsl("accumulator-rule"), match="*", phase="start")
    start.set(
        "select",
        f"let $name := {_name('')}, $top := $value('top') return map{{'top': map{{}}, "
        f"'rest': map{{'top': {_PUT}($top, $name, ($top($name), 0)[1] + 1), 'rest': $value('rest')}}}}",
    )
    etree.SubElement(accumulator, xsl("accumulator-rule"), match="*", phase="end", select="$value('rest')")
    function = etree.Element(xsl("function"), name=FUNCTION)
    function.set("as", "xs:integer")
    etree.SubElement(function, xsl("param"), name="e").set("as", "element()")
    same = "local-name() = local-name($e) and namespace-uri() = namespace-uri($e)"
    count = f"count($e/preceding-sibling::*[{same}])"
    counted = f"$e/accumulator-before('{ACCUMULATOR}')('rest')('top')({_name('$e')}) - 1"
    etree.SubElement(
        function,
        xsl("sequence"),
        select=f"if (empty($e/preceding-sibling::*[{_FEW}]) or not(root($e) instance of document-node())) "
        f"then {count} else {counted}",
    )
    return [mode, accumulator, function]
