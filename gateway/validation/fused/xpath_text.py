"""XPath read as text: its characters outside string literals, with their bracket depth.

The fused rewrites look at the XPath of the official stylesheets without parsing it: they split it
at top-level separators, find where a call or an argument ends. All of them read it the same way,
through ``outside_literals``: a string literal runs from a quote to the next same quote (a doubled
quote ``''`` ends and restarts it, which comes to the same), and ``(``, ``[`` and ``{`` open a
level that the next closing bracket ends. The text is trusted to be well-formed XPath; on anything
else the answers are merely unhelpful (a rewrite then does not apply), never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

OPENING = "([{"
CLOSING = ")]}"
_QUOTES = "'\""
_BEFORE_KEYWORD = " \t\r\n)"
_AFTER_KEYWORD = " \t\r\n("


def outside_literals(text: str, start: int = 0, depth: int = 0) -> Iterator[tuple[int, str, int]]:
    """Yield ``(index, char, depth)`` for each character of ``text[start:]`` outside string literals.

    ``depth`` counts the brackets open around the character (starting from ``depth``); a bracket
    itself gets the depth outside it, so a pair's opening and closing brackets get the same depth.
    Quotes delimiting literals are not yielded.
    """
    quote = ""
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in _QUOTES:
            quote = char
        elif char in OPENING:
            yield index, char, depth
            depth += 1
        elif char in CLOSING:
            depth -= 1
            yield index, char, depth
        else:
            yield index, char, depth


def split_top_level(text: str, separator: str) -> list[str]:
    """Split ``text`` at the ``separator`` characters outside brackets and string literals."""
    parts, start = [], 0
    for index, char, depth in outside_literals(text):
        if char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def split_operator(text: str, keyword: str) -> list[str]:
    """Split ``text`` at the top-level operator ``keyword`` (``and``, ``or``); the parts stripped.

    The keyword counts only outside brackets and string literals, after a blank or ``)`` and before
    a blank or ``(`` (so not inside a name such as ``band`` or ``or-else``).
    """
    parts, start = [], 0
    for index, _, depth in outside_literals(text):
        end = index + len(keyword)
        if (
            depth == 0
            and index >= start
            and text.startswith(keyword, index)
            and index > 0
            and text[index - 1] in _BEFORE_KEYWORD
            and end < len(text)
            and text[end] in _AFTER_KEYWORD
        ):
            parts.append(text[start:index].strip())
            start = end
    parts.append(text[start:].strip())
    return parts


def closing_parenthesis(text: str, start: int) -> int:
    """Index of the ``)`` closing the parenthesis just before ``text[start]`` (-1 when none)."""
    for index, char, depth in outside_literals(text, start, depth=1):
        if char == ")" and depth == 0:
            return index
    return -1


def argument_end(text: str, start: int) -> int:
    """Index of the top-level ``,`` ending the argument that starts at ``start`` (-1 when none).

    -1 also when a closing bracket ends the enclosing call first (the argument is the last one).
    """
    for index, char, depth in outside_literals(text, start):
        if depth < 0:
            return -1
        if char == "," and depth == 0:
            return index
    return -1


def every_term(predicate: str, term_holds: Callable[[str], bool]) -> bool:
    """Whether ``term_holds`` for every term of ``predicate``, a boolean combination of terms by ``and``,
    ``or``, ``not(...)`` and parentheses (each term as written, stripped of that combination)."""
    predicate = predicate.strip()
    terms = [term for disjunct in split_operator(predicate, "or") for term in split_operator(disjunct, "and")]
    if len(terms) > 1:
        return all(every_term(term, term_holds) for term in terms)
    for opening in ("not(", "("):
        if (
            predicate.startswith(opening)
            and closing_parenthesis(predicate, len(opening)) == len(predicate) - 1
        ):
            return every_term(predicate[len(opening) : -1], term_holds)
    return term_holds(predicate)
