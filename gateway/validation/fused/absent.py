"""'Shall not be used' asserts of a root rule matched by the walk instead of tested at the root.

The CEN syntax pattern's root rule (``/ubl:Invoice | /cn:CreditNote``) holds about 640 asserts of the
form ``not(S1/S2/.../Sn)``, every step a name (or a union of names, ``(cac:InvoiceLine|
cac:CreditNoteLine)``): each fails exactly when an element sits at that path below the root element.
Even guarded (``guards``), testing them costs a few hundred lookups per document. Since the fused walk
visits every element anyway, such an assert becomes a template of its own mode (``MODE``) matching the
path below the root element (``/*/S1/.../Sn``): it writes a marker naming the assert when the walk
meets a forbidden element, and nothing (not even a test) when there is none, as in nearly every
document.

After the walk, the root template writes each marked assert's failed-assert once, in the context of
the root element, as the rule would have (the same ``svrl:failed-assert``: id, flag, text, location);
only if the rule fired (it writes a marker first): so not under a root element of another name, nor
when a higher-priority rule of the pattern took the root element. Every finding of such a rule
carries its assert's position in the rule, so the final sort puts the rule's findings back in assert
order, ahead of the pattern's findings on other nodes (the root element is the first node the
pattern's walk meets; a pattern with a rule on the document node is left alone).
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from gateway.validation.fused.guards import absent_steps
from gateway.validation.fused.skeleton import Rule, svrl, xsl
from gateway.validation.fused.xpath_text import split_top_level

MODE = "fused-absent"
#: The mode that writes a marked assert's failed-assert in the root element's context.
ASSERT_MODE = "fused-absent-assert"
#: Marker elements in the walk's output (no namespace; dropped before the report is written).
MARKER = "fused-absent"
FIRED = "fused-fired"
#: Attribute carrying a finding's assert position within its (root) rule, for the final sort.
ASSERT_ATTRIBUTE = "fused-assert"
_ROOT_STEP = re.compile(r"^/([A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*)$")
_NAMES = re.compile(r"[A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*")


def root_elements(match: str) -> list[str] | None:
    """The root element names of a match ``/a:X | /b:Y`` (None for any other match)."""
    names = []
    for branch in split_top_level(match, "|"):
        found = _ROOT_STEP.match(branch.strip())
        if found is None:
            return None
        names.append(found.group(1))
    return names


def _is_assert(node: etree._Element) -> bool:
    """An official assert: ``xsl:choose`` of an empty ``xsl:when`` and an ``xsl:otherwise``."""
    return (
        node.tag == xsl("choose")
        and len(node) == 2
        and node[0].tag == xsl("when")
        and len(node[0]) == 0
        and not (node[0].text or "").strip()
        and node[1].tag == xsl("otherwise")
    )


def _reads_variables(node: etree._Element) -> bool:
    """Whether an XPath in ``node`` (its attributes, its descendants') may read a variable: a rule's
    own variables are out of scope where a moved assert writes its failed-assert."""
    return any("$" in value for element in node.iter() for value in element.attrib.values())


def _full_path(node: etree._Element) -> list[list[str]] | None:
    """The names of each step when ``node`` asserts ``not(S1/.../Sn)`` with name steps only (and
    writes its failed-assert without reading a variable)."""
    steps = absent_steps(node)
    if steps is None or not _is_assert(node) or _reads_variables(node[1]):
        return None
    path = node[0].get("test", "").strip()[len("not(") : -1].strip()
    if "/".join(steps) != path:
        return None
    return [_NAMES.findall(step) for step in steps]


@dataclass
class _Assert:
    number: int
    rule: str
    pattern: int
    position: int
    otherwise: etree._Element


@dataclass
class ForbiddenPaths:
    """The moved asserts of a stylesheet, and the templates and root-template parts they need."""

    namespaces: Mapping[str, str]
    #: The stylesheet sets ``xpath-default-namespace``: the markers' names would not be found (none moved).
    default_namespace: bool = False
    asserts: list[_Assert] = field(default_factory=list)
    #: expanded path below the root element -> (match branches, numbers of the asserts on that path)
    paths: dict[tuple[tuple[str, str], ...], tuple[list[str], list[int]]] = field(default_factory=dict)
    rules: int = 0

    def take(
        self, rule: Rule, pattern: int, document_rules: bool
    ) -> tuple[list[tuple[int, etree._Element]], str | None]:
        """Split ``rule``'s body: the nodes the rule template keeps with their positions, and the
        rule's marker name when asserts were moved (None: the body is unchanged).

        Args:
            rule: a rule of the pattern at position ``pattern``.
            document_rules: whether some rule of the pattern can match the document node.
        """
        roots = None if document_rules or self.default_namespace else root_elements(rule.match)
        body = list(enumerate(rule.body))
        if roots is None:
            return body, None
        moved = [(index, node, _full_path(node)) for index, node in body]
        if not any(path for _, _, path in moved):
            return body, None
        self.rules += 1
        name = f"rule-{self.rules}"
        kept = []
        for index, node, path in moved:
            if path is None:
                kept.append((index, node))
                continue
            number = len(self.asserts) + 1
            self.asserts.append(_Assert(number, name, pattern, index, node[1]))
            for names in itertools.product(*path):
                # ``/*/S1/.../Sn``: below any root element (one template, not a union per root, which
                # Saxon indexes less well); a marker of a rule that did not fire is dropped after the
                # walk, and the rule fires only when the root element is one of its own.
                key = tuple(self._expanded(step) for step in names)
                branches, numbers = self.paths.setdefault(key, ([], []))
                branches.append("/*/" + "/".join(names))
                numbers.append(number)
        return kept, name

    def _expanded(self, qname: str) -> tuple[str, str]:
        prefix, local = qname.split(":", 1)
        return (self.namespaces.get(prefix, f"unbound:{prefix}"), local)

    def matches(self) -> list[str]:
        """The match pattern of every marker template (for the walk's dispatch)."""
        return [" | ".join(dict.fromkeys(branches)) for branches, _ in self.paths.values()]

    def templates(self, parent: etree._Element, order_attribute: str) -> None:
        """The marker templates, and the templates writing a marked assert's failed-assert (tagged
        with its pattern's position in ``order_attribute``); nothing when no assert was moved."""
        if not self.asserts:
            return
        for branches, numbers in self.paths.values():
            template = etree.SubElement(parent, xsl("template"))
            template.set("match", " | ".join(dict.fromkeys(branches)))
            template.set("mode", MODE)
            template.set("priority", "0")
            for number in numbers:
                marker = etree.SubElement(template, MARKER)
                marker.set("k", str(number))
                marker.set("rule", self.asserts[number - 1].rule)
        etree.SubElement(parent, xsl("template"), match="/|@*|node()", mode=MODE, priority="-2")
        # One template for all the moved asserts (one per assert costs Saxon ≈ 5 MB more): the
        # marker's assert chosen by number, its failed-assert written in the root element's context.
        template = etree.SubElement(parent, xsl("template"), match=MARKER, mode=ASSERT_MODE)
        etree.SubElement(template, xsl("param"), name="root")
        etree.SubElement(template, xsl("variable"), name="k", select="string(@k)")
        choose = etree.SubElement(etree.SubElement(template, xsl("for-each"), select="$root"), xsl("choose"))
        for moved in self.asserts:
            when = etree.SubElement(choose, xsl("when"), test=f"$k = '{moved.number}'")
            for child in moved.otherwise:
                copied = copy.deepcopy(child)
                copied.tail = None
                for finding in copied.iter(svrl("failed-assert"), svrl("successful-report")):
                    finding.set(order_attribute, str(moved.pattern))
                    finding.set(ASSERT_ATTRIBUTE, str(moved.position))
                when.append(copied)

    def marked(self, parent: etree._Element, findings: str) -> str:
        """Declare in ``parent`` the failed-asserts of the marked asserts of rules that fired (each
        once); return the variable's name."""
        # The root element, bound here: inside the grouping below the context item is a marker.
        etree.SubElement(parent, xsl("variable"), name="fused-root", select="/*")
        variable = etree.SubElement(parent, xsl("variable"), name="fused-moved")
        variable.set("as", "element()*")
        fired = f"${findings}[self::{FIRED}]/@rule"
        group = etree.SubElement(variable, xsl("for-each-group"))
        group.set("select", f"${findings}[self::{MARKER}][@rule = {fired}]")
        group.set("group-by", "@k")
        apply = etree.SubElement(group, xsl("apply-templates"), select="current-group()[1]", mode=ASSERT_MODE)
        etree.SubElement(apply, xsl("with-param"), name="root", select="$fused-root")
        return "fused-moved"


def fired_marker(rule: str) -> etree._Element:
    """The marker a rule with moved asserts writes first when it fires."""
    marker = etree.Element(FIRED)
    marker.set("rule", rule)
    return marker
