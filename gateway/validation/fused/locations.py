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

from gateway.validation.fused.findings import NAMESPACE, PREFIX
from gateway.validation.fused.skeleton import xsl
from gateway.xmlcore import parse_xml

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
#: The names of the prefixed declarations, as EQNames (a stylesheet binding neither prefix).
_QUALIFIED = {
    FUNCTION: f"Q{{{NAMESPACE}}}same-named-before",
    ACCUMULATOR: f"Q{{{NAMESPACE}}}same-named-siblings",
    "xs:integer": "Q{http://www.w3.org/2001/XMLSchema}integer",
}


def _name(node: str) -> str:
    return f"concat('{{', namespace-uri({node}), '}}', local-name({node}))"


def linear_locations(stylesheet: etree._Element, *, qualified: bool = False) -> int:
    """Rewrite the location count of ``stylesheet`` (a fused stylesheet: the ``xs`` and findings
    prefixes bound; ``qualified``: any, the names written as EQNames) and add ``FUNCTION`` and
    ``ACCUMULATOR``; return how many counts were rewritten (0: the stylesheet is left unchanged)."""
    names = _QUALIFIED if qualified else {name: name for name in _QUALIFIED}
    if any(mode.get("name") is None for mode in stylesheet.iterchildren(xsl("mode"))):
        return 0  # the unnamed mode declared already: its accumulators are the stylesheet's own
    rewritten = 0
    for template in stylesheet.iterchildren(xsl("template")):
        if template.get("mode") != _MODE or template.get("match") != "*":
            continue
        for variable in template.iterchildren(xsl("variable")):
            if variable.get("name") == "preceding" and " ".join(variable.get("select", "").split()) == _COUNT:
                variable.set("select", f"{names[FUNCTION]}(.)")
                rewritten += 1
    if rewritten:
        stylesheet.extend(_declarations(names))
    return rewritten


def with_linear_locations(official: bytes) -> bytes:
    """An official compiled Schematron with ``linear_locations`` (EQNames: it binds none of the
    gateway's prefixes): the same findings and the same dynamic errors, in time linear in its findings
    on same-named siblings. The engine runs it for the error a fused layer stopped on, and as the layer
    of the documents it does not fuse (MLS, Invoice Response, reports)."""
    root = parse_xml(official, what="stylesheet")
    if not linear_locations(root, qualified=True):
        return official
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _declarations(names: dict[str, str]) -> list[etree._Element]:
    mode = etree.Element(xsl("mode"))
    mode.set("use-accumulators", names[ACCUMULATOR])
    accumulator = etree.Element(xsl("accumulator"), name=names[ACCUMULATOR])
    accumulator.set("as", "map(*)")
    accumulator.set("initial-value", "map{'top': map{}}")
    start = etree.SubElement(accumulator, xsl("accumulator-rule"), match="*", phase="start")
    start.set(
        "select",
        f"let $name := {_name('')}, $top := $value('top') return map{{'top': map{{}}, "
        f"'rest': map{{'top': {_PUT}($top, $name, ($top($name), 0)[1] + 1), 'rest': $value('rest')}}}}",
    )
    etree.SubElement(accumulator, xsl("accumulator-rule"), match="*", phase="end", select="$value('rest')")
    function = etree.Element(xsl("function"), name=names[FUNCTION])
    function.set("as", names["xs:integer"])
    etree.SubElement(function, xsl("param"), name="e").set("as", "element()")
    same = "local-name() = local-name($e) and namespace-uri() = namespace-uri($e)"
    count = f"count($e/preceding-sibling::*[{same}])"
    counted = f"$e/accumulator-before('{names[ACCUMULATOR]}')('rest')('top')({_name('$e')}) - 1"
    etree.SubElement(
        function,
        xsl("sequence"),
        select=f"if (empty($e/preceding-sibling::*[{_FEW}]) or not(root($e) instance of document-node())) "
        f"then {count} else {counted}",
    )
    return [mode, accumulator, function]
