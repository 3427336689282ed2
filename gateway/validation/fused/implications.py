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

_EXISTS = re.compile(r"^exists\((.*)\)$", re.DOTALL)
_NOT = re.compile(r"^not\((.*)\)$", re.DOTALL)
_BEFORE = " \t\r\n)"
_AFTER = " \t\r\n("


def _split(text: str, keyword: str) -> list[str]:
    """Split ``text`` at the top-level boolean operator ``keyword`` (``and`` / ``or``), stripped parts.

    The keyword counts only outside brackets and string literals, between blanks or parentheses.
    """
    parts, depth, quote, start, index = [], 0, "", 0, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif (
            depth == 0
            and text.startswith(keyword, index)
            and index > 0
            and text[index - 1] in _BEFORE
            and text[index + len(keyword) : index + len(keyword) + 1] in tuple(_AFTER)
        ):
            parts.append(text[start:index].strip())
            index += len(keyword)
            start = index
            continue
        index += 1
    parts.append(text[start:].strip())
    return parts


def _unwrap(text: str) -> str:
    """``(X)`` -> ``X`` (repeatedly) when the outer parentheses enclose all of ``text``."""
    text = text.strip()
    while text.startswith("(") and _closing(text) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing(text: str) -> int:
    """Index of the parenthesis closing the one at ``text[0]`` (-1 when none)."""
    depth, quote = 0, ""
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _call(pattern: re.Pattern[str], text: str) -> str | None:
    """The argument of ``exists(...)`` / ``not(...)`` when that one call is all of ``text``."""
    found = pattern.match(text)
    name_end = text.find("(")
    if found is None or _closing(text[name_end:]) != len(text) - 1 - name_end:
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
    top, depth, quote = [], 0, ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0:
            top.append(char)
    return bool(_PATH_TOP.match("".join(top))) and text.startswith("/")


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
    for part in _split(_unwrap(condition), "or"):
        path = _call(_EXISTS, _unwrap(part))
        if path is None:
            return None
        paths.append(_same(path))
    return paths


def rewrite_implication(test: str) -> str:
    """``test`` evaluated with its condition once, when it has one of the module's shapes."""
    sides = _split(test, "or")
    if len(sides) != 2:
        return test
    conjuncts = _split(_unwrap(sides[0]), "and")
    if len(conjuncts) < 2 or any(len(_split(part, "or")) > 1 for part in conjuncts):
        return test
    paths = _condition_paths(conjuncts[0])
    absent = [_absent(part) for part in _split(_unwrap(sides[1]), "and")]
    if not paths or absent != paths:
        return test
    return f"if ({conjuncts[0]}) then ({' and '.join(conjuncts[1:])}) else true()"
