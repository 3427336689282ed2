"""Rules told apart by one code of the node, chosen once per node: an exact rewrite.

The CEN model's VAT-category rules are nine categories times their contexts, e.g. (one mode)::

    /*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory[normalize-space(cbc:ID) = 'AE'][cac:TaxScheme/...='VAT']
    cac:AllowanceCharge[cbc:ChargeIndicator=false()]/cac:TaxCategory[normalize-space(cbc:ID)='AE'][...]
    ... 27 templates for ``cac:TaxCategory``, 18 for ``cac:ClassifiedTaxCategory``

Saxon tries them on each such element in priority order, each evaluating ``normalize-space(cbc:ID)``
again. Here a family (two or more templates of one mode whose last step is the same element name E,
each with a predicate ``F(NAME) = 'LITERAL'``, F a chain of ``normalize-space`` / ``upper-case``,
the same F(NAME) in all, and no other template of the mode able to match E) gets one dispatcher
template of a higher priority: it computes F(NAME) once and calls the body of the first template, in
priority order, whose code, other predicates and ancestor steps hold (``xsl:choose``); none: nothing,
as the mode's built-in empty template. That is the same choice only when no predicate raises an error:
a dynamic error while matching makes a pattern not match (XSLT 3.0), so Saxon goes on to the next
template. So the dispatcher takes this path only when a global guard, evaluated once per run, finds
nothing in the document that could raise in any of the family's predicates, and otherwise hands the
node to the original templates (``xsl:next-match``). Only predicate shapes whose errors are known are
accepted (``_error_guard``); any other family is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from lxml import etree

from gateway.validation.fused.dispatch import expanded_name, strip_predicates, targets_of
from gateway.validation.fused.findings import PREFIX as FINDINGS_PREFIX
from gateway.validation.fused.skeleton import xsl
from gateway.validation.fused.unions import error_free
from gateway.validation.fused.xpath_text import outside_literals, split_top_level
from gateway.validation.fused.xslt import sub

_NAME = r"[A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*"
_PATH = rf"{_NAME}(?:/{_NAME})*"
_LITERAL = r"'[^']*'"
#: ``F(NAME) = 'LIT'``, F one or two of normalize-space / upper-case: the code a family tells apart.
_CODE = re.compile(
    rf"^((?:normalize-space|upper-case)\(\s*(?:(?:normalize-space|upper-case)\(\s*)?({_NAME})\s*\)?\s*\))"
    rf"\s*=\s*({_LITERAL})$"
)
#: ``PATH/F(NAME) = 'LIT'`` (raises on a PATH node with two NAME children).
_PATH_CODE = re.compile(
    rf"^({_PATH})/(?:normalize-space|upper-case)\(\s*(?:(?:normalize-space|upper-case)\(\s*)?({_NAME})\s*\)?\s*\)"
    rf"\s*=\s*{_LITERAL}$"
)
#: ``NAME = false()`` / ``NAME = true()`` (raises on a NAME whose value is no xs:boolean).
_BOOLEAN = re.compile(rf"^({_NAME})\s*=\s*(?:false|true)\(\s*\)$")
#: The mode's built-in rule as ``rules.rule_templates`` writes it (writes nothing).
_DEFAULT_MATCH = "/|@*|node()"
GUARD_PREFIX = "fused-code-simple"


def _priority(text: str | None) -> Decimal | None:
    """A template's explicit priority, exactly (None: none, or not a number)."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _balanced_code(text: str) -> re.Match[str] | None:
    found = _CODE.match(text)
    if found is None:
        return None
    call = found.group(1)
    return found if call.count("(") == call.count(")") else None


def _predicates(step: str) -> list[str] | None:
    """The predicates of a step ``head[...][...]`` (None: anything else after them)."""
    head = strip_predicates(step)
    predicates, start = [], None
    rest = step[len(head) :]
    for index, char, depth in outside_literals(rest):
        if char == "[" and depth == 0 and start is None:
            start = index + 1
        elif char == "]" and depth == 0 and start is not None:
            predicates.append(rest[start:index].strip())
            start = None
        elif depth == 0 and start is None and not char.isspace():
            return None
    return predicates


