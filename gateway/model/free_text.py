"""Free text a person types (reasons, questions, names): which characters it may not hold, and when it says
nothing at all.

One definition for every layer that checks such text: the API's request schemas (a pattern, 422 before the
route) and the services (``check_free_text``: the workflow's reasons, questions and answers, for the pages'
forms and any other caller; the units' names and members, from the API or a units file).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from gateway.errors import InvalidExpenseRequest

#: The characters XML 1.0 cannot carry (an Invoice Response carries the text to the supplier), as the ranges
#: of a regex character class: the C0 controls other than tab, line feed and carriage return (PostgreSQL
#: stores no NUL in text or JSON either) and the noncharacters U+FFFE and U+FFFF (lxml refuses them with a
#: ValueError: a 500, not a refusal). Not the surrogates (the API's regex engine takes none in a pattern):
#: the JSON parser refuses a body holding one, and ``check_free_text`` refuses them for the other callers (a
#: units file read with ``json.loads``, which decodes an escaped lone surrogate).
CONTROL_RANGES: Final = r"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
#: Finds a character of :data:`CONTROL_RANGES` in a text.
CONTROL: Final = re.compile(f"[{CONTROL_RANGES}]")
#: A whole text without any character of :data:`CONTROL_RANGES` (a pattern for pydantic and OpenAPI).
TEXT_PATTERN: Final = rf"^[^{CONTROL_RANGES}]*$"
#: Finds a lone surrogate: no Unicode text (UTF-8, XML and the database refuse it).
_SURROGATE: Final = re.compile("[\ud800-\udfff]")

#: Unicode general categories that show nothing by themselves: format characters (zero-width space
#: U+200B, word joiner U+2060, byte order mark U+FEFF), space, line and paragraph separators, controls,
#: and the nonspacing marks (``Mn``: an accent such as U+0301 shows on the character before it, and a text
#: of marks alone has none: it passed as visible).
_INVISIBLE_CATEGORIES: Final = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc", "Mn"})


#: Characters of other categories that show nothing either: the default-ignorable code points of Unicode
#: (DerivedCoreProperties.txt) outside ``Cf`` and ``Mn`` -- the Hangul fillers U+115F, U+1160, U+3164 and
#: U+FFA0 (letters, ``Lo``, drawn blank: a favourite for names that look empty) and the unassigned (``Cn``)
#: ones, reserved to be drawn as nothing once assigned: U+2065, U+FFF0 to U+FFF8 and those of U+E0000 to
#: U+E0FFF -- and the Braille pattern blank U+2800 (``So``), a cell without a dot. (The variation
#: selectors, the combining grapheme joiner and the Khmer inherent vowels are ``Mn``: invisible already.)
BLANK_CHARACTERS: Final = frozenset("\u115f\u1160\u2800\u3164\uffa0") | frozenset(
    char
    for char in map(chr, (0x2065, *range(0xFFF0, 0xFFF9), *range(0xE0000, 0xE1000)))
    if unicodedata.category(char) == "Cn"
)


def has_visible_character(text: str) -> bool:
    """True when ``text`` holds at least one character outside the invisible categories and
    :data:`BLANK_CHARACTERS`.

    Example:
        >>> has_visible_character("\\u200b \\ufeff\\t\\u3164"), has_visible_character("\\u200bok")
        (False, True)
    """
    return any(
        unicodedata.category(char) not in _INVISIBLE_CATEGORIES and char not in BLANK_CHARACTERS
        for char in text
    )


def check_free_text(text: str, what: str) -> None:
    """Refuse a free text holding a character of :data:`CONTROL_RANGES` or a lone surrogate, or nothing
    visible.

    Args:
        text: the text, as it will be kept.
        what: names it in the message (``the reject reason``, ``item 2: the name``).

    Raises:
        InvalidExpenseRequest: ``<what> holds a control character ...``, ``<what> holds a lone surrogate
            ...`` or ``<what> has no visible character ...``.
    """
    if CONTROL.search(text):  # an Invoice Response may carry it: XML holds no such character
        raise InvalidExpenseRequest(f"{what} holds a control character (only tabs and line breaks may be)")
    if _SURROGATE.search(text):  # not encodable: UTF-8 refuses it at the database, as XML would
        raise InvalidExpenseRequest(f"{what} holds a lone surrogate (not Unicode text)")
    if not has_visible_character(text):  # an empty-looking note, name or member
        raise InvalidExpenseRequest(
            f"{what} has no visible character (only blanks or invisible ones such as U+200B)"
        )
