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

    def __init__(self, namespaces: Mapping[str | None, str] | Mapping[str, str]) -> None:
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


def _walk_modes(
    layers: list[tuple[Skeleton, ForbiddenPaths]],
) -> tuple[list[str], list[Targets], dict[str, str]]:
    """The modes the walk applies (each layer's patterns, then its markers' mode), in order, what
    each can match, and the guards of those applied only where a predicate holds."""
    targets: list[Targets] = []
    modes: list[str] = []
    guards: dict[str, str] = {}
    for skeleton, forbidden in layers:
        targets += [_pattern_targets(pattern, skeleton) for pattern in skeleton.patterns]
        modes += [pattern.mode for pattern in skeleton.patterns]
        guards.update(
            {
                pattern.mode: guard
                for pattern in skeleton.patterns
                if (guard := any_element_guard([rule.match for rule in pattern.rules])) is not None
            }
        )
        if forbidden.asserts:  # the elements of the moved asserts' paths: their markers
            targets.append(targets_of(forbidden.matches(), forbidden.namespaces))
            modes.append(ABSENT_MODE)
    return modes, targets, guards


#: Named template applying, to the context element, the patterns that can match any element (a stylesheet
#: of several layers: ``_walk_templates`` with ``hoist``).
ANY_ELEMENT_TEMPLATE = f"{FINDINGS_PREFIX}:any-element"


def _walk_templates(
    parent: etree._Element,
    layers: list[tuple[Skeleton, ForbiddenPaths]],
    prefixes: _Prefixes,
    *,
    hoist: bool = False,
) -> None:
    """The walk's templates: per element name the patterns that can match it (by parent if some
    require one), any other element, attributes, the document node.

    With ``hoist`` (a stylesheet of several layers, where one layer's any-element pattern, e.g.
    Peppol's "no empty element", would be copied into every template of another layer's names), an
    element's template calls one named template for the patterns that can match any element, applies
    those that match its name under any parent, and only then chooses by parent: the same applications
    in another order at each node, and the findings are sorted by pattern afterwards (a stable sort:
    within a pattern they keep the walk's order), so the same report, from a smaller stylesheet.
    """
    modes, targets, guards = _walk_modes(layers)
    universal = [m for m, t in zip(modes, targets, strict=True) if hoist and t.any_element]
    if universal:
        _apply(_sub(parent, "template", name=ANY_ELEMENT_TEMPLATE), universal, guards)

    def walk(match: str, applies: list[str], priority: str, descend: bool = True) -> etree._Element:
        template = _sub(parent, "template", match=match, mode=WALK_MODE, priority=priority)
        if universal and match not in ("/", "@*"):
            _sub(template, "call-template", name=ANY_ELEMENT_TEMPLATE)
            applies = [m for m in applies if m not in universal]
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
        template = walk(element, anywhere if hoist else [], "1", descend=False)
        choose = _sub(template, "choose")
        by_applies: dict[tuple[str, ...], list[str]] = {}
        for above in aboves:
            applies = tuple(
                m
                for m, parents in wanted.items()
                if (parents is None and not hoist) or (parents is not None and above in parents)
            )
            by_applies.setdefault(applies, []).append(f"parent::{prefixes.qname(*above)}")
        for applies, tests in by_applies.items():
            _apply(_sub(choose, "when", test=" or ".join(tests)), list(applies), guards)
        if not hoist:
            _apply(_sub(choose, "otherwise"), anywhere, guards)
        _sub(template, "apply-templates", select="@*|*", mode=WALK_MODE)
    # Any other element: the patterns that can match any element, and (tested by local name) those
    # whose rules match elements by a suffix of their local name; in pattern order.
    fallback = walk("*", [], "0", descend=False)
    for mode, target in zip(modes, targets, strict=True):
        if target.any_element:
            if not universal:
                _apply(fallback, [mode], guards)
        elif target.suffixes:
            _apply(_sub(fallback, "if", test=_suffix_test(target.suffixes)), [mode])
    _sub(fallback, "apply-templates", select="@*|*", mode=WALK_MODE)
    walk("@*", [m for m, t in zip(modes, targets, strict=True) if t.attributes], "0", descend=False)


def _root_template(parent: etree._Element, forbidden: ForbiddenPaths) -> None:
    """The entry template: the walk's findings sorted into the official order, written as a compact
    report (``gateway.validation.compact``) instead of SVRL."""
    template = _sub(parent, "template", match="/")
    findings = _sub(template, "variable", name="fused-findings", as_="element()*")
    _sub(findings, "apply-templates", select=".", mode=WALK_MODE)
    _write_report(template, forbidden, "fused-findings")


