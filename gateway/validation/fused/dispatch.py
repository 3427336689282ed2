"""Which nodes can a rule's match pattern select? A static over-approximation, by element name.

The fused walk asks a pattern to match a node only when one of the pattern's rules could match it.
This module reads the last step of every branch of a match pattern (``a/b[...] | //c`` -> ``b``, ``c``;
``(a/b | c)[...]`` -> ``b``, ``c``)
and answers with the expanded element names it can match, the local-name suffixes of the elements it
can match (``//*[ends-with(name(), 'Amount') and ...]`` -> elements whose local name ends with
``Amount``), or "any element", "attributes", "the document node". Whatever it does not recognise widens
the answer to every node, so the filter can only ever let through too much, never too little; Saxon
still decides the actual match. For an element name it also reads the step before it: a branch
``P[...]/X[...]`` can only match an ``X`` whose parent is a ``P``, so when every branch naming ``X`` has
such a parent step, the pattern is tried only on the ``X`` elements under one of those parents
(``cac:TaxCategory/cbc:ID``, not the document's other ``cbc:ID``).

A pattern whose one rule matches any element under a predicate that cannot fail and does not depend
on position (Peppol R008, ``//*[not(*) and not(normalize-space())]``, tried on every element) gets
that predicate as a guard (``any_element_guard``): the walk tests it before applying the pattern, so
the elements it cannot match (nearly all) cost a test instead of a template dispatch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.validation.fused.xpath_text import (
    every_term,
    outside_literals,
    split_operator,
    split_top_level,
)

_NAME = re.compile(r"^(?:([A-Za-z_][\w.\-]*):)?([A-Za-z_][\w.\-]*)$")
#: ``ends-with(name(), 'S')`` or ``ends-with(local-name(), 'S')``, S a colon-free name part: true exactly
#: when the local name ends with S (``name()`` is ``prefix:local``; a suffix without ``:`` lies in local).
#: Terms of a guard predicate that can neither raise a dynamic error nor depend on the position of the
#: node: on an element, each is a node test of the child or attribute axis, or the string value.
_SAFE_TERMS = frozenset({"*", "node()", "text()", "normalize-space()", "string()", "@*"})
_SAFE_ATTRIBUTE = re.compile(r"^@[A-Za-z_][\w.\-]*$")  # unprefixed: no namespace binding involved
_SUFFIX_TEST = re.compile(r"^ends-with\(\s*(?:local-)?name\(\s*\)\s*,\s*'([\w.\-]+)'\s*\)$")


@dataclass(slots=True)
class Targets:
    """What a set of match patterns can match.

    Attributes:
        names: expanded names ``(namespace, local)`` of elements.
        parents: for a name of ``names`` every branch of which names its parent element: those
            parents' expanded names (a name absent here may have any parent).
        suffixes: elements whose local name ends with one of these.
        any_element: some branch ends in ``*``, ``ns:*``, ``*:x`` or something unrecognised.
        attributes: some branch can match an attribute.
        document: some branch can match the document node.
    """

    names: set[tuple[str, str]] = field(default_factory=set)
    parents: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)
    suffixes: set[str] = field(default_factory=set)
    any_element: bool = False
    attributes: bool = False
    document: bool = False

    def matches_name(self, namespace: str, local: str) -> bool:
        """Whether an element of this expanded name may match (``any_element`` aside)."""
        return (namespace, local) in self.names or any(local.endswith(s) for s in self.suffixes)

    def parents_of(self, namespace: str, local: str) -> set[tuple[str, str]] | None:
        """The parents an element of this name must have to match (None: any parent, or none)."""
        if any(local.endswith(s) for s in self.suffixes):
            return None
        return self.parents.get((namespace, local))

    def add_name(self, name: tuple[str, str], parent: tuple[str, str] | None) -> None:
        """Record a branch ending in element ``name`` whose parent must be ``parent`` (None: any)."""
        if parent is not None and (name not in self.names or name in self.parents):
            self.parents.setdefault(name, set()).add(parent)
        else:
            self.parents.pop(name, None)
        self.names.add(name)

    def widen(self) -> None:
        """Match everything (used for a step this module does not understand)."""
        self.any_element = self.attributes = self.document = True


def strip_predicates(step: str) -> str:
    """``cac:A[x][y]`` -> ``cac:A`` (predicates are top-level brackets at the end of the step)."""
    for index, char, depth in outside_literals(step):
        if char == "[" and depth == 0:
            return step[:index].strip()
    return step.strip()


def _first_predicate(step: str) -> str | None:
    """The text inside the first top-level ``[...]`` of ``step`` (None when it has none)."""
    start = None
    for index, char, depth in outside_literals(step):
        if char == "[" and depth == 0 and start is None:
            start = index + 1
        elif char == "]" and depth == 0 and start is not None:
            return step[start:index]
    return None


def _name_suffix(step: str) -> str | None:
    """S when ``step`` is ``*[ends-with(name(), 'S') and ...]...`` (the predicate's first conjunct)."""
    if not step.startswith("*["):
        return None
    predicate = _first_predicate(step)
    if predicate is None:
        return None
    found = _SUFFIX_TEST.match(split_operator(predicate.strip(), "and")[0])
    return found.group(1) if found else None


def _add_step(targets: Targets, branch: str, namespaces: Mapping[str, str]) -> None:
    branch = branch.strip()
    if branch == "/":
        targets.document = True
        return
    steps = split_top_level(branch, "/")
    suffix = _name_suffix(steps[-1].strip())
    if suffix is not None:
        targets.suffixes.add(suffix)
        return
    step = strip_predicates(steps[-1])
    if step.startswith("(") and step.endswith(")"):
        # ``(a/b | c/d)[p]``: the union's own branches (what the parenthesised union can match).
        for inner in split_top_level(step[1:-1], "|"):
            _add_step(targets, inner, namespaces)
        return
    if step.startswith("child::"):
        step = step[len("child::") :]
    if step.startswith(("@", "attribute::")):
        targets.attributes = True
        return
    if step == "*" or step.endswith(":*") or step.startswith("*:"):
        targets.any_element = True
        return
    name = expanded_name(step, namespaces)
    if name is None:
        targets.widen()
        return
    parent = expanded_name(strip_predicates(steps[-2]), namespaces) if len(steps) > 1 else None
    targets.add_name(name, parent)


def expanded_name(step: str, namespaces: Mapping[str, str]) -> tuple[str, str] | None:
    """The expanded name of a name test ``prefix:local`` / ``local`` (None: anything else, or an
    unknown prefix)."""
    name = _NAME.match(step.strip())
    if name is None:
        return None
    prefix, local = name.groups()
    if prefix is None:
        return ("", local)
    if prefix in namespaces:
        return (namespaces[prefix], local)
    return None


def targets_of(matches: list[str], namespaces: Mapping[str, str]) -> Targets:
    """The nodes the union of ``matches`` can select (an over-approximation).

    Args:
        matches: XSLT match patterns.
        namespaces: the stylesheet's prefix -> namespace URI bindings.
    """
    targets = Targets()
    for match in matches:
        for branch in split_top_level(match, "|"):
            _add_step(targets, branch, namespaces)
    return targets


def _safe_predicate(predicate: str) -> bool:
    """Whether ``predicate`` is built only of ``and``, ``or``, ``not(...)``, parentheses and
    ``_SAFE_TERMS`` (or an unprefixed ``@name``): on an element it is then true or false, never an
    error, and means the same in a match pattern's predicate and in an ``xsl:if`` with that element as
    the context item."""
    return every_term(predicate, lambda term: term in _SAFE_TERMS or _SAFE_ATTRIBUTE.match(term) is not None)


def any_element_guard(matches: list[str]) -> str | None:
    """The predicate P when ``matches`` is one rule ``*[P]`` (or ``//*[P]``) with P safe
    (``_safe_predicate``); None otherwise.

    The walk may then apply the pattern to an element only where P is true: where it is false no rule
    of the pattern matches (its one rule requires P), and the default rule writes nothing.
    """
    if len(matches) != 1:
        return None
    branch = matches[0].strip()
    if branch.startswith("//"):
        branch = branch[2:].lstrip()
    if len(split_top_level(branch, "|")) != 1 or len(split_top_level(branch, "/")) != 1:
        return None
    if not branch.startswith("*[") or not branch.endswith("]"):
        return None
    predicate = _first_predicate(branch)
    if predicate is None or f"*[{predicate}]" != branch or not _safe_predicate(predicate):
        return None
    return predicate.strip()
