"""A rule whose match pattern is a union, split into one template per branch: an exact rewrite.

Saxon indexes a mode's template rules by the element name their pattern ends in; a union pattern such
as ``cac:InvoiceLine | cac:CreditNoteLine`` (or ``cbc:EndpointID[@schemeID = '0088'] |
cac:PartyIdentification/cbc:ID[@schemeID = '0088'] | cbc:CompanyID[@schemeID = '0088']``) names no one
element, so Saxon tries it on every node the mode is applied to, after the rules of that node's name
(Peppol's pattern of 31 rules has 24 unions: most of the cost of choosing its rule). One template per
branch, each with the rule's priority and calling the rule's one body (a named template), is indexed by
name and selects the same rule on the same nodes:

* a node matches the union exactly when it matches some branch, and the branches keep the rule's place
  among the pattern's rules (its priority);
* when two branches match one node (only possible when they end in the same name), both call the same
  body: the mode is declared ``on-multiple-match="use-last"`` without a warning;
* a dynamic error while matching makes a pattern not match (XSLT 3.0, 6.4): in a union an error in one
  branch makes the whole union fail for that node, split it only fails its branch. A branch is tried
  only on the elements of its last step's name (Saxon tests the name before any predicate), so this can
  differ only between branches ending in the same name, and those are split only when their predicates
  cannot raise an error (``error_free``: paths of names, ``and``, ``or``, ``not()`` and ``=`` / ``!=``
  against a string literal - an untyped value is compared as a string), or when they share their last
  step and only its predicates may raise (``cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory[
  normalize-space(cbc:ID) = 'S'] | cac:CreditNoteLine/cac:Item/cac:ClassifiedTaxCategory[
  normalize-space(cbc:ID) = 'S']``: the same predicates on the same node, so an error fails every
  branch, as it fails the union).

Any other union (a wildcard, attribute or parenthesised branch, an unknown prefix, branches ending in
one name whose other steps may raise, e.g. ``ubl:Invoice[$country = 'DK']/cac:X | cn:CreditNote[
$country = 'DK']/cac:X``, or whose last steps differ and may raise) stays one template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.validation.fused.dispatch import expanded_name, strip_predicates
from gateway.validation.fused.xpath_text import (
    every_term,
    outside_literals,
    split_top_level,
)

#: A name test (``cbc:ID``, ``ID``), an attribute (``@schemeID``, ``@x:y``) or ``*``: a path step that
#: selects nodes and never raises an error.
_STEP = re.compile(r"^(?:@?(?:[A-Za-z_][\w.\-]*:)?[A-Za-z_][\w.\-]*|\*)$")
_LITERAL = re.compile(r"^(?:'[^']*'|\"[^\"]*\")$")


def exact_branches(match: str, namespaces: Mapping[str, str]) -> list[str] | None:
    """The branches of the union ``match`` when one template per branch selects exactly the nodes the
    union does (see the module); None otherwise (not a union, or not safe to split).

    Args:
        match: an XSLT match pattern (without a leading ``//``, see ``patterns``).
        namespaces: the stylesheet's prefix -> namespace URI bindings.
    """
    branches = [branch.strip() for branch in split_top_level(match, "|")]
    if len(branches) < 2:
        return None
    by_name: dict[tuple[str, str], list[str]] = {}
    for branch in branches:
        steps = split_top_level(branch, "/")
        name = expanded_name(strip_predicates(steps[-1]), namespaces)
        if name is None:
            return None
        by_name.setdefault(name, []).append(branch)
    for same in by_name.values():
        if len(same) > 1 and not _same_outcome(same):
            return None
    return branches


def _same_outcome(branches: list[str]) -> bool:
    """Whether branches ending in one name fail alike on an error: none of their predicates can raise,
    or only those of their common last step (it is evaluated on the same node whichever branch Saxon
    tries, so an error there makes every branch fail, as it makes the union fail)."""
    if all(error_free_steps(branch) for branch in branches):
        return True
    lasts = set()
    for branch in branches:
        steps = split_top_level(branch, "/")
        lasts.add(" ".join(steps[-1].split()))
        if not error_free_steps("/".join(steps[:-1])):
            return False
    return len(lasts) == 1


def error_free_steps(path: str) -> bool:
    """Whether every predicate of every step of ``path`` is ``error_free`` (steps of names only)."""
    for step in split_top_level(path, "/"):
        step = step.strip()
        if not step:  # ``//``
            continue
        head = strip_predicates(step)
        if not _STEP.match(head):
            return False
        predicates = _predicates(step[len(head) :])
        if predicates is None or not all(error_free(predicate) for predicate in predicates):
            return False
    return True


def error_free(predicate: str) -> bool:
    """Whether ``predicate`` can never raise a dynamic error: ``and`` / ``or`` / ``not()`` /
    parentheses over paths of names (``error_free_steps``) or their ``=`` / ``!=`` with a string
    literal."""
    return every_term(predicate, _error_free_term)


def _error_free_term(term: str) -> bool:
    sides = _comparison(term)
    if sides is not None:
        left, right = sides
        return (_LITERAL.match(right) is not None and _path(left)) or (
            _LITERAL.match(left) is not None and _path(right)
        )
    return _path(term)


def _path(text: str) -> bool:
    text = text.strip()
    return bool(text) and not text.startswith("/") and not text.endswith("/") and error_free_steps(text)


def _comparison(text: str) -> tuple[str, str] | None:
    """``(left, right)`` of a top-level ``=`` or ``!=`` (None: no such comparison, or several)."""
    found = [
        index
        for index, char, depth in outside_literals(text)
        if char == "=" and depth == 0 and text[index - 1 : index] not in ("<", ">")
    ]
    if len(found) != 1:
        return None
    index = found[0]
    left_end = index - 1 if text[index - 1 : index] == "!" else index
    return text[:left_end].strip(), text[index + 1 :].strip()


def _predicates(rest: str) -> list[str] | None:
    """The predicates ``[...][...]`` that make up ``rest`` (the step after its node test)."""
    predicates, start = [], None
    for index, char, depth in outside_literals(rest):
        if char == "[" and depth == 0 and start is None:
            start = index + 1
        elif char == "]" and depth == 0 and start is not None:
            predicates.append(rest[start:index])
            start = None
        elif depth == 0 and start is None and not char.isspace():
            return None
    return predicates
