"""Existence guards for runs of "shall not be used" asserts (an exact rewrite, order kept).

An assert ``not(S1/S2/...)`` (name steps, or unions of names) can only fail when ``S1`` exists, and
``S1/S2``...; consecutive asserts sharing leading steps are nested under ``xsl:if`` tests of those
steps, so a document without them skips the whole run in one test. Where a level has many different
next steps (the CEN root rule: hundreds of ``not(cbc:X)``, ``not((cac:InvoiceLine|cac:CreditNoteLine)/
cbc:Y)``), the names of the children present are read once into a map and each guard is a lookup,
instead of one scan of the children (of every line) per assert. Assert order is unchanged, so is the
order of the findings.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.validation.fused.skeleton import xsl
from gateway.validation.fused.xpath_text import closing_parenthesis

_QNAME = r"[A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*"
_STEP = re.compile(rf"{_QNAME}|\((?:\s*{_QNAME}\s*\|)+\s*{_QNAME}\s*\)")


def absent_steps(node: etree._Element) -> list[str] | None:
    """The leading name steps of P when ``node`` is an assert ``xsl:choose`` testing ``not(P)``.

    A step is a QName or a parenthesised union of QNames; the steps stop at the first other token.
    None when the test is not a single ``not(...)`` starting with such a step.
    """
    if node.tag != xsl("choose") or len(node) == 0 or node[0].tag != xsl("when"):
        return None
    test = node[0].get("test", "").strip()
    if not test.startswith("not(") or closing_parenthesis(test, len("not(")) != len(test) - 1:
        return None
    path, steps, position = test[len("not(") : -1].strip(), [], 0
    while True:
        found = _STEP.match(path, position)
        if found is None:
            break
        steps.append(found.group(0))
        position = found.end()
        if path.startswith("/", position) and not path.startswith("//", position):
            position += 1
            continue
        break
    if not steps or (position < len(path) and path[position] not in "[/) "):
        return None
    return steps


_QNAME_STEP = re.compile(rf"^{_QNAME}$")
#: A level with at least this many different next name steps reads its children's names into a map.
NAMES_MAP_FROM = 4
_Item = tuple[list[str], etree._Element]


class _Guards:
    """Builds the nested guards of one rule; numbers the names-map variables it declares."""

    def __init__(self) -> None:
        self.variables = 0

    def names_map(self, parent: etree._Element, children: str) -> str:
        """Declare in ``parent`` a map of the node names of ``children``; return the variable name."""
        self.variables += 1
        name = f"fused-names-{self.variables}"
        variable = etree.SubElement(parent, xsl("variable"))
        variable.set("name", name)
        entries = f"for $e in {children} return map:entry(node-name($e), true())"
        variable.set("select", f"map:merge(({entries}), map{{'duplicates': 'use-first'}})")
        return name

    def group(self, parent: etree._Element, items: list[_Item], depth: int, names: str | None) -> None:
        """Append ``items`` to ``parent``, runs sharing the step at ``depth`` nested under guards.

        Args:
            names: a map of the names of the children at ``depth`` (when the level has one).
        """
        runs = self._runs(items, depth)
        if names is None and len({s for s, run in runs if s and _QNAME_STEP.match(s)}) >= NAMES_MAP_FROM:
            names = self.names_map(parent, "/".join([*items[0][0][:depth], "*"]))
        for step, run in runs:
            if step is None or (len(run) < 2 and (names is None or not _QNAME_STEP.match(step))):
                parent.extend(node for _, node in run)
                continue
            guard = etree.SubElement(parent, xsl("if"))
            if names is not None and _QNAME_STEP.match(step):
                guard.set("test", f"map:contains(${names}, xs:QName('{step}'))")
            else:
                guard.set("test", "/".join(run[0][0][: depth + 1]))
            if len(run) < 2:
                guard.append(run[0][1])
            else:
                self.group(guard, run, depth + 1, None)

    @staticmethod
    def _runs(items: list[_Item], depth: int) -> list[tuple[str | None, list[_Item]]]:
        """Consecutive items grouped by their step at ``depth`` (None: an item with no such step)."""
        runs: list[tuple[str | None, list[_Item]]] = []
        for item in items:
            step = item[0][depth] if len(item[0]) > depth else None
            if step is not None and runs and runs[-1][0] == step:
                runs[-1][1].append(item)
            else:
                runs.append((step, [item]))
        return runs


def guard_absent_runs(body: list[etree._Element]) -> list[etree._Element]:
    """``body`` with consecutive ``not(P)`` asserts nested under existence tests of their common steps.

    ``not(S1/S2/...)`` can only fail when ``S1`` (and ``S1/S2``...) exists, so a guard that does not
    hold skips asserts that would all have passed; order and findings are unchanged.
    """
    guards = _Guards()
    holder = etree.Element(xsl("sequence"))
    run: list[_Item] = []
    for node in [*body, None]:
        steps = None if node is None else absent_steps(node)
        if steps is not None and node is not None:
            run.append((steps, node))
            continue
        guards.group(holder, run, 0, None)
        run = []
        if node is not None:
            holder.append(node)
    return list(holder)
