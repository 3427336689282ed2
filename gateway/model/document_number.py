"""A received business document's own number (BT-1 of an Invoice or CreditNote, the ``cbc:ID`` of an
ApplicationResponse) as stored beside the document, and the search support staff make for it.

The number is the sender's free text: stored stripped and bounded to ``MAX_DOCUMENT_NUMBER`` characters
(an expense's ``number`` holds as many), with its lower-case form as the search key, so a number read out
on the phone is found whatever its case. A search is the whole number, or a prefix ending in ``*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from gateway.errors import InvalidIdentifier

#: Characters of a document number stored (and searched); the rest of a longer one is dropped.
MAX_DOCUMENT_NUMBER: Final = 200
#: A trailing ``*`` asks for the numbers that start with what precedes it.
PREFIX_MARK: Final = "*"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def stored_number(text: str | None) -> str | None:
    """The number as stored: stripped and cut to ``MAX_DOCUMENT_NUMBER`` characters; None when blank."""
    if text is None:
        return None
    text = text.strip()[:MAX_DOCUMENT_NUMBER].strip()
    return text or None


def number_key(number: str) -> str:
    """The search key of a stored number: its lower-case form, within ``MAX_DOCUMENT_NUMBER`` characters
    (a few characters grow when lowered)."""
    return number.lower()[:MAX_DOCUMENT_NUMBER]


@dataclass(frozen=True, slots=True)
class NumberSearch:
    """The received documents whose number is ``key`` (or starts with it, ``prefix``), ignoring case.

    Attributes:
        key: the lower-case number, or its first characters.
        prefix: match the numbers starting with ``key``.
    """

    key: str
    prefix: bool = False

    @classmethod
    def parse(cls, text: str) -> NumberSearch:
        """A search as typed: the whole number, or its first characters followed by ``*``.

        Raises:
            InvalidIdentifier: blank, a control character, or longer than ``MAX_DOCUMENT_NUMBER``.
        """
        text = text.strip()
        prefix = text.endswith(PREFIX_MARK)
        if prefix:
            text = text[: -len(PREFIX_MARK)].rstrip()
        if not text:
            raise InvalidIdentifier("a document number to search for is empty")
        if _CONTROL.search(text):
            raise InvalidIdentifier("a document number holds no control character")
        if len(text) > MAX_DOCUMENT_NUMBER:
            raise InvalidIdentifier(f"a document number has at most {MAX_DOCUMENT_NUMBER} characters")
        return cls(number_key(text), prefix)

    def text(self) -> str:
        """The search as it is typed (the key, ``*`` after a prefix)."""
        return self.key + PREFIX_MARK if self.prefix else self.key
