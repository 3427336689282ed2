"""When two spellings name the same legal name: the cooperative's configured one (``GATEWAY_SELLER_NAME``)
and a posted document's seller name (BT-27), compared by ``gateway.services.seller_identity``.

The comparison forgives spelling, not another name: ``legal_name_key`` is the name

- in Unicode compatibility form (NFKC: composed accents, full-width letters, a no-break space as a blank),
- case-folded (``casefold``: ``ß`` is ``ss``),
- with every run of blanks one space, none at either end,
- and its trailing Belgian legal form (``BELGIAN_LEGAL_FORMS``) written without dots or blanks:
  ``S.C.R.L.``, ``s. c. r. l.`` and ``SCRL`` are one form, so are ``C.V.``, ``C V`` and ``CV``.

Nothing else: dots and blanks elsewhere in the name are part of it (``S.A.M. Bouw`` is not ``SAM Bouw``), a
legal form that does not end the name is a word of it, one legal form is never another (``CV`` is not its
French ``SC``, the old ``SCRL`` or ``CVBA`` not the ``CV`` of 2019), and letters that merely look alike (a
Cyrillic ``С`` for a Latin ``C``) are other letters.
"""

from __future__ import annotations

import unicodedata
from typing import Final

#: Abbreviations of Belgian legal forms, as the trailing word(s) of a legal name (case-folded, without dots
#: or blanks): the Code of companies and associations (2019) in French and Dutch, the European forms, and
#: the older forms that names still carry.
BELGIAN_LEGAL_FORMS: Final = frozenset(
    {
        "srl", "bv", "sa", "nv", "sc", "cv", "snc", "vof", "scomm", "commv", "asbl", "vzw", "aisbl", "ivzw",
        "se", "sce", "sprl", "bvba", "sprlu", "ebvba", "scrl", "cvba", "scri", "cvoa", "scs", "gcv", "sca",
        "commva", "gie", "esv",
    }
)  # fmt: skip
#: Most blank-separated words a legal form is written in (``a. i. s. b. l.``).
_MOST_FORM_WORDS: Final = 5


def _legal_form(words: list[str]) -> str | None:
    """The legal form ``words`` spell without dots, or None when they spell none."""
    if not all(word.replace(".", "").isalpha() for word in words):
        return None
    form = "".join(words).replace(".", "")
    return form if form in BELGIAN_LEGAL_FORMS else None


def legal_name_key(name: str) -> str:
    """``name`` as legal names compare (the module's rules): same key, same legal name."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    words = folded.split()
    for count in range(min(len(words), _MOST_FORM_WORDS), 0, -1):  # the longest spelling of a form first
        form = _legal_form(words[-count:])
        if form is not None:
            words[-count:] = [form]
            break
    return " ".join(words)


def same_legal_name(one: str, other: str) -> bool:
    """Whether ``one`` and ``other`` are spellings of the same legal name (``legal_name_key``)."""
    return legal_name_key(one) == legal_name_key(other)
