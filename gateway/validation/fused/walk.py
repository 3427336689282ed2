"""The fused stylesheet's one tree walk (mode ``WALK_MODE``): at each node, only the pattern modes
with a rule able to match it (``dispatch``), chosen by element name, by parent where a pattern needs
one, by local-name suffix, and for the attributes and the document node."""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from gateway.validation.fused.absent import MODE as ABSENT_MODE
from gateway.validation.fused.absent import ForbiddenPaths
from gateway.validation.fused.dispatch import Targets, any_element_guard, targets_of
from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.rules import pattern_targets
from gateway.validation.fused.skeleton import Skeleton
from gateway.validation.fused.xslt import sub

#: Mode of the one walk of the tree (the document node, then ``@*|*`` recursively).
WALK_MODE = "fused-walk"


def apply_modes(parent: etree._Element, modes: list[str], guards: Mapping[str, str] | None = None) -> None:
    """Apply each pattern's mode to the context node; a mode with a guard (``any_element_guard``)
    only where its guard is true."""
    for mode in modes:
        guard = (guards or {}).get(mode)
        sub(sub(parent, "if", test=guard) if guard else parent, "apply-templates", select=".", mode=mode)


class Prefixes:
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


def _suffix_test(suffixes: set[str]) -> str:
    return " or ".join(f"ends-with(local-name(), '{suffix}')" for suffix in sorted(suffixes))


def walk_modes(
    layers: list[tuple[Skeleton, ForbiddenPaths]],
) -> tuple[list[str], list[Targets], dict[str, str]]:
    """The modes the walk applies (each layer's patterns, then its markers' mode), in order, what
    each can match, and the guards of those applied only where a predicate holds."""
    targets: list[Targets] = []
    modes: list[str] = []
    guards: dict[str, str] = {}
    for skeleton, forbidden in layers:
        targets += [pattern_targets(pattern, skeleton) for pattern in skeleton.patterns]
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
#: of several layers: ``walk_templates`` with ``hoist``).
ANY_ELEMENT_TEMPLATE = f"{FINDINGS_PREFIX}:any-element"


def walk_templates(
    parent: etree._Element,
    layers: list[tuple[Skeleton, ForbiddenPaths]],
    prefixes: Prefixes,
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
    modes, targets, guards = walk_modes(layers)
    universal = [m for m, t in zip(modes, targets, strict=True) if hoist and t.any_element]
    if universal:
        apply_modes(sub(parent, "template", name=ANY_ELEMENT_TEMPLATE), universal, guards)

    def walk(match: str, applies: list[str], priority: str, descend: bool = True) -> etree._Element:
        template = sub(parent, "template", match=match, mode=WALK_MODE, priority=priority)
        if universal and match not in ("/", "@*"):
            sub(template, "call-template", name=ANY_ELEMENT_TEMPLATE)
            applies = [m for m in applies if m not in universal]
        apply_modes(template, applies, guards)
        if descend:
            sub(template, "apply-templates", select="@*|*", mode=WALK_MODE)
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
        choose = sub(template, "choose")
        by_applies: dict[tuple[str, ...], list[str]] = {}
        for above in aboves:
            applies = tuple(
                m
                for m, parents in wanted.items()
                if (parents is None and not hoist) or (parents is not None and above in parents)
            )
            by_applies.setdefault(applies, []).append(f"parent::{prefixes.qname(*above)}")
        for applies, tests in by_applies.items():
            apply_modes(sub(choose, "when", test=" or ".join(tests)), list(applies), guards)
        if not hoist:
            apply_modes(sub(choose, "otherwise"), anywhere, guards)
        sub(template, "apply-templates", select="@*|*", mode=WALK_MODE)
    # Any other element: the patterns that can match any element, and (tested by local name) those
    # whose rules match elements by a suffix of their local name; in pattern order.
    fallback = walk("*", [], "0", descend=False)
    for mode, target in zip(modes, targets, strict=True):
        if target.any_element:
            if not universal:
                apply_modes(fallback, [mode], guards)
        elif target.suffixes:
            apply_modes(sub(fallback, "if", test=_suffix_test(target.suffixes)), [mode])
    sub(fallback, "apply-templates", select="@*|*", mode=WALK_MODE)
    walk("@*", [m for m, t in zip(modes, targets, strict=True) if t.attributes], "0", descend=False)
