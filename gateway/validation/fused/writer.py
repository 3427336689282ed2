"""Writing the fused stylesheet: every pattern of an official compiled Schematron in ONE tree walk.

The official skeleton walks the whole document once per pattern, plus once more per pattern in the
default mode (the empty walks of ``svrl:active-pattern``), and writes an ``svrl:fired-rule`` for every
rule that fires. The fused stylesheet instead:

* walks the tree once (mode ``fused-walk``: the document node, then ``@*|*`` recursively, the order
  the skeleton visits nodes in);
* at each node, applies only the patterns that have a rule able to match that node (by element name
  or local-name suffix, decided when the stylesheet is generated, see ``dispatch``; a pattern of one
  any-element rule ``*[P]`` with a safe P only where P holds), each in its own
  mode with the official rule templates (same match patterns, same priorities: Saxon still picks
  the first matching rule of each pattern; a union split into one template per branch where that is
  exact, see ``unions``), minus the per-pattern recursion and the fired-rule marker;
* tags every failed assert / successful report with its pattern's position and finally sorts the
  findings by it (a stable sort): the same findings, in the same order, as the official pattern-major
  walk;
* writes them as a compact report (output method text, ``gateway.validation.compact``: what the
  engine reads of SVRL, without serialising SVRL and parsing it again).

Asserts, lets, functions, params and the location modes are copied unchanged, so every rule id, flag,
text and SVRL location is the official one; assert tests are copied too, except for exact rewrites
that make them cheaper (``codes``: code lists as maps; ``presence``: ``not(//@name)`` from one index of
attribute names; ``guards``: runs of "shall not be used" asserts under existence tests;
``implications``: ``(A and C) or not(A)`` with A evaluated once; ``categories``: searches for a VAT
category code the document does not hold skipped). Each finding is then written by a
call of one shared function (``findings``: the same finding element, a smaller compiled stylesheet).

The parts: the pattern modes' rule templates (``rules``), the walk (``walk``), each layer's compact
report (``layer_report``); this module writes one layer's stylesheet, ``layers`` one stylesheet for
several layers (``combine``: their declarations kept once).
"""

from __future__ import annotations

import copy

from lxml import etree

from gateway.validation.fused.absent import ASSERT_ATTRIBUTE, ForbiddenPaths
from gateway.validation.fused.categories import CategorySearches
from gateway.validation.fused.code_dispatch import CodeDispatch
from gateway.validation.fused.codes import CodeLists, TokenSets
from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.findings import declarations as finding_functions
from gateway.validation.fused.findings import share_findings
from gateway.validation.fused.layer_report import write_report
from gateway.validation.fused.locations import linear_locations
from gateway.validation.fused.presence import AttributeIndex
from gateway.validation.fused.rules import ORDER_ATTRIBUTE, Rewrites, pattern_targets, rule_templates
from gateway.validation.fused.skeleton import Skeleton, xsl
from gateway.validation.fused.walk import WALK_MODE, Prefixes, walk_templates
from gateway.validation.fused.xslt import bind_fused_namespaces, sub


def _root_template(parent: etree._Element, forbidden: ForbiddenPaths) -> None:
    """The entry template: the walk's findings sorted into the official order, written as a compact
    report (``gateway.validation.compact``) instead of SVRL."""
    template = sub(parent, "template", match="/")
    findings = sub(template, "variable", name="fused-findings", as_="element()*")
    sub(findings, "apply-templates", select=".", mode=WALK_MODE)
    write_report(template, forbidden, "fused-findings")


def write_fused(skeleton: Skeleton) -> bytes:
    """The fused stylesheet of ``skeleton`` (XSLT text, UTF-8)."""
    prefixes = Prefixes(skeleton.root.nsmap)
    body = etree.Element(xsl("stylesheet"))  # templates first; the root is rebuilt with all prefixes
    rewrites = Rewrites(
        CodeLists(),
        TokenSets.of(skeleton.declarations),
        AttributeIndex(),
        CategorySearches({prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}),
    )
    forbidden = ForbiddenPaths(
        {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix},
        default_namespace=skeleton.root.get("xpath-default-namespace") is not None,
    )
    rules = etree.Element(xsl("stylesheet"))
    namespaces = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
    split_modes: set[str] = set()
    for position, pattern in enumerate(skeleton.patterns):
        document_rules = pattern_targets(pattern, skeleton).document
        rule_templates(rules, pattern, position, rewrites, forbidden, document_rules, namespaces, split_modes)
    forbidden.templates(rules, ORDER_ATTRIBUTE)
    dispatch = CodeDispatch()
    dispatch.rewrite(rules, namespaces)
    _root_template(body, forbidden)
    walk_templates(body, [(skeleton, forbidden)], prefixes)
    body.extend(list(rules))
    nsmap = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
    nsmap.update(prefixes.declared)
    bind_fused_namespaces(nsmap)
    root = etree.Element(xsl("stylesheet"), nsmap=nsmap)
    for key, value in skeleton.root.attrib.items():
        root.set(key, value)
    sub(root, "output", method="text")
    for mode in sorted(split_modes):  # two branches of one split union may match a node: same body
        sub(root, "mode", name=mode, on_multiple_match="use-last", warning_on_multiple_match="no")
    for node in (*skeleton.declarations, *skeleton.location_templates):
        root.append(copy.deepcopy(node))
    root.extend(rewrites.declarations())
    root.extend(dispatch.declarations())
    for node in list(body):
        root.append(node)
    share_findings(root, ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE)
    root.extend(finding_functions(ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE))  # the moved asserts may call them
    linear_locations(root)
    excluded = root.get("exclude-result-prefixes", "")
    root.set("exclude-result-prefixes", f"{excluded} {FINDINGS_PREFIX}".strip())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
