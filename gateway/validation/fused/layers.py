"""The shared stylesheet of several fused layers (the CEN and Peppol layers of a billing rule set):
ONE walk for the patterns of all, then each layer's compact report, and the global parameter
``ONLY_PARAMETER`` that runs one layer alone in a walk of its own."""

from __future__ import annotations

import copy

from lxml import etree

from gateway.validation.fused.absent import ASSERT_ATTRIBUTE, ForbiddenPaths
from gateway.validation.fused.categories import CategorySearches
from gateway.validation.fused.categories import declarations as category_declarations
from gateway.validation.fused.code_dispatch import CodeDispatch
from gateway.validation.fused.codes import CodeLists, TokenSets
from gateway.validation.fused.combine import CombineError, merged_namespaces, shared_top_level
from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.findings import declarations as finding_functions
from gateway.validation.fused.findings import share_findings
from gateway.validation.fused.layer_report import write_report
from gateway.validation.fused.locations import linear_locations
from gateway.validation.fused.presence import AttributeIndex
from gateway.validation.fused.rules import ORDER_ATTRIBUTE, Rewrites, pattern_targets, rule_templates
from gateway.validation.fused.skeleton import Skeleton, xsl
from gateway.validation.fused.walk import WALK_MODE, Prefixes, apply_modes, walk_modes, walk_templates
from gateway.validation.fused.xslt import bind_fused_namespaces, sub

#: Global parameter of a stylesheet of several layers (``write_fused_layers``): empty, every layer in
#: one walk; a layer's name, that layer alone.
ONLY_PARAMETER = "fused-only"
#: Mode of the walk running one layer of several alone (every pattern of the layer at every node).
ONLY_MODE = "fused-only"


def _only_walks(parent: etree._Element, layers: list[tuple[Skeleton, ForbiddenPaths]]) -> list[str]:
    """One walk per layer that applies each of its modes at every node (no dispatch, no guard: a mode
    applied where none of its rules matches writes nothing, so the same findings, in the same order,
    as the dispatched walk, and the same first dynamic error); return their modes."""
    modes = []
    for number, layer in enumerate(layers):
        mode = f"{ONLY_MODE}-{number}"
        template = sub(parent, "template", match="/|*|@*", mode=mode)
        apply_modes(template, walk_modes([layer])[0])
        sub(template, "apply-templates", select="@*|*", mode=mode)
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
    nsmap = merged_namespaces(skeletons)
    all_modes = [pattern.mode for skeleton in skeletons for pattern in skeleton.patterns]
    if len(set(all_modes)) != len(all_modes):
        raise CombineError("two layers use one pattern mode")
    prefixes = Prefixes({prefix: uri for prefix, uri in nsmap.items() if prefix is not None})
    body = etree.Element(xsl("stylesheet"))
    rules = etree.Element(xsl("stylesheet"))
    codes = CodeLists()  # shared: its variables are numbered once for all layers
    category_codes: set[str] = set()  # shared: one map of the absent VAT categories for all layers
    split_modes: set[str] = set()
    layers: list[tuple[Skeleton, ForbiddenPaths]] = []
    declarations: list[etree._Element] = []
    own: list[etree._Element] = []  # the rewrites' global variables, but the shared code lists'
    keeps: list[str] = []
    offset = 0
    for skeleton in skeletons:
        namespaces = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
        categories = CategorySearches(namespaces, category_codes)
        rewrites = Rewrites(codes, TokenSets.of(skeleton.declarations), AttributeIndex(), categories)
        forbidden = ForbiddenPaths(
            namespaces, default_namespace=skeleton.root.get("xpath-default-namespace") is not None
        )
        for position, pattern in enumerate(skeleton.patterns, start=offset):
            document_rules = pattern_targets(pattern, skeleton).document
            rule_templates(
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
    dispatch = CodeDispatch()
    dispatch.rewrite(rules, {prefix: uri for prefix, uri in nsmap.items() if prefix})
    if sum(1 for _, forbidden in layers if forbidden.asserts) > 1:
        raise CombineError("forbidden paths moved in two layers")
    template = sub(body, "template", match="/")
    findings = sub(template, "variable", name="fused-findings", as_="element()*")
    choose = sub(findings, "choose")
    sub(sub(choose, "when", test=f"${ONLY_PARAMETER} = ''"), "apply-templates", select=".", mode=WALK_MODE)
    only_modes = _only_walks(body, layers)
    for name, mode in zip(names, only_modes, strict=True):
        when = sub(choose, "when", test=f"${ONLY_PARAMETER} = '{name}'")
        sub(when, "apply-templates", select=".", mode=mode)
    for name, (_, forbidden), keep in zip(names, layers, keeps, strict=True):
        report = sub(template, "if", test=f"${ONLY_PARAMETER} = ('', '{name}')")
        write_report(report, forbidden, "fused-findings", keep)
    walk_templates(body, layers, prefixes, hoist=True)
    body.extend(list(rules))
    nsmap.update(prefixes.declared)
    for layer_prefixes in (f.namespaces for _, f in layers):
        for prefix, uri in layer_prefixes.items():
            if nsmap.setdefault(prefix, uri) != uri:
                raise CombineError(f"the prefix {prefix!r} is bound to two namespaces")
    bind_fused_namespaces(nsmap)
    root = etree.Element(xsl("stylesheet"), nsmap=nsmap)
    for key, value in attributes[0].items():
        root.set(key, value)
    excluded = " ".join(
        dict.fromkeys(t for s in skeletons for t in s.root.get("exclude-result-prefixes", "").split())
    )
    if excluded:
        root.set("exclude-result-prefixes", excluded)
    sub(root, "output", method="text")
    for mode in sorted(split_modes):  # two branches of one split union may match a node: same body
        sub(root, "mode", name=mode, on_multiple_match="use-last", warning_on_multiple_match="no")
    for node in shared_top_level(declarations):
        root.append(copy.deepcopy(node))
    root.extend(codes.declarations())
    root.extend(category_declarations(category_codes))
    root.extend(dispatch.declarations())
    root.extend(shared_top_level(own, ours=True))
    sub(root, "param", name=ONLY_PARAMETER, select="''", as_="xs:string")
    for node in list(body):
        root.append(node)
    share_findings(root, ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE)
    root.extend(finding_functions(ORDER_ATTRIBUTE, ASSERT_ATTRIBUTE))
    linear_locations(root)
    excluded = root.get("exclude-result-prefixes", "")
    root.set("exclude-result-prefixes", f"{excluded} {FINDINGS_PREFIX}".strip())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
