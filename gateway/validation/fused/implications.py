"""Implication asserts evaluated once: ``(A and C) or not(A)`` becomes ``if (A) then C else true()``.

The CEN root rule states most VAT-category rules (BR-AE-01, BR-E-02, BR-S-03 ...) as "if the
document has a category X, then ...", written ``(exists(P) and C) or not(exists(P))``: the search P
over the whole document runs twice whenever the category is absent, which is the common case (nine
categories, four or five such asserts each). The rewrite evaluates P once and is exact: when A is
true both forms are C (the original's ``not(A)`` is then false); when A is false both are true and
neither evaluates C (``and`` stops at its false left operand); an error in A or C is raised by both.

Recognised shapes, after whitespace normalisation, with the same P on both sides:

* ``(exists(P) and C1 and ...) or not(exists(P))``, and ``... or not(P)`` (the boolean value of a
  path is ``exists``);
* ``((exists(P1) or exists(P2) ...) and C ...) or (not(P1) and not(P2) ...)`` (De Morgan).

Anything else is left unchanged.
"""

from __future__ import annotations

import re

from gateway.validation.fused.xpath_text import (
    CLOSING,
    OPENING,
    closing_parenthesis,
    outside_literals,
    split_operator,
)

_EXISTS = re.compile(r"^exists\((.*)\)$", re.DOTALL)
_NOT = re.compile(r"^not\((.*)\)$", re.DOTALL)


def _unwrap(text: str) -> str:
    """``(X)`` -> ``X`` (repeatedly) when the outer parentheses enclose all of ``text``."""
    text = text.strip()
    while text.startswith("(") and closing_parenthesis(text, 1) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _call(pattern: re.Pattern[str], text: str) -> str | None:
    """The argument of ``exists(...)`` / ``not(...)`` when that one call is all of ``text``."""
    found = pattern.match(text)
    name_end = text.find("(")
    if found is None or closing_parenthesis(text, name_end + 1) != len(text) - 1:
        return None
    return found.group(1).strip()


def _same(text: str) -> str:
    return " ".join(text.split())


_PATH_TOP = re.compile(r"^/[\w.\-:/*@|]*$")


def _is_path(text: str) -> bool:
    """An absolute path (``//a/b[...]``, ``/x|/y``...): its boolean value is ``exists`` of it.

    Checked on the text outside brackets and parentheses: names, ``/``, ``*``, ``@``, ``|`` only
    (no comparison, arithmetic or keyword, which would make it a value rather than nodes).
    """
    top = "".join(c for _, c, depth in outside_literals(text) if depth == 0 and c not in OPENING + CLOSING)
    return bool(_PATH_TOP.match(top)) and text.startswith("/")


def _absent(text: str) -> str | None:
    """P when ``text`` is ``not(exists(P))``, or ``not(P)`` with P an absolute path."""
    inner = _call(_NOT, _unwrap(text))
    if inner is None:
        return None
    inner = _unwrap(inner)
    found = _call(_EXISTS, inner)
    if found is not None:
        return _same(found)
    return _same(inner) if _is_path(inner) else None


def _condition_paths(condition: str) -> list[str] | None:
    """[P] for ``exists(P)``, [P1, P2, ...] for ``exists(P1) or exists(P2) ...``."""
    paths = []
    for part in split_operator(_unwrap(condition), "or"):
        path = _call(_EXISTS, _unwrap(part))
        if path is None:
            return None
        paths.append(_same(path))
    return paths


def rewrite_implication(test: str) -> str:
    """``test`` evaluated with its condition once, when it has one of the module's shapes."""
    sides = split_operator(test, "or")
    if len(sides) != 2:
        return test
    conjuncts = split_operator(_unwrap(sides[0]), "and")
    if len(conjuncts) < 2 or any(len(split_operator(part, "or")) > 1 for part in conjuncts):
        return test
    paths = _condition_paths(conjuncts[0])
    absent = [_absent(part) for part in split_operator(_unwrap(sides[1]), "and")]
    if not paths or absent != paths:
        return test
    return f"if ({conjuncts[0]}) then ({' and '.join(conjuncts[1:])}) else true()"