def _write_report(
    parent: etree._Element, forbidden: ForbiddenPaths, variable: str, keep: str | None = None
) -> None:
    """The compact report of one layer: its marker, then its findings in the official order: those of
    ``variable`` (the walk's finding elements and markers), or only those ``keep`` (a predicate) holds
    for."""
    _sub(parent, "text").text = COMPACT_MARKER
    if keep is not None:
        _sub(parent, "variable", name="fused-layer-findings", select=f"${variable}[{keep}]")
        variable = "fused-layer-findings"
    if not forbidden.asserts:
        each = _sub(parent, "for-each", select=f"${variable}")
        _sub(each, "sort", select=f"number(@{ORDER_ATTRIBUTE})", data_type="number")
        _sub(each, "value-of", select=FINDING_XPATH)
        return
    moved = forbidden.marked(parent, variable)
    each = _sub(parent, "for-each", select=f"${variable}[not(self::{MARKER} or self::{FIRED})], ${moved}")
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
    _walk_templates(body, [(skeleton, forbidden)], prefixes)
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


#: Global parameter of a stylesheet of several layers (``write_fused_layers``): empty, every layer in
#: one walk; a layer's name, that layer alone.
ONLY_PARAMETER = "fused-only"
#: Mode of the walk running one layer of several alone (every pattern of the layer at every node).
ONLY_MODE = "fused-only"


class CombineError(SkeletonError):
    """Stylesheets that cannot share one module (their layers are then run apart)."""


def _same(left: etree._Element, right: etree._Element) -> bool:
    """Whether two elements are the same XSLT (names, attributes, texts; whitespace-only text, which
    XSLT strips but in ``xsl:text``, aside), namespace declarations aside (the prefixes they use are
    bound alike: checked on the stylesheets)."""

    def text(node: etree._Element, value: str | None) -> str:
        return value or "" if (value or "").strip() or node.tag == xsl("text") else ""

    def shape(node: etree._Element) -> tuple[object, ...]:
        attributes = {str(key): str(value) for key, value in node.attrib.items()}
        return (node.tag, attributes, text(node, node.text), (node.tail or "").strip() and node.tail)

    if shape(left) != shape(right):
        return False
    return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))


def _shared_top_level(nodes: list[etree._Element], *, ours: bool = False) -> list[etree._Element]:
    """Top-level declarations and location templates of several stylesheets, each kept once: a name
    (or a template's mode, match, name and priority) declared twice must be declared alike; names of
    the gateway's own (``fused...``) are refused unless ``ours``.

    Raises:
        CombineError: two different declarations of one name.
    """
    kept: dict[tuple[str, ...], etree._Element] = {}
    for node in nodes:
        key = (str(node.tag), *(node.get(a, "") for a in ("name", "mode", "match", "priority")))
        if not any(key[1:]):
            raise CombineError(f"an unnamed top-level {node.tag}")
        if not ours and key[1].startswith(("fused", f"{FINDINGS_PREFIX}:")):
            raise CombineError(f"a declaration named like the gateway's own: {key[1]!r}")
        found = kept.setdefault(key, node)
        if found is not node and not _same(found, node):
            raise CombineError(f"two different declarations of {key[1:]!r}")
    return list(kept.values())


def _merged_namespaces(skeletons: list[Skeleton]) -> dict[str, str]:
    nsmap: dict[str, str] = {}
    for skeleton in skeletons:
        for prefix, uri in skeleton.root.nsmap.items():
            if prefix and nsmap.setdefault(prefix, uri) != uri:
                raise CombineError(f"the prefix {prefix!r} is bound to two namespaces")
    return nsmap


def _only_walks(parent: etree._Element, layers: list[tuple[Skeleton, ForbiddenPaths]]) -> list[str]:
    """One walk per layer that applies each of its modes at every node (no dispatch, no guard: a mode
    applied where none of its rules matches writes nothing, so the same findings, in the same order,
    as the dispatched walk, and the same first dynamic error); return their modes."""
    modes = []
    for number, layer in enumerate(layers):
        mode = f"{ONLY_MODE}-{number}"
        template = _sub(parent, "template", match="/|*|@*", mode=mode)
        _apply(template, _walk_modes([layer])[0])
        _sub(template, "apply-templates", select="@*|*", mode=mode)
        modes.append(mode)
    return modes


