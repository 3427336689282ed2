"""XPath read as text: string literals and bracket depth, as the fused rewrites rely on them."""

from __future__ import annotations

import pytest

from gateway.validation.fused.xpath_text import (
    argument_end,
    closing_parenthesis,
    outside_literals,
    split_operator,
    split_top_level,
)


def test_literals_are_skipped_and_brackets_get_the_depth_outside_them() -> None:
    text = "f('(]', [\"x\"])"
    assert [(char, depth) for _, char, depth in outside_literals(text)] == [
        ("f", 0),
        ("(", 0),
        (",", 1),
        (" ", 1),
        ("[", 1),
        ("]", 1),
        (")", 0),
    ]


def test_a_doubled_quote_stays_inside_the_literal() -> None:
    assert [char for _, char, _ in outside_literals("'it''s (' x")] == [" ", "x"]


@pytest.mark.parametrize(
    ("text", "separator", "parts"),
    [
        ("a/b[c/d]/e", "/", ["a", "b[c/d]", "e"]),
        ("(a|b)|c['|']", "|", ["(a|b)", "c['|']"]),
        ('a[@x="/"]/b', "/", ['a[@x="/"]', "b"]),
        ("//a", "/", ["", "", "a"]),
        ("a{b|c}|d", "|", ["a{b|c}", "d"]),
    ],
)
def test_split_top_level(text: str, separator: str, parts: list[str]) -> None:
    assert split_top_level(text, separator) == parts


@pytest.mark.parametrize(
    ("text", "keyword", "parts"),
    [
        ("a and b and (c and d)", "and", ["a", "b", "(c and d)"]),
        ("band and brand", "and", ["band", "brand"]),  # 'and' inside names does not split
        ("x = 'p and q' and y", "and", ["x = 'p and q'", "y"]),
        ("f(a)or(b)", "or", ["f(a)", "(b)"]),  # after ')' and before '('
        ("a or-else b", "or", ["a or-else b"]),
        ("or a", "or", ["or a"]),  # not at the start
        ("a or", "or", ["a or"]),  # nor at the end
        ("a[b or c] or d", "or", ["a[b or c]", "d"]),
    ],
)
def test_split_operator(text: str, keyword: str, parts: list[str]) -> None:
    assert split_operator(text, keyword) == parts


@pytest.mark.parametrize(
    ("text", "start", "index"),
    [
        ("(a(b)c)d", 1, 6),
        ("not(f(')') and g[(1)])", 4, 21),
        ("(')'", 1, -1),
        ("(a(b)", 1, -1),
    ],
)
def test_closing_parenthesis(text: str, start: int, index: int) -> None:
    assert closing_parenthesis(text, start) == index


@pytest.mark.parametrize(
    ("text", "start", "index"),
    [
        ("f(a(1, 2), b)", 2, 9),
        ("f(x[1, 2], ',', y)", 2, 9),
        ("f(last)", 2, -1),  # the call ends before any comma
        ("f(a, b", 5, -1),
    ],
)
def test_argument_end(text: str, start: int, index: int) -> None:
    assert argument_end(text, start) == index
