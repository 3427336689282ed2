"""'Shall not be used' asserts of a root rule matched by the walk instead of tested at the root.

The CEN syntax pattern's root rule (``/ubl:Invoice | /cn:CreditNote``) holds about 640 asserts of the
form ``not(S1/S2/.../Sn)``, every step a name (or a union of names, ``(cac:InvoiceLine|
cac:CreditNoteLine)``): each fails exactly when an element sits at that path below the root element.
Even guarded (``guards``), testing them costs a few hundred lookups per document. Since the fused walk
visits every element anyway, such an assert becomes an entry of a map of the paths below the root
element (``S1/.../Sn``), which one template of its own mode (``MODE``) reads for the elements the walk
dispatches to it (those named last in some path, under a parent the path names): it writes a marker
naming the assert when the walk meets a forbidden element, and nothing when there is none, as in
nearly every document.

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

from gateway.validation.fused.findings import FUNCTION, REPORT, pin_expand_text, shared_arguments
from gateway.validation.fused.guards import absent_steps
from gateway.validation.fused.skeleton import Rule, SkeletonError, svrl, xsl
from gateway.validation.fused.xpath_text import split_top_level

MODE = "fused-absent"
#: The mode that writes a marked assert's failed-assert in the root element's context.
ASSERT_MODE = "fused-absent-assert"
#: Marker elements in the walk's output (no namespace; dropped before the report is written).
MARKER = "fused-absent"
FIRED = "fused-fired"
#: Global maps: the moved asserts by the local names of their path's steps; the namespaces of each
#: path and assert; the rule of each assert.
PATHS_VARIABLE = "fused-forbidden-paths"
NAMESPACES_VARIABLE = "fused-forbidden-namespaces"
RULES_VARIABLE = "fused-forbidden-rules"
#: Global map: the arguments of the shared function writing each moved assert's finding.
FINDINGS_VARIABLE = "fused-forbidden-findings"
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

    namespaces: dict[str, str]
    #: The stylesheet sets ``xpath-default-namespace``: the markers' names would not be found (none moved).
    default_namespace: bool = False
    asserts: list[_Assert] = field(default_factory=list)
    #: expanded path below the root element -> (match branches, numbers of the asserts on that path)
    paths: dict[tuple[tuple[str, str], ...], tuple[list[str], list[int]]] = field(default_factory=dict)
    rules: int = 0

    def __post_init__(self) -> None:
        # The prefixes the markers' match patterns use (for the walk's dispatch): the stylesheet
        # root's, plus one per namespace only declared below it (``fusedns{n}``).
        self.namespaces = dict(self.namespaces)

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
                # Each prefix as the assert itself reads it: it may be declared below the root.
                key = tuple(_expanded(step, node.nsmap) for step in names)
                branches, numbers = self.paths.setdefault(key, ([], []))
                branches.append("/*/" + "/".join(self._qname(*step) for step in key))
                numbers.append(number)
        return kept, name

    def _qname(self, namespace: str, local: str) -> str:
        """``local`` with a prefix of ``namespace`` among ``namespaces`` (declared there if new)."""
        if namespace.startswith("unbound:"):
            return f"{namespace[len('unbound:') :]}:{local}"  # no element is at that path (skipped)
        prefix = next((p for p, uri in self.namespaces.items() if uri == namespace), None)
        if prefix is None:
            prefix = next(f"fusedns{n}" for n in itertools.count() if f"fusedns{n}" not in self.namespaces)
            self.namespaces[prefix] = namespace
        return f"{prefix}:{local}"

    def matches(self) -> list[str]:
        """The match pattern of every marker template (for the walk's dispatch)."""
        return [" | ".join(dict.fromkeys(branches)) for branches, _ in self.paths.values()]

    def templates(self, parent: etree._Element, order_attribute: str) -> None:
        """The marker template and its map of paths, and the template writing a marked assert's
        failed-assert (tagged with its pattern's position in ``order_attribute``); nothing when no
        assert was moved."""
        if not self.asserts:
            return
        self._marker_template(parent)
        etree.SubElement(parent, xsl("template"), match="/|@*|node()", mode=MODE, priority="-2")
        # One template for all the moved asserts (one per assert costs Saxon ≈ 5 MB more): the
        # marker's assert chosen by number, its failed-assert written in the root element's context.
        # An assert writing one finding of the shared functions' shape (``findings``) is an entry of a
        # map of their arguments (atomic values, built when Saxon compiles: an xsl:when and its call
        # per assert cost ≈ 8 KB each), any other keeps its own xsl:when.
        template = etree.SubElement(parent, xsl("template"), match=MARKER, mode=ASSERT_MODE)
        etree.SubElement(template, xsl("param"), name="root")
        etree.SubElement(template, xsl("variable"), name="k", select="string(@k)")
        etree.SubElement(template, xsl("variable"), name="shared", select=f"${FINDINGS_VARIABLE}($k)")
        choose = etree.SubElement(etree.SubElement(template, xsl("for-each"), select="$root"), xsl("choose"))
        call = etree.SubElement(choose, xsl("when"), test="exists($shared)")
        arguments = ", ".join(f"$shared[{index}]" for index in range(2, 8))
        etree.SubElement(call, xsl("sequence")).set(
            "select", f"if ($shared[1]) then {REPORT}(., {arguments}) else {FUNCTION}(., {arguments})"
        )
        shared: list[str] = []
        for moved in self.asserts:
            copied_children = []
            for child in moved.otherwise:
                copied = copy.deepcopy(child)
                copied.tail = None
                pin_expand_text(child, copied)
                for finding in copied.iter(svrl("failed-assert"), svrl("successful-report")):
                    finding.set(order_attribute, str(moved.pattern))
                    finding.set(ASSERT_ATTRIBUTE, str(moved.position))
                copied_children.append(copied)
            found = None
            if len(copied_children) == 1:
                found = shared_arguments(copied_children[0], order_attribute, ASSERT_ATTRIBUTE)
            if found is not None:
                report = "true()" if found[0] == REPORT else "false()"
                shared.append(f"'{moved.number}': ({report}, {', '.join(found[1])})")
                continue
            when = etree.SubElement(choose, xsl("when"), test=f"$k = '{moved.number}'")
            when.extend(copied_children)
        variable = etree.SubElement(parent, xsl("variable"), name=FINDINGS_VARIABLE)
        variable.set("select", f"map{{{', '.join(shared)}}}")

    def _marker_template(self, parent: etree._Element) -> None:
        """One template writing the markers of the element the walk meets, found by its path below
        the root element in maps (one template per path costs Saxon ≈ 10 KB each, 7.5 MB for CEN).

        The paths are keyed by their steps' local names, which the template reads at little cost; the
        namespaces are compared only when that finds an assert (an element at a forbidden path). The
        maps hold only atomic values, so Saxon builds them once, when it compiles the stylesheet:
        paths ``{'Delivery/DeliveryLocation/ValidityPeriod': (356), ...}``, namespaces of each path and
        assert ``{'Delivery/DeliveryLocation/ValidityPeriod 356': ('urn:...', ...), ...}`` (joined by a
        blank, which no namespace of a moved assert holds) and rules ``{356: 'rule-1', ...}``.

        Raises:
            SkeletonError: a namespace of a forbidden path holds a blank.
        """
        paths: dict[str, list[int]] = {}
        namespaces: dict[str, list[str]] = {}
        for path, (_, numbers) in self.paths.items():
            if any(namespace.startswith("unbound:") for namespace, _ in path):
                continue  # a prefix the stylesheet does not declare: no element is at that path
            if any(" " in namespace for namespace, _ in path):
                raise SkeletonError(f"a forbidden path's namespace holds a blank: {path}")
            local = "/".join(name for _, name in path)
            for number in numbers:
                paths.setdefault(local, []).append(number)
                namespaces.setdefault(f"{local} {number}", []).append(" ".join(n for n, _ in path))
        rules = {moved.number: moved.rule for moved in self.asserts}
        for name, entries in (
            (PATHS_VARIABLE, {_string(k): ", ".join(map(str, dict.fromkeys(v))) for k, v in paths.items()}),
            (NAMESPACES_VARIABLE, {_string(k): ", ".join(map(_string, v)) for k, v in namespaces.items()}),
            (RULES_VARIABLE, {str(k): _string(v) for k, v in rules.items()}),
        ):
            pairs = ", ".join(f"{key}: ({value})" for key, value in entries.items())
            etree.SubElement(parent, xsl("variable"), name=name, select=f"map{{{pairs}}}")
        template = etree.SubElement(parent, xsl("template"), match="*", mode=MODE, priority="0")
        # The walk hands over an element named last in a path under any parent it may have (one-step
        # paths: under any parent at all): only one at most as deep as the longest path can be at
        # one, and building a deeper element's path would cost its depth, per element.
        depth = max((len(path) for path in self.paths), default=0)
        template = etree.SubElement(template, xsl("if"), test=f"empty(ancestor::*[{depth + 1}])")
        below_root = "ancestor-or-self::*[parent::*]"
        local_path = etree.SubElement(template, xsl("variable"), name="path")
        local_path.set("select", f"string-join({below_root} ! local-name(), '/')")
        etree.SubElement(template, xsl("variable"), name="found", select=f"${PATHS_VARIABLE}($path)")
        hit = etree.SubElement(template, xsl("if"), test="exists($found)")
        here = etree.SubElement(hit, xsl("variable"), name="namespaces")
        here.set("select", f"string-join({below_root} ! string(namespace-uri()), ' ')")
        each = etree.SubElement(hit, xsl("for-each"))
        each.set("select", f"$found[${NAMESPACES_VARIABLE}($path || ' ' || .) = $namespaces]")
        etree.SubElement(each, MARKER, k="{.}", rule=f"{{${RULES_VARIABLE}(.)}}")

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


def _expanded(qname: str, namespaces: Mapping[str | None, str]) -> tuple[str, str]:
    prefix, local = qname.split(":", 1)
    return (namespaces.get(prefix, f"unbound:{prefix}"), local)


def _string(text: str) -> str:
    """An XPath string literal of ``text``."""
    return "'" + text.replace("'", "''") + "'"


def fired_marker(rule: str) -> etree._Element:
    """The marker a rule with moved asserts writes first when it fires."""
    marker = etree.Element(FIRED)
    marker.set("rule", rule)
    return marker