def _error_guard(predicate: str, element: str) -> str | None:
    """A path selecting, in the whole document, what would make ``predicate`` raise on an element named
    ``element``: "" when it never raises, None when its errors are not known (the family is left)."""
    if "position" in predicate or "last" in predicate:
        return None
    if error_free(predicate):
        return ""
    code = _balanced_code(predicate)
    if code is not None:
        return f"//{element}[{code.group(2)}[2]]"
    found = _PATH_CODE.match(predicate)
    if found is not None:
        return f"//{element}/{found.group(1)}[{found.group(2)}[2]]"
    found = _BOOLEAN.match(predicate)
    if found is not None:
        return f"//{element}/{found.group(1)}[not(. castable as xs:boolean)]"
    return None


@dataclass(slots=True)
class _Member:
    """One template of a family: what its pattern asks of the node and of its ancestors."""

    template: etree._Element
    priority: Decimal  # exact: the dispatcher's is written back as a decimal (``_dispatcher``)
    code: str  # F(NAME)
    literal: str  # 'LIT'
    others: list[str]  # the last step's other predicates, in order
    ancestors: str  # a test of the ancestor steps with the node as context ("" when none)
    guards: list[str]
    body: str  # the name of the template to call


def _member(
    template: etree._Element, namespaces: Mapping[str, str]
) -> tuple[tuple[str, str], _Member] | None:
    match = template.get("match", "")
    priority = _priority(template.get("priority"))
    if priority is None or len(split_top_level(match, "|")) != 1:
        return None
    steps = [step.strip() for step in split_top_level(match, "/")]
    absolute = steps[0] == ""
    if absolute:
        steps = steps[1:]
    if not steps or any(not step for step in steps):  # ``//`` inside: not handled
        return None
    last = steps[-1]
    head = strip_predicates(last)
    name = expanded_name(head, namespaces)
    predicates = _predicates(last)
    if name is None or not predicates:
        return None
    code = _balanced_code(predicates[0])
    if code is None:
        return None
    guards = []
    for predicate in predicates:
        guard = _error_guard(predicate, head)
        if guard is None:
            return None
        guards.append(guard)
    ancestors = []
    for step in reversed(steps[:-1]):
        step_head = strip_predicates(step)
        step_predicates = _predicates(step)
        if step_predicates is None or (step_head != "*" and expanded_name(step_head, namespaces) is None):
            return None
        for predicate in step_predicates:
            guard = _error_guard(predicate, step_head)
            if guard is None:
                return None
            guards.append(guard)
        ancestors.append(f"parent::{step_head}" + "".join(f"[{p}]" for p in step_predicates))
    if absolute:
        ancestors.append("parent::document-node()")
    member = _Member(
        template=template,
        priority=priority,
        code=" ".join(code.group(1).split()),
        literal=code.group(3),
        others=predicates[1:],
        ancestors="/".join(ancestors),
        guards=[g for g in guards if g],
        body="",
    )
    return name, member


def _called(template: etree._Element) -> str | None:
    """The named template ``template`` only calls (a split union's branch, ``unions``), else None."""
    children = [child for child in template if isinstance(child.tag, str)]
    if len(children) == 1 and children[0].tag == xsl("call-template") and not len(children[0]):
        return children[0].get("name")
    return None


def _body_name(template: etree._Element, mode: str, number: int) -> str:
    """The template to call for ``template``'s body: the named body it only calls, or itself, named."""
    called = _called(template)
    if called is not None:
        return called
    name = f"{FINDINGS_PREFIX}:code-{mode}-{number}"
    template.set("name", name)
    return name


