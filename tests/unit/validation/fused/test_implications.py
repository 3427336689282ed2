"""Implication asserts evaluated once: which tests are rewritten, and that the rewrite keeps their value.

The values are checked with saxonche on small documents, every combination of "condition present"
and "consequence true"; the differential suite checks the official stylesheets' findings.
"""

from __future__ import annotations

import pytest
from saxonche import PySaxonProcessor

from gateway.validation.fused.implications import rewrite_implication

SINGLE = "(exists(//a[@k='1']) and count(//b) = 1 and (//c or //d)) or not(exists(//a[@k='1']))"
BARE_NOT = "(exists(//a[@k='1']) and count(//b) = 1) or not(//a[@k='1'])"
DE_MORGAN = "((exists(//a[@k='1']) or exists(//c)) and (count(//b) = 1)) or (not(//a[@k='1']) and not(//c))"


@pytest.mark.parametrize(
    ("test", "rewritten"),
    [
        (SINGLE, "if (exists(//a[@k='1'])) then (count(//b) = 1 and (//c or //d)) else true()"),
        (BARE_NOT, "if (exists(//a[@k='1'])) then (count(//b) = 1) else true()"),
        (DE_MORGAN, "if ((exists(//a[@k='1']) or exists(//c))) then ((count(//b) = 1)) else true()"),
    ],
)
def test_implications_are_rewritten(test: str, rewritten: str) -> None:
    assert rewrite_implication(test) == rewritten


@pytest.mark.parametrize(
    "test",
    [
        "(exists(//a) and //b) or not(exists(//c))",  # another condition on the right
        "(exists(//a) and //b or //c) or not(//a)",  # an 'or' inside the left conjuncts
        "(exists(//a) and //b) or not(//a) or //c",  # three alternatives
        "(exists(//a = 1) and //b) or not(//a = 1)",  # not(P) of a value is not not(exists(P))
        "(exists(a) and b) or not(a)",  # a relative bare not(P): could be a function call's value
        "(exists(//a) and f('x or y')) or not(exists(//b))",  # keywords inside strings do not split
        "not(//a)",
    ],
)
def test_other_tests_are_left_alone(test: str) -> None:
    assert rewrite_implication(test) == test


@pytest.mark.parametrize("test", [SINGLE, BARE_NOT, DE_MORGAN])
@pytest.mark.parametrize(
    "document",
    [
        "<r/>",
        "<r><a k='1'/></r>",
        "<r><a k='1'/><b/></r>",
        "<r><a k='1'/><b/><d/></r>",
        "<r><a k='2'/><b/><b/><c/></r>",
        "<r><c/><b/></r>",
        "<r><c/></r>",
    ],
)
def test_the_rewrite_keeps_the_value(test: str, document: str) -> None:
    saxon = PySaxonProcessor(license=False)
    xpath = saxon.new_xpath_processor()
    xpath.set_context(xdm_item=saxon.parse_xml(xml_text=document))
    original = xpath.evaluate_single(f"boolean({test})")
    rewritten = xpath.evaluate_single(f"boolean({rewrite_implication(test)})")
    assert original is not None
    assert rewritten is not None
    assert rewritten.get_atomic_value().boolean_value == original.get_atomic_value().boolean_value
