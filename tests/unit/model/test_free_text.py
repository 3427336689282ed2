"""Free text a person types: one definition of the characters it may not hold, used by the API's schemas
and by the workflow alike."""

from __future__ import annotations

import re
import unicodedata

import pytest
from lxml import etree

from gateway.api import expense_schemas, schemas
from gateway.errors import InvalidExpenseRequest
from gateway.model.free_text import (
    BLANK_CHARACTERS,
    CONTROL,
    TEXT_PATTERN,
    check_free_text,
    has_visible_character,
)


def test_the_pattern_and_the_search_refuse_the_same_characters() -> None:
    """The C0 controls but tab, line feed and carriage return, and U+FFFE and U+FFFF; nothing else of the
    first plane."""
    refused = {c for c in map(chr, range(0x10000)) if CONTROL.search(c)}
    assert refused == set(map(chr, range(0x20))) - {"\t", "\n", "\r"} | {"\ufffe", "\uffff"}
    assert {c for c in map(chr, range(0x10000)) if not re.fullmatch(TEXT_PATTERN, c)} == refused


def test_the_api_builds_its_text_patterns_from_the_model() -> None:
    """The API refused by a twin of the workflow's character class: now both read the model's."""
    assert expense_schemas.TEXT_PATTERN is TEXT_PATTERN
    number = schemas.DocumentNumberQuery.__metadata__[0]
    [pattern] = [m.pattern for m in number.metadata if hasattr(m, "pattern")]
    assert pattern == TEXT_PATTERN.replace("]*$", "]{1,200}$")


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \t\n\r",
        "\u200b",
        "\ufeff",
        "\u2060",
        "\u200b \u2060\ufeff\n",
        "\u00a0\u3000",
        "\u2028\u2029",
        "\x01\x7f",
        "\u3164",  # Hangul filler (a letter, Lo)
        "\u115f\u1160\uffa0",  # the other Hangul fillers
        "\u2800",  # Braille pattern blank (a symbol, So)
        "\u034f\ufe0f\U000e0100",  # combining grapheme joiner, variation selectors
        "\u3164 \u2800\u200b",
        "\u0301",  # a combining acute accent on nothing
        "\u0301\u0308 \u0e31",  # marks alone, Thai's included
        "\u202e\u0301",  # a bidi control and a mark
        "\u2065\ufff0\U000e0000\U000e0fff",  # unassigned, reserved default-ignorable
    ],
)
def test_a_text_of_blanks_and_invisible_characters_shows_nothing(text: str) -> None:
    assert not has_visible_character(text)


@pytest.mark.parametrize(
    "text",
    [
        "a",
        "\u200bok\u200b",
        "?",
        "\u00e9",
        "e\u0301",
        "\u0e01\u0e31",
        "\u20dd",
        "\u4e2d",
        "\U0001f600",
        "\u3164a",
        "\u2801",
        "\u2764\ufe0f",
    ],
)
def test_one_visible_character_is_enough(text: str) -> None:
    assert has_visible_character(text)


def test_every_character_the_pattern_lets_through_is_one_xml_carries() -> None:
    """The text reaches the supplier in an Invoice Response: lxml refused U+FFFE and U+FFFF with a
    ValueError, so a reject reason holding one passed the API and the workflow and was answered 500."""
    element = etree.Element("StatusReason")
    for code in (*range(0xD800), *range(0xE000, 0x10000)):  # surrogates never come out of a JSON body
        char = chr(code)
        if re.fullmatch(TEXT_PATTERN, char):
            element.text = char  # raises ValueError for a character XML 1.0 cannot carry


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("De\x07Eik", "the name holds a control character (only tabs and line breaks may be)"),
        ("a\ufffe", "the name holds a control character (only tabs and line breaks may be)"),
        ("\u200b \ufeff", "the name has no visible character (only blanks or invisible ones such as U+200B)"),
    ],
)
def test_free_text_is_checked_by_one_function_with_one_message(text: str, message: str) -> None:
    with pytest.raises(InvalidExpenseRequest) as refused:
        check_free_text(text, "the name")
    assert str(refused.value) == message
    check_free_text("De Eik\tbis\n", "the name")  # tabs and line breaks are text


def test_the_blank_characters_are_the_default_ignorables_outside_cf_and_the_braille_blank() -> None:
    """Hangul fillers (Lo) and the Braille blank (So) passed as visible: a reject reason or a unit name of
    U+3164 alone looked empty. Every blank is of a category the general rule counts as visible (else it
    need not be listed), and none of them is a control the pattern refuses already."""
    assert {"\u3164", "\u115f", "\u1160", "\uffa0", "\u2800"} <= BLANK_CHARACTERS
    assert {unicodedata.category(c) for c in BLANK_CHARACTERS} == {"Lo", "So", "Cn"}
    assert not any(CONTROL.search(c) for c in BLANK_CHARACTERS)
    with pytest.raises(InvalidExpenseRequest, match="has no visible character"):
        check_free_text("\u3164\u2800", "the reject reason")


def test_a_lone_surrogate_is_refused() -> None:
    """``json.loads`` (a units file) decodes an escaped lone surrogate: no text any store or XML takes."""
    with pytest.raises(InvalidExpenseRequest, match="the name holds a lone surrogate"):
        check_free_text("Dairy \ud800", "the name")