def write_fused_layers(skeletons: list[Skeleton], names: list[str]) -> bytes:
    """ONE stylesheet for several layers (``names``, in order): their patterns in one walk, then each
    layer's compact report (``gateway.validation.compact``: its marker and findings), in order.

    With the global parameter ``ONLY_PARAMETER`` set to a layer's name it runs and reports that layer
    alone (a walk of its own, ``_only_walks``), as its own fused stylesheet would: the engine runs a
    layer alone when the walk of all stopped on a dynamic error, which then stops only its own layer.

    Raises:
        CombineError: the stylesheets cannot share one module (a prefix bound to two namespaces, one
            name declared differently, pattern modes in common, forbidden paths in two layers).
        SkeletonError: a stylesheet the fused writer refuses.
    """
    if len(skeletons) != len(names) or len(set(names)) != len(names) or len(names) < 2:
        raise CombineError("two or more layers of distinct names")
    attributes = [
        {k: v for k, v in s.root.attrib.items() if k != "exclude-result-prefixes"} for s in skeletons
    ]
    if any(a != attributes[0] for a in attributes):
        raise CombineError("stylesheet attributes differ")
    nsmap = _merged_namespaces(skeletons)
    all_modes = [pattern.mode for skeleton in skeletons for pattern in skeleton.patterns]
    if len(set(all_modes)) != len(all_modes):
        raise CombineError("two layers use one pattern mode")
    prefixes = _Prefixes({prefix: uri for prefix, uri in nsmap.items() if prefix is not None})
    body = etree.Element(xsl("stylesheet"))
    rules = etree.Element(xsl("stylesheet"))
    codes = CodeLists()  # shared: its variables are numbered once for all layers
    split_modes: set[str] = set()
    layers: list[tuple[Skeleton, ForbiddenPaths]] = []
    declarations: list[etree._Element] = []
    own: list[etree._Element] = []  # the rewrites' global variables, but the shared code lists'
    keeps: list[str] = []
    offset = 0
    for skeleton in skeletons:
        rewrites = _Rewrites(codes, TokenSets.of(skeleton.declarations), AttributeIndex())
        namespaces = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
        forbidden = ForbiddenPaths(
            namespaces, default_namespace=skeleton.root.get("xpath-default-namespace") is not None
        )
        for position, pattern in enumerate(skeleton.patterns, start=offset):
            document_rules = _pattern_targets(pattern, skeleton).document
            _rule_template(
                rules, pattern, position, rewrites, forbidden, document_rules, namespaces, split_modes
            )
        forbidden.templates(rules, ORDER_ATTRIBUTE)
        layers.append((skeleton, forbidden))
        declarations += [*skeleton.declarations, *skeleton.location_templates]
        own += [*rewrites.sets.declarations(), *rewrites.attributes.declarations()]
        end = offset + len(skeleton.patterns)
        keep = f"number(@{ORDER_ATTRIBUTE}) ge {offset} and number(@{ORDER_ATTRIBUTE}) lt {end}"
        keeps.append(f"not(@{ORDER_ATTRIBUTE}) or ({keep})" if forbidden.asserts else keep)
        offset = end
    if sum(1 for _, forbidden in layers if forbidden.asserts) > 1:
        raise CombineError("forbidden paths moved in two layers")
    template = _sub(body, "template", match="/")
    findings = _sub(template, "variable", name="fused-findings", as_="element()*")
    choose = _sub(findings, "choose")
    _sub(_sub(choose, "when", test=f"${ONLY_PARAMETER} = ''"), "apply-templates", select=".", mode=WALK_MODE)
    only_modes = _only_walks(body, layers)
    for name, mode in zip(names, only_modes, strict=True):
        when = _sub(choose, "when", test=f"${ONLY_PARAMETER} = '{name}'")
        _sub(when, "apply-templates", select=".", mode=mode)
    for name, (_, forbidden), keep in zip(names, layers, keeps, strict=True):
        report = _sub(template, "if", test=f"${ONLY_PARAMETER} = ('', '{name}')")
        _write_report(report, forbidden, "fused-findings", keep)
    _walk_templates(body, layers, prefixes, hoist=True)
    body.extend(list(rules))
    nsmap.update(prefixes.declared)
    for layer_prefixes in (f.namespaces for _, f in layers):
        for prefix, uri in layer_prefixes.items():
            if nsmap.setdefault(prefix, uri) != uri:
                raise CombineError(f"the prefix {prefix!r} is bound to two namespaces")
    nsmap.setdefault("map", MAP_NAMESPACE)
    nsmap.setdefault("svrl", SVRL)
    nsmap.setdefault("xsl", XSL)
    nsmap.setdefault("xs", XS)
    if nsmap.setdefault(FINDINGS_PREFIX, FINDINGS_NAMESPACE) != FINDINGS_NAMESPACE:
        raise SkeletonError(f"the stylesheet binds the prefix {FINDINGS_PREFIX!r} the fused one needs")
    root = etree.Element(xsl("stylesheet"), nsmap=nsmap)
    for key, value in attributes[0].items():
        root.set(key, value)
    excluded = " ".join(
        dict.fromkeys(t for s in skeletons for t in s.root.get("exclude-result-prefixes", "").split())
    )
    if excluded:
        root.set("exclude-result-prefixes", excluded)
    _sub(root, "output", method="text")
    for mode in sorted(split_modes):  # two branches of one split union may match a node: same body
        _sub(root, "mode", name=mode, on_multiple_match="use-last", warning_on_multiple_match="no")
    for node in _shared_top_level(declarations):
        root.append(copy.deepcopy(node))
    root.extend(codes.declarations())
    root.extend(_shared_top_level(own, ours=True))
    _sub(root, "param", name=ONLY_PARAMETER, select="''", as_="xs:string")
    for node in list(body):
        root.append(node)
    share_findings(root, ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE)
    root.extend(finding_functions(ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE))
    excluded = root.get("exclude-result-prefixes", "")
    root.set("exclude-result-prefixes", f"{excluded} {FINDINGS_PREFIX}".strip())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
