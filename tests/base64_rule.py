"""``xs:base64Binary``'s lexical rule written out for tests, independent of ``gateway.model.document``'s
slice-by-slice judge: one regex over the whole text once XML's blanks are removed."""

from __future__ import annotations

import re
from typing import Final

#: Whole groups of four, the last one ``XX==`` (2nd character leaving no bits set) or ``XXX=`` (3rd
#: character likewise) when padded.
XSD_BASE64: Final = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?"
)


def schema_compact(value: str) -> str | None:
    """``value`` without XML's blanks (space, tab, CR, LF) if the schema accepts it, else None."""
    compact = re.sub(r"[ \t\r\n]", "", value)
    return compact if XSD_BASE64.fullmatch(compact) else None
