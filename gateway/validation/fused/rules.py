"""The pattern modes' rule templates: each official rule copied into its pattern's mode (same match,
same priority; a union split where ``unions`` finds it exact), its asserts and reports tagged with the
pattern's position for the final sort and their tests rewritten exactly (``codes``, ``presence``,
``implications``, ``categories``; runs of "shall not be used" asserts guarded, ``guards``; root-rule
ones moved to the walk, ``absent``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from gateway.validation.fused.absent import ASSERT_ATTRIBUTE, ForbiddenPaths, fired_marker
from gateway.validation.fused.categories import CategorySearches
from gateway.validation.fused.codes import CodeLists, TokenSets
from gateway.validation.fused.dispatch import Targets, targets_of
from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.findings import pin_expand_text
from gateway.validation.fused.guards import guard_absent_runs
from gateway.validation.fused.implications import rewrite_implication
from gateway.validation.fused.patterns import without_root_descent
from gateway.validation.fused.presence import AttributeIndex
from gateway.validation.fused.skeleton import Pattern, Skeleton, svrl, xsl
from gateway.validation.fused.unions import exact_branches
from gateway.validation.fused.xslt import sub

#: Attribute carrying a finding's pattern position until the final sort (not part of the output).
ORDER_ATTRIBUTE = "fused-pattern"


def pattern_targets(pattern: Pattern, skeleton: Skeleton) -> Targets:
    namespaces = {prefix: uri for prefix, uri in skeleton.root.nsmap.items() if prefix}
    return targets_of([rule.match for rule in pattern.rules], namespaces)


@dataclass(frozen=True, slots=True)
class Rewrites:
    """The exact test rewrites applied to every assert, and the global variables they need."""

    codes: CodeLists
    sets: TokenSets
    attributes: AttributeIndex
    categories: CategorySearches

    def apply(self, test: str) -> str:
        implied = rewrite_implication(self.attributes.rewrite(self.sets.rewrite(self.codes.rewrite(test))))
        return self.categories.rewrite(implied)

    def declarations(self) -> list[etree._Element]:
        return [
            *self.codes.declarations(),
            *self.sets.declarations(),
            *self.attributes.declarations(),
            *self.categories.declarations(),
        ]


def rule_templates(
    parent: etree._Element,
    pattern: Pattern,
    position: int,
    rewrites: Rewrites,
    forbidden: ForbiddenPaths,
    document_rules: bool,
    namespaces: Mapping[str, str],
    split_modes: set[str],
) -> None:
    for number, rule in enumerate(pattern.rules):
        match = without_root_descent(rule.match)
        branches = exact_branches(match, namespaces)
        if branches is None:
            template = sub(parent, "template", match=match, mode=pattern.mode, priority=rule.priority)
        else:  # one template per branch, all calling the rule's body (``unions``)
            name = f"{FINDINGS_PREFIX}:rule-{pattern.mode}-{number}"
            template = sub(parent, "template", name=name)
            for branch in branches:
                call = sub(parent, "template", match=branch, mode=pattern.mode, priority=rule.priority)
                sub(call, "call-template", name=name)
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
    sub(parent, "template", match="/|@*|node()", mode=pattern.mode, priority="-2")
