"""Overlong runs of combining marks ("zalgo" text), cut for display: every value the templates show.

Any Peppol sender writes the free text of a document (a note, an item name, a party name). A run of
thousands of combining marks on one character is one grapheme cluster, which Pango lays out in time
quadratic in its length: 50,000 acute accents on one letter in a line's name held a PDF print slot for
32 s, in the seller's name (shown four times) for 416 s (2-core test machine; BENCHMARKS.md, *Rendering of
combining-mark floods*), while the same 50,000 accents each on its own letter print in half a second.
The Stream-Safe Text Format (UAX #15 §13) does not help: the combining grapheme joiner it inserts after 30
non-starters is itself a mark (``Mn``, Grapheme_Extend), so the cluster stays whole and printed as slowly
(measured). The run is cut instead: its first ``MAX_MARK_RUN`` marks are kept and ``SHORTENED`` shows that
the rest was left out.

Display only: the stored document and its XML download keep every character.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Final, TypeVar

T = TypeVar("T")

#: The longest run of marks shown: the bound UAX #15 §13 puts on a run of non-starters, far above what a
#: language writes (Vietnamese stacks two marks on a letter, Hebrew with points and cantillation a few).
MAX_MARK_RUN: Final = 30
#: What replaces the marks past ``MAX_MARK_RUN``: a visible sign that the text was shortened (a character
#: of its own, not a mark, so that a second pass finds nothing to cut).
SHORTENED: Final = "\u2026"
#: Characters that extend the grapheme cluster of the character before them without starting one
#: (UAX #29 ``Extend`` and ``ZWJ``): marks (``Mn``, ``Mc``, ``Me``), the zero-width joiners, the emoji
#: modifiers (``Sk``) and the tag characters (``Cf``) of emoji tag sequences.
_CATEGORIES: Final = frozenset({"Mn", "Mc", "Me"})
_EXTRA: Final = "\u200c\u200d\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
#: Planes holding marks: the Basic and Supplementary Multilingual Planes, and the variation selectors
#: supplement (U+E0100 to U+E01EF) of the Supplementary Special-purpose Plane.
_MARK_PLANES: Final = (range(0x20000), range(0xE0000, 0xE1000))


@cache
def _overlong_run() -> re.Pattern[str]:
    """Finds the marks past the first ``MAX_MARK_RUN`` of a run (built from this Python's Unicode data on
    first use: ≈ 20 ms)."""
    ranges: list[str] = []
    start = previous = -2
    for code in (code for plane in _MARK_PLANES for code in plane):
        if unicodedata.category(chr(code)) not in _CATEGORIES:
            continue
        if code != previous + 1:
            if start >= 0:
                ranges.append(_span(start, previous))
            start = code
        previous = code
    ranges.append(_span(start, previous))
    extend = f"[{''.join(ranges)}{_EXTRA}]"
    return re.compile(f"(?<={extend}{{{MAX_MARK_RUN}}}){extend}+")


def _span(first: int, last: int) -> str:
    return re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"


def cap_mark_runs(text: str) -> str:
    """``text`` with every run of more than ``MAX_MARK_RUN`` marks cut to its first ``MAX_MARK_RUN`` and
    ``SHORTENED``; ``text`` itself when it has none (idempotent).

    Example:
        >>> cap_mark_runs("Z" + "\\u0301" * 1000) == "Z" + "\\u0301" * 30 + "\\u2026"
        True
    """
    if text.isascii():
        return text
    return _overlong_run().sub(SHORTENED, text)


def shown(value: T) -> T:
    """The Jinja2 ``finalize`` of the rendering templates: every ``{{ … }}`` output passes here before it is
    escaped. Text (and ``Markup``, kept as such: a macro's output is not escaped twice) has its overlong
    mark runs cut; other values (numbers, dates, ``None``) pass unchanged."""
    if isinstance(value, str):
        capped = cap_mark_runs(value)
        if capped is not value:
            return type(value)(capped)
    return value
