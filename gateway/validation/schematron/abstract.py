"""Step 2 of ISO Schematron compilation: instantiate abstract patterns and abstract rules.

An instance pattern (``is-a``) gets a copy of the abstract pattern's content in which every
``$name`` of a ``param`` is replaced *textually* by the param's value, longest names first
(ISO/IEC 19757-3 §5.4.9; the CEN EN 16931 bindings rely on it with 269 + 777 params). Param
names are trimmed: four CEN 1.3.16 params carry a trailing blank ("VAT_breakdown ").
A rule's ``extends rule="x"`` is replaced by the content of the abstract rule ``x`` (§5.4.3).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from lxml import etree

from gateway.errors import SchematronError
from gateway.validation.schematron.namespaces import sch

#: Substitution passes per abstract rule chain before an ``extends`` loop is assumed.
MAX_EXTENDS_DEPTH = 32


class ParamSubstitution:
    """Textual ``$name`` -> value replacement with the longest matching name winning.

    Scanning once for ``$`` and probing the few distinct name lengths keeps the 777-param CEN
    syntax binding fast (a regex alternation of 777 names is not). A value is inserted verbatim
    and never rescanned.
    """

    def __init__(self, params: Mapping[str, str]) -> None:
        self._params = dict(params)
        self._lengths = sorted({len(name) for name in self._params}, reverse=True)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every ``$name`` of a known param replaced by its value."""
        if "$" not in text or not self._params:
            return text
        out: list[str] = []
        i = 0
        start = 0
        while True:
            i = text.find("$", i)
            if i < 0:
                break
            for length in self._lengths:
                name = text[i + 1 : i + 1 + length]
                if len(name) == length and name in self._params:
                    out.append(text[start:i])
                    out.append(self._params[name])
                    i += 1 + length
                    start = i
                    break
            else:
                i += 1
        out.append(text[start:])
        return "".join(out)


def _substitute_tree(element: etree._Element, substitute: ParamSubstitution) -> None:
    """Apply ``substitute`` to every attribute value under ``element`` (contexts, tests, selects)."""
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        for key, value in node.attrib.items():
            if "$" in str(value):
                node.set(key, substitute(str(value)))


def _params_of(instance: etree._Element) -> dict[str, str]:
    params: dict[str, str] = {}
    for param in instance.iterchildren(sch("param")):
        name = (param.get("name") or "").strip()
        value = param.get("value")
        if not name or value is None:
            raise SchematronError(
                "sch:param needs @name and @value", where=f"pattern {instance.get('id', '')}"
            )
        params[name] = value
    return params


def expand_abstract_patterns(schema: etree._Element) -> None:
    """Instantiate, in place, every ``pattern[@is-a]`` and drop the abstract patterns.

    Args:
        schema: the ``sch:schema`` element, includes already resolved.

    Raises:
        SchematronError: an ``is-a`` names no abstract pattern.
    """
    patterns = list(schema.iter(sch("pattern")))
    abstract = {p.get("id"): p for p in patterns if p.get("abstract") == "true"}
    for instance in patterns:
        target = instance.get("is-a")
        if target is None:
            continue
        source = abstract.get(target.strip())
        if source is None:
            raise SchematronError(f"is-a={target!r} names no abstract pattern", where=instance.get("id", ""))
        substitute = ParamSubstitution(_params_of(instance))
        replacement = etree.Element(sch("pattern"), nsmap=source.nsmap)  # type: ignore[arg-type]
        for key, value in instance.attrib.items():
            if key != "is-a":
                replacement.set(key, value)
        # The instance's own title/let/p stay; the abstract content follows, substituted.
        for child in instance:
            if isinstance(child.tag, str) and child.tag != sch("param"):
                replacement.append(copy.deepcopy(child))
        for child in source:
            if isinstance(child.tag, str):
                clone = copy.deepcopy(child)
                _substitute_tree(clone, substitute)
                replacement.append(clone)
        replacement.tail = instance.tail
        parent = instance.getparent()
        if parent is None:
            raise SchematronError("an instance pattern cannot be the document element")
        parent.replace(instance, replacement)
    for pattern in abstract.values():
        parent = pattern.getparent()
        if parent is not None:
            parent.remove(pattern)


def _abstract_rule_content(
    rule_id: str, rules: Mapping[str, etree._Element], depth: int
) -> list[etree._Element]:
    if depth > MAX_EXTENDS_DEPTH:
        raise SchematronError("extends cycle between abstract rules", where=rule_id)
    rule = rules.get(rule_id)
    if rule is None:
        raise SchematronError(f"extends rule={rule_id!r} names no abstract rule")
    content: list[etree._Element] = []
    for child in rule:
        if not isinstance(child.tag, str):
            continue
        if child.tag == sch("extends"):
            content.extend(_abstract_rule_content((child.get("rule") or "").strip(), rules, depth + 1))
        else:
            content.append(copy.deepcopy(child))
    return content


def expand_abstract_rules(schema: etree._Element) -> None:
    """Replace, in place, each ``extends rule=`` by the abstract rule's content; drop abstract rules.

    Args:
        schema: the ``sch:schema`` element, abstract patterns already expanded.

    Raises:
        SchematronError: an ``extends`` names no abstract rule, or abstract rules extend in a cycle.
    """
    rules = {r.get("id", ""): r for r in schema.iter(sch("rule")) if r.get("abstract") == "true"}
    for extends in list(schema.iter(sch("extends"))):
        rule_id = extends.get("rule")
        if rule_id is None:
            raise SchematronError("sch:extends needs @rule or @href")
        parent = extends.getparent()
        if parent is None or parent.get("abstract") == "true":
            continue  # resolved recursively when the abstract rule itself is used
        index = parent.index(extends)
        parent.remove(extends)
        for offset, element in enumerate(_abstract_rule_content(rule_id.strip(), rules, 0)):
            parent.insert(index + offset, element)
    for rule in rules.values():
        parent = rule.getparent()
        if parent is not None:
            parent.remove(rule)
