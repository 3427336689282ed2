"""Step 3 of ISO Schematron compilation: emit the XSLT 3.0 stylesheet that writes SVRL.

Layout (the ISO skeleton's, bis-billing.md §3): each pattern is a mode; each rule a template with a
priority that descends in document order, so that within a pattern only the first matching rule
fires for a node while every pattern sees every node; templates recurse on ``@*|*``. Unlike the
skeleton, each rule's lets and asserts run inside ``xsl:try``: an XPath dynamic error in one rule
becomes a ``GATEWAY-RULE-ERROR`` failed-assert instead of aborting the whole transform.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

from lxml import etree

from gateway.errors import SchematronError
from gateway.validation.schematron.namespaces import ERR_NS, GW_NS, SVRL_NS, XS_NS, XSL_NS, sch, svrl, xsl
from gateway.validation.schematron.svrl import RULE_ERROR_ID
from gateway.xmlcore import string_value

#: Prefixes the generated stylesheet binds for itself; a schema may not rebind them.
_OWN_PREFIXES = {"xsl": XSL_NS, "svrl": SVRL_NS, "gwerr": ERR_NS, "gwsch": GW_NS}

#: Priority of a pattern's first rule; later rules count down (ISO skeleton convention).
BASE_PRIORITY = 1000

# The SVRL location of a node, in the ISO skeleton's "schematron-select-full-path" style:
# /*:Invoice[namespace-uri()='urn:...'][1]/*:AccountingSupplierParty[namespace-uri()='...'][1]/@schemeID
_LOCATION_FUNCTION = f"""
<xsl:function xmlns:xsl="{XSL_NS}" xmlns:xs="{XS_NS}" xmlns:gwsch="{GW_NS}"
              name="gwsch:location" as="xs:string">
  <xsl:param name="node" as="node()"/>
  <xsl:sequence select="if ($node instance of document-node()) then '/' else string-join((
      for $e in $node/ancestor-or-self::* return concat('/',
        if (namespace-uri($e) = '') then name($e)
        else concat('*:', local-name($e), '[namespace-uri()=''', namespace-uri($e), ''']'),
        '[', 1 + gwsch:same-named-before($e), ']'),
      if ($node instance of attribute()) then (
        if (namespace-uri($node) = '') then concat('/@', name($node))
        else concat('/@*[local-name()=''', local-name($node), ''' and namespace-uri()=''',
                    namespace-uri($node), ''']'))
      else ()), '')"/>
</xsl:function>
"""


# The number of the element's preceding siblings of its name: counted below 32 preceding siblings of
# any name; else read from an accumulator that keeps, in one walk of the document made when first
# read, a stack (nested maps) of per-parent counts by ``{namespace}local`` name. Counting alone costs
# n^2/2 sibling visits for findings on n same-named siblings (BENCHMARKS.md, *Validation, locations of
# many findings*). The accumulator applies to the transformed document only (the unnamed mode).
_SAME_NAMED = f"""
<xsl:function xmlns:xsl="{XSL_NS}" xmlns:xs="{XS_NS}" xmlns:gwsch="{GW_NS}"
              name="gwsch:same-named-before" as="xs:integer">
  <xsl:param name="e" as="element()"/>
  <xsl:sequence select="if (empty($e/preceding-sibling::*[32]) or not(root($e) instance of document-node()))
    then count($e/preceding-sibling::*[local-name() = local-name($e) and namespace-uri() = namespace-uri($e)])
    else $e/accumulator-before('gwsch:same-named-siblings')('rest')('top')(
      concat('{{', namespace-uri($e), '}}', local-name($e))) - 1"/>
</xsl:function>
"""
_SAME_NAMED_SIBLINGS = f"""
<xsl:accumulator xmlns:xsl="{XSL_NS}" name="gwsch:same-named-siblings" xmlns:gwsch="{GW_NS}"
                 as="map(*)" initial-value="map{{'top': map{{}}}}">
  <xsl:accumulator-rule match="*" phase="start" select="
    let $name := concat('{{', namespace-uri(), '}}', local-name()), $top := $value('top')
    return map{{'top': map{{}}, 'rest': map{{
      'top': Q{{http://www.w3.org/2005/xpath-functions/map}}put($top, $name, ($top($name), 0)[1] + 1),
      'rest': $value('rest')}}}}"/>
  <xsl:accumulator-rule match="*" phase="end" select="$value('rest')"/>
</xsl:accumulator>
"""
_MODE = f"""
<xsl:mode xmlns:xsl="{XSL_NS}" xmlns:gwsch="{GW_NS}" use-accumulators="gwsch:same-named-siblings"/>
"""


def _avt(value: str) -> str:
    """Escape a literal value for an attribute value template (regex ``{3,}`` in a test)."""
    return value.replace("{", "{{").replace("}", "}}")


def _sub(parent: etree._Element, tag: str, **attrib: str) -> etree._Element:
    return etree.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrib.items()})


def _text(parent: etree._Element, value: str) -> None:
    if value:
        _sub(parent, xsl("text")).text = value


def _emit_message(out: etree._Element, source: etree._Element) -> None:
    """Write the text of an assert/report/diagnostic: text, ``value-of``, ``name``, inline markup."""
    _text(out, source.text or "")
    for child in source:
        if child.tag == sch("value-of"):
            select = child.get("select")
            if select is None:
                raise SchematronError("sch:value-of without @select")
            _sub(out, xsl("value-of"), select=select)
        elif child.tag == sch("name"):
            path = child.get("path")
            _sub(out, xsl("value-of"), select=f"name({path})" if path else "name(.)")
        elif isinstance(child.tag, str):  # emph, dir, span, foreign markup: keep the words
            _emit_message(out, child)
        _text(out, child.tail or "")


def _emit_let(parent: etree._Element, let: etree._Element) -> None:
    """``sch:let`` -> ``xsl:variable`` (value attribute, or element content, ISO 2016)."""
    name = let.get("name")
    if not name:
        raise SchematronError("sch:let without @name")
    variable = _sub(parent, xsl("variable"), name=name)
    if let.get("as"):
        variable.set("as", let.get("as", ""))
    value = let.get("value")
    if value is not None:
        variable.set("select", value)
        return
    variable.text = let.text
    for child in let:
        variable.append(copy.deepcopy(child))


def _emit_check(
    parent: etree._Element,
    check: etree._Element,
    *,
    rule: etree._Element,
    diagnostics: Mapping[str, etree._Element],
) -> None:
    """One assert (fires when false) or report (fires when true) -> SVRL failed-assert / successful-report."""
    test = (check.get("test") or "").strip()
    if not test:
        raise SchematronError(f"sch:{etree.QName(check).localname} without @test", where=check.get("id", ""))
    if check.tag == sch("assert"):
        choose = _sub(parent, xsl("choose"))
        _sub(choose, xsl("when"), test=test)
        body = _sub(choose, xsl("otherwise"))
        result = _sub(body, svrl("failed-assert"), test=_avt(test))
    else:
        body = _sub(parent, xsl("if"), test=test)
        result = _sub(body, svrl("successful-report"), test=_avt(test))
    if check.get("id") is not None:
        result.set("id", _avt(check.get("id", "")))
    # An assert without @flag takes its rule's flag (ISO/IEC 19757-3: the rule's flag applies to
    # its assertions); no official CEN/Peppol assert relies on this, they all carry one.
    flag = check.get("flag") if check.get("flag") is not None else rule.get("flag")
    if flag is not None:
        result.set("flag", _avt(flag))
    for name in ("role", "see", "icon", "fpi"):
        if check.get(name) is not None:
            result.set(name, _avt(check.get(name, "")))
    _sub(result, xsl("attribute"), name="location", select="gwsch:location(.)")
    for diagnostic_id in (check.get("diagnostics") or "").split():
        diagnostic = diagnostics.get(diagnostic_id)
        if diagnostic is None:
            raise SchematronError(f"unknown diagnostic {diagnostic_id!r}", where=check.get("id", ""))
        reference = _sub(result, svrl("diagnostic-reference"), diagnostic=_avt(diagnostic_id))
        _emit_message(reference, diagnostic)
    _emit_message(_sub(result, svrl("text")), check)


def _emit_rule_error(catch: etree._Element, *, context: str, rule_ids: list[str]) -> None:
    """The ``xsl:catch`` body: one fatal failed-assert naming the rule's ids and the XPath error."""
    error = _sub(catch, svrl("failed-assert"), test=_avt(context), id=RULE_ERROR_ID, flag="fatal")
    _sub(error, xsl("attribute"), name="location", select="gwsch:location(.)")
    text = _sub(error, svrl("text"))
    names = ", ".join(rule_ids) or "(rule without ids)"
    _text(text, f"[{RULE_ERROR_ID}]-XPath error in the rule of {names} (context {context}): ")
    _sub(text, xsl("value-of"), select="string(($gwerr:code, 'unknown')[1])")
    _text(text, " ")
    _sub(text, xsl("value-of"), select="string($gwerr:description)")


def _emit_rule(
    root: etree._Element,
    rule: etree._Element,
    *,
    mode: str,
    priority: int,
    diagnostics: Mapping[str, etree._Element],
) -> None:
    context = (rule.get("context") or "").strip()
    if not context:
        raise SchematronError("sch:rule without @context", where=rule.get("id", ""))
    template = _sub(root, xsl("template"), match=context, mode=mode, priority=str(priority))
    fired = _sub(template, svrl("fired-rule"), context=_avt(context))
    for name in ("id", "role", "flag"):
        if rule.get(name) is not None:
            fired.set(name, _avt(rule.get(name, "")))
    attempt = _sub(template, xsl("try"))
    rule_ids: list[str] = [rule.get("id", "")] if rule.get("id") else []
    for child in rule:
        if child.tag == sch("let"):
            _emit_let(attempt, child)
        elif child.tag in (sch("assert"), sch("report")):
            _emit_check(attempt, child, rule=rule, diagnostics=diagnostics)
            if child.get("id"):
                rule_ids.append(child.get("id", ""))
        elif child.tag == sch("extends"):
            raise SchematronError("unresolved sch:extends", where=context)
    _emit_rule_error(_sub(attempt, xsl("catch")), context=context, rule_ids=rule_ids)
    # Outside the try: a rule error must not hide the nodes below from this pattern.
    _sub(template, xsl("apply-templates"), select="@*|*", mode=mode)


def _emit_mode_defaults(root: etree._Element, mode: str) -> None:
    _sub(root, xsl("template"), match="text()", mode=mode, priority="-1")
    fallback = _sub(root, xsl("template"), match="@*|node()", mode=mode, priority="-2")
    _sub(fallback, xsl("apply-templates"), select="@*|*", mode=mode)


def _namespaces(schema: etree._Element) -> dict[str, str]:
    """Prefixes for the stylesheet: the schema's in-scope ones (for embedded functions), then sch:ns."""
    nsmap: dict[str, str] = {p: u for p, u in schema.nsmap.items() if p and p not in _OWN_PREFIXES}
    for ns in schema.iterchildren(sch("ns")):
        prefix, uri = ns.get("prefix"), ns.get("uri")
        if not prefix or uri is None:
            raise SchematronError("sch:ns needs @prefix and @uri")
        if prefix in _OWN_PREFIXES and _OWN_PREFIXES[prefix] != uri:
            raise SchematronError(f"prefix {prefix!r} is reserved by the compiler")
        nsmap[prefix] = uri
    nsmap.setdefault("xs", XS_NS)
    return {**nsmap, **_OWN_PREFIXES}


def build_stylesheet(
    schema: etree._Element, *, patterns: Iterable[etree._Element], lets: Iterable[etree._Element]
) -> etree._Element:
    """Build the SVRL-producing XSLT 3.0 stylesheet of an include- and abstract-free schema.

    Args:
        schema: the ``sch:schema`` element (for ``ns``, ``title``, ``xsl:*`` and ``diagnostics``).
        patterns: the patterns to run, in document order.
        lets: the lets that become global variables (schema, phase and pattern level).

    Returns:
        The ``xsl:stylesheet`` element.

    Raises:
        SchematronError: a construct is missing a required attribute or is not supported.
    """
    nsmap = _namespaces(schema)
    root = etree.Element(xsl("stylesheet"), nsmap=nsmap)
    root.set("version", "3.0")
    root.set("exclude-result-prefixes", "#all")
    _sub(root, xsl("output"), method="xml", indent="no", encoding="UTF-8")
    for declaration in (_LOCATION_FUNCTION, _SAME_NAMED, _SAME_NAMED_SIBLINGS, _MODE):
        root.append(etree.fromstring(declaration))
    for child in schema:
        # Embedded XSLT (Peppol's u:gln, u:mod97-0208 ...; xsl:key) is copied through unchanged.
        if isinstance(child.tag, str) and etree.QName(child).namespace == XSL_NS:
            if etree.QName(child).localname in ("import", "include", "import-schema"):
                raise SchematronError(f"xsl:{etree.QName(child).localname} in a schema is not supported")
            root.append(copy.deepcopy(child))
    for let in lets:
        _emit_let(root, let)
    diagnostics = {d.get("id", ""): d for d in schema.iter(sch("diagnostic"))}

    main = _sub(root, xsl("template"), match="/")
    title = schema.find(sch("title"))
    output = _sub(main, svrl("schematron-output"))
    if title is not None:
        output.set("title", _avt(string_value(title)))
    if schema.get("schemaVersion") is not None:
        output.set("schemaVersion", _avt(schema.get("schemaVersion", "")))
    for ns in schema.iterchildren(sch("ns")):
        _sub(
            output,
            svrl("ns-prefix-in-attribute-values"),
            prefix=_avt(ns.get("prefix", "")),
            uri=_avt(ns.get("uri", "")),
        )
    for number, pattern in enumerate(patterns, start=1):
        mode = f"gwsch:p{number}"
        active = _sub(output, svrl("active-pattern"))
        for name in ("id", "name", "role"):
            value = pattern.get(name) or (pattern.get("id") if name == "name" else None)
            if value is not None:
                active.set(name, _avt(value))
        _sub(output, xsl("apply-templates"), select="/", mode=mode)
        rules = [r for r in pattern.iterchildren(sch("rule"))]
        for index, rule in enumerate(rules):
            _emit_rule(
                root, rule, mode=mode, priority=BASE_PRIORITY + len(rules) - index, diagnostics=diagnostics
            )
        _emit_mode_defaults(root, mode)
    return root
