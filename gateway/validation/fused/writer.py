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
``implications``: ``(A and C) or not(A)`` with A evaluated once). Each finding is then written by a
call of one shared function (``findings``: the same finding element, a smaller compiled stylesheet).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from gateway.validation.compact import FINDING_XPATH
from gateway.validation.compact import MARKER as COMPACT_MARKER
from gateway.validation.fused.absent import ASSERT_ATTRIBUTE, FIRED, MARKER, ForbiddenPaths, fired_marker
from gateway.validation.fused.absent import MODE as ABSENT_MODE
from gateway.validation.fused.codes import MAP_NAMESPACE, CodeLists, TokenSets
from gateway.validation.fused.dispatch import Targets, any_element_guard, targets_of
from gateway.validation.fused.findings import NAMESPACE as FINDINGS_NAMESPACE
from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.findings import declarations as finding_functions
from gateway.validation.fused.findings import pin_expand_text, share_findings
from gateway.validation.fused.guards import guard_absent_runs
from gateway.validation.fused.implications import rewrite_implication
from gateway.validation.fused.patterns import without_root_descent
from gateway.validation.fused.presence import AttributeIndex
from gateway.validation.fused.skeleton import SVRL, XSL, Pattern, Skeleton, SkeletonError, svrl, xsl
from gateway.validation.fused.unions import exact_branches

#: Attribute carrying a finding's pattern position until the final sort (not part of the output).
ORDER_ATTRIBUTE = "fused-pattern"
XS = "http://www.w3.org/2001/XMLSchema"
WALK_MODE = "fused-walk"


def _sub(parent: etree._Element, local: str, **attributes: str) -> etree._Element:
    node = etree.SubElement(parent, xsl(local))
    for key, value in attributes.items():
        node.set(key.rstrip("_").replace("_", "-"), value)
    return node


def _apply(parent: etree._Element, modes: list[str], guards: Mapping[str, str] | None = None) -> None:
    """Apply each pattern's mode to the context node; a mode with a guard (``any_element_guard``)
    only where its guard is true."""
    for mode in modes:
        guard = (guards or {}).get(mode)
        _sub(_sub(parent, "if", test=guard) if guard else parent, "apply-templates", select=".", mode=mode)


class _Prefixes:
    """Prefixes for the element names the walk templates match, declared on the stylesheet root."""

    def __init__(self, namespaces: Mapping[str | None, str]) -> None:
        self._by_uri = {uri: prefix for prefix, uri in namespaces.items() if prefix}
        self.declared: dict[str, str] = {}

    def qname(self, namespace: str, local: str) -> str:
        if not namespace:
            return local
        prefix = self._by_uri.get(namespace)
        if prefix is None:
            prefix = f"fused{len(self.declared)}"
            self._by_uri[namespace] = prefix
            self.declared[prefix] = namespace
        return f"{prefix}:{local}"


def _pattern_targets(pattern: Pattern, skeleton: Skeleton) -> Targets:
    namespaces = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
    return targets_of([rule.match for rule in pattern.rules], namespaces)


@dataclass(frozen=True, slots=True)
class _Rewrites:
    """The exact test rewrites applied to every assert, and the global variables they need."""

    codes: CodeLists
    sets: TokenSets
    attributes: AttributeIndex

    def apply(self, test: str) -> str:
        return rewrite_implication(self.attributes.rewrite(self.sets.rewrite(self.codes.rewrite(test))))

    def declarations(self) -> list[etree._Element]:
        return [
            *self.codes.declarations(),
            *self.sets.declarations(),
            *self.attributes.declarations(),
        ]