class CodeDispatch:
    """Finds the families of one stylesheet's rule templates and writes their dispatchers."""

    def __init__(self) -> None:
        self.guards: dict[str, str] = {}  # variable name -> its select
        self.numbered = 0

    def rewrite(self, rules: etree._Element, namespaces: Mapping[str, str]) -> None:
        """Add a dispatcher for each family among ``rules``' templates (see the module)."""
        by_mode: dict[str, list[etree._Element]] = {}
        for template in rules:
            if template.tag == xsl("template") and template.get("match") and template.get("mode"):
                by_mode.setdefault(template.get("mode", ""), []).append(template)
        for mode, templates in by_mode.items():
            self._mode(rules, mode, templates, namespaces)

    def _mode(
        self,
        rules: etree._Element,
        mode: str,
        templates: list[etree._Element],
        namespaces: Mapping[str, str],
    ) -> None:
        defaults = [t for t in templates if t.get("match") == _DEFAULT_MATCH]
        if len(defaults) != 1 or len(defaults[0]) or float(defaults[0].get("priority", "0")) >= 0:
            return
        families: dict[tuple[str, str], list[_Member]] = {}
        heads: dict[tuple[str, str], str] = {}
        for template in templates:
            found = _member(template, namespaces)
            if found is not None:
                name, member = found
                families.setdefault(name, []).append(member)
                heads[name] = strip_predicates(split_top_level(template.get("match", ""), "/")[-1])
        for name, members in families.items():
            if len(members) < 2 or len({m.code for m in members}) != 1:
                continue
            if not self._alone(name, members, templates, defaults[0], namespaces):
                continue
            ordered = sorted(members, key=lambda m: -m.priority)
            ties = [(a, b) for a, b in pairwise(ordered) if a.priority == b.priority]
            if any(
                _called(a.template) is None or _called(a.template) != _called(b.template) for a, b in ties
            ):
                continue
            for number, member in enumerate(ordered):
                member.body = _body_name(member.template, mode, self.numbered + number)
            self.numbered += len(ordered)
            self._dispatcher(rules, mode, heads[name], ordered)

    @staticmethod
    def _alone(
        name: tuple[str, str],
        members: list[_Member],
        templates: list[etree._Element],
        default: etree._Element,
        namespaces: Mapping[str, str],
    ) -> bool:
        """Whether no template of the mode but the family's and the built-in one can match ``name``."""
        own = {id(m.template) for m in members} | {id(default)}
        for template in templates:
            if id(template) in own:
                continue
            targets = targets_of([template.get("match", "")], namespaces)
            if targets.any_element or targets.matches_name(*name):
                return False
        return True

    def _dispatcher(self, rules: etree._Element, mode: str, head: str, members: list[_Member]) -> None:
        variable = f"{GUARD_PREFIX}-{len(self.guards) + 1}"
        paths = list(dict.fromkeys(g for m in members for g in m.guards))
        self.guards[variable] = " and ".join(f"empty({path})" for path in paths) if paths else "true()"
        top = max(m.priority for m in members)
        # as a plain decimal (XSLT's priority is an xs:decimal: no exponent, no rounding, e.g. 1001036)
        template = sub(rules, "template", match=head, mode=mode, priority=format(top + 1, "f"))
        choose = sub(template, "choose")
        fast = sub(choose, "when", test=f"${variable}")
        code = f"{FINDINGS_PREFIX}-code"
        sub(fast, "variable", name=code, select=members[0].code)
        common = [p for p in members[0].others if all(p in m.others for m in members)]
        parent = sub(fast, "if", test=" and ".join(f"({p})" for p in common)) if common else fast
        inner = sub(parent, "choose")
        for member in members:
            tests = [f"${code} = {member.literal}"]
            tests += [f"({p})" for p in member.others if p not in common]
            if member.ancestors:
                tests.append(f"exists({member.ancestors})")
            when = sub(inner, "when", test=" and ".join(tests))
            sub(when, "call-template", name=member.body)
        sub(sub(choose, "otherwise"), "next-match")

    def declarations(self) -> list[etree._Element]:
        """The guards' global variables (``xs:boolean``, evaluated on first use)."""
        nodes = []
        for name, select in self.guards.items():
            node = etree.Element(xsl("variable"))
            node.set("name", name)
            node.set("as", "xs:boolean")
            node.set("select", select)
            nodes.append(node)
        return nodes