def _rule_template(
    parent: etree._Element,
    pattern: Pattern,
    position: int,
    rewrites: _Rewrites,
    forbidden: ForbiddenPaths,
    document_rules: bool,
    namespaces: Mapping[str, str],
    split_modes: set[str],
) -> None:
    for number, rule in enumerate(pattern.rules):
        match = without_root_descent(rule.match)
        branches = exact_branches(match, namespaces)
        if branches is None:
            template = _sub(parent, "template", match=match, mode=pattern.mode, priority=rule.priority)
        else:  # one template per branch, all calling the rule's body (``unions``)
            name = f"{FINDINGS_PREFIX}:rule-{pattern.mode}-{number}"
            template = _sub(parent, "template", name=name)
            for branch in branches:
                call = _sub(parent, "template", match=branch, mode=pattern.mode, priority=rule.priority)
                _sub(call, "call-template", name=name)
            split_modes.add(pattern.mode)
        kept, fired = forbidden.take(rule, position, document_rules)
        body = [] if fired is None else [fired_marker(fired)]
        for index, node in kept:
            copied = copy.deepcopy(node)
            copied.tail = None
            pin_expand_text(node, copied)
            for finding in copied.iter(svrl("failed-assert"), svrl("successful-report")):
                finding.set(ORDER_ATTRIBUTE, str(position))
                if fired is not None:
                    finding.set(ASSERT_ATTRIBUTE, str(index))
            for test in copied.iter(xsl("when"), xsl("if")):
                test.set("test", rewrites.apply(test.get("test", "")))
            body.append(copied)
        template.extend(guard_absent_runs(body))
    # A node no rule of the pattern matches: nothing (the walk, not the pattern, goes deeper). The
    # document node is listed too, or the built-in rule would apply the pattern to the root element.
    _sub(parent, "template", match="/|@*|node()", mode=pattern.mode, priority="-2")


def _suffix_test(suffixes: set[str]) -> str:
    return " or ".join(f"ends-with(local-name(), '{suffix}')" for suffix in sorted(suffixes))


def _walk_templates(
    parent: etree._Element, skeleton: Skeleton, prefixes: _Prefixes, forbidden: ForbiddenPaths
) -> None:
    targets = [_pattern_targets(pattern, skeleton) for pattern in skeleton.patterns]
    modes = [pattern.mode for pattern in skeleton.patterns]
    guards = {
        pattern.mode: guard
        for pattern in skeleton.patterns
        if (guard := any_element_guard([rule.match for rule in pattern.rules])) is not None
    }
    if forbidden.asserts:  # the elements of the moved asserts' paths: their markers
        targets.append(targets_of(forbidden.matches(), forbidden.namespaces))
        modes.append(ABSENT_MODE)

    def walk(match: str, applies: list[str], priority: str, descend: bool = True) -> etree._Element:
        template = _sub(parent, "template", match=match, mode=WALK_MODE, priority=priority)
        _apply(template, applies, guards)
        if descend:
            _sub(template, "apply-templates", select="@*|*", mode=WALK_MODE)
        return template

    walk("/", [m for m, t in zip(modes, targets, strict=True) if t.document], "2")
    names = sorted({name for t in targets for name in t.names})
    for namespace, local in names:
        element = prefixes.qname(namespace, local)
        wanted: dict[str, set[tuple[str, str]] | None] = {}  # mode -> parents required (None: any)
        for mode, target in zip(modes, targets, strict=True):
            if target.any_element:
                wanted[mode] = None
            elif target.matches_name(namespace, local):
                wanted[mode] = target.parents_of(namespace, local)
        anywhere = [m for m, parents in wanted.items() if parents is None]
        aboves = sorted({p for parents in wanted.values() for p in parents or ()})
        if not aboves:
            walk(element, anywhere, "1")
            continue
        # Under a parent some pattern requires: that pattern too, chosen by the parent in the name's
        # one template (a template per parent costs Saxon ≈ 9 KB each; a union of parents in one
        # match is no longer indexed by name, four times slower).
        template = walk(element, [], "1", descend=False)
        choose = _sub(template, "choose")
        by_applies: dict[tuple[str, ...], list[str]] = {}
        for above in aboves:
            applies = tuple(m for m, parents in wanted.items() if parents is None or above in parents)
            by_applies.setdefault(applies, []).append(f"parent::{prefixes.qname(*above)}")
        for applies, tests in by_applies.items():
            _apply(_sub(choose, "when", test=" or ".join(tests)), list(applies), guards)
        _apply(_sub(choose, "otherwise"), anywhere, guards)
        _sub(template, "apply-templates", select="@*|*", mode=WALK_MODE)
    # Any other element: the patterns that can match any element, and (tested by local name) those
    # whose rules match elements by a suffix of their local name; in pattern order.
    fallback = walk("*", [], "0", descend=False)
    for mode, target in zip(modes, targets, strict=True):
        if target.any_element:
            _apply(fallback, [mode], guards)
        elif target.suffixes:
            _apply(_sub(fallback, "if", test=_suffix_test(target.suffixes)), [mode])
    _sub(fallback, "apply-templates", select="@*|*", mode=WALK_MODE)
    walk("@*", [m for m, t in zip(modes, targets, strict=True) if t.attributes], "0", descend=False)


def _root_template(parent: etree._Element, forbidden: ForbiddenPaths) -> None:
    """The entry template: the walk's findings sorted into the official order, written as a compact
    report (``gateway.validation.compact``) instead of SVRL."""
    template = _sub(parent, "template", match="/")
    _sub(template, "text").text = COMPACT_MARKER
    findings = _sub(template, "variable", name="fused-findings", as_="element()*")
    _sub(findings, "apply-templates", select=".", mode=WALK_MODE)
    if not forbidden.asserts:
        each = _sub(template, "for-each", select="$fused-findings")
        _sub(each, "sort", select=f"number(@{ORDER_ATTRIBUTE})", data_type="number")
        _sub(each, "value-of", select=FINDING_XPATH)
        return
    moved = forbidden.marked(template, "fused-findings")
    each = _sub(
        template, "for-each", select=f"$fused-findings[not(self::{MARKER} or self::{FIRED})], ${moved}"
    )
    _sub(each, "sort", select=f"number(@{ORDER_ATTRIBUTE})", data_type="number")
    # Within a pattern: a root rule's findings in assert order, then the others in walk order.
    _sub(
        each,
        "sort",
        select=f"if (@{ASSERT_ATTRIBUTE}) then number(@{ASSERT_ATTRIBUTE}) else 1e9",
        data_type="number",
    )
    _sub(each, "value-of", select=FINDING_XPATH)


def write_fused(skeleton: Skeleton) -> bytes:
    """The fused stylesheet of ``skeleton`` (XSLT text, UTF-8)."""
    prefixes = _Prefixes(skeleton.root.nsmap)
    body = etree.Element(xsl("stylesheet"))  # templates first; the root is rebuilt with all prefixes
    rewrites = _Rewrites(CodeLists(), TokenSets.of(skeleton.declarations), AttributeIndex())
    forbidden = ForbiddenPaths(
        {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix},
        default_namespace=skeleton.root.get("xpath-default-namespace") is not None,
    )
    rules = etree.Element(xsl("stylesheet"))
    namespaces = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
    split_modes: set[str] = set()
    for position, pattern in enumerate(skeleton.patterns):
        document_rules = _pattern_targets(pattern, skeleton).document
        _rule_template(rules, pattern, position, rewrites, forbidden, document_rules, namespaces, split_modes)
    forbidden.templates(rules, ORDER_ATTRIBUTE)
    _root_template(body, forbidden)
    _walk_templates(body, skeleton, prefixes, forbidden)
    body.extend(list(rules))
    nsmap = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
    nsmap.update(prefixes.declared)
    nsmap.setdefault("map", MAP_NAMESPACE)
    nsmap.setdefault("svrl", SVRL)
    nsmap.setdefault("xsl", XSL)
    nsmap.setdefault("xs", XS)
    if nsmap.setdefault(FINDINGS_PREFIX, FINDINGS_NAMESPACE) != FINDINGS_NAMESPACE:
        raise SkeletonError(f"the stylesheet binds the prefix {FINDINGS_PREFIX!r} the fused one needs")
    root = etree.Element(xsl("stylesheet"), nsmap=nsmap)
    for key, value in skeleton.root.attrib.items():
        root.set(key, value)
    _sub(root, "output", method="text")
    for mode in sorted(split_modes):  # two branches of one split union may match a node: same body
        _sub(root, "mode", name=mode, on_multiple_match="use-last", warning_on_multiple_match="no")
    for node in (*skeleton.declarations, *skeleton.location_templates):
        root.append(copy.deepcopy(node))
    root.extend(rewrites.declarations())
    for node in list(body):
        root.append(node)
    share_findings(root, ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE)
    root.extend(finding_functions(ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE))  # the moved asserts may call them
    excluded = root.get("exclude-result-prefixes", "")
    root.set("exclude-result-prefixes", f"{excluded} {FINDINGS_PREFIX}".strip())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
