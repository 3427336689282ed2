"""The names of files handed to a person's browser - a printed invoice, its UBL, a file a supplier embedded
in an invoice - and the ``Content-Disposition`` that carries them (RFC 6266 §4.3, RFC 5987).

Every such name comes from a document someone else wrote: a number, an embedded file's own name. So it is
made safe here, once, for every download of the API and the pages: an ASCII ``filename`` (letters,
digits, ``._-``) for old clients and the name as written for ``filename*``, without control characters,
path separators or format characters (a right-to-left override shows ``INV\u202egpj.exe`` as
``INVexe.jpg``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote

#: Longest name kept, its extension apart.
MAX_NAME: Final = 100

_NOT_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NOT_IN_A_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")
#: Unicode categories never kept in a name: format characters (bidi controls, zero-width), surrogates.
_INVISIBLE: Final = frozenset({"Cf", "Cs"})
#: An embedded file's own extension, kept apart from its (shortened) stem: a few ASCII letters and digits.
_EXTENSION = re.compile(r"(.*)\.([A-Za-z0-9]{1,10})", re.DOTALL)


def _names(name: str, fallback: str) -> tuple[str, str]:
    """(ASCII name, name as written) of ``name`` made safe; ``fallback`` for what leaves nothing."""
    visible = "".join(ch for ch in name if unicodedata.category(ch) not in _INVISIBLE)
    exact = _NOT_IN_A_NAME.sub("-", " ".join(visible.split()))[:MAX_NAME].strip(" .-")
    folded = unicodedata.normalize("NFKD", exact).encode("ascii", "ignore").decode("ascii")
    plain = _NOT_SAFE.sub("-", folded).strip(".-")[:MAX_NAME] or fallback
    return plain, exact or plain


def download_name(number: str, fallback: str, extension: str) -> tuple[str, str]:
    """The file name of a document printed or downloaded: (``filename``, ``filename*``) made of its number
    and ``extension``; ``fallback`` (an ASCII name) when the number leaves no ASCII name."""
    plain, exact = _names(number, fallback)
    return f"{plain}.{extension}", f"{exact}.{extension}"


def attachment_name(filename: str, fallback: str) -> tuple[str, str]:
    """The file name of an embedded file (``cbc:EmbeddedDocumentBinaryObject/@filename``): its own name
    made safe as ``download_name`` does, its extension kept whatever the stem's length; ``fallback`` when
    nothing is left."""
    found = _EXTENSION.fullmatch(filename.strip())
    if found is None:
        return _names(filename, fallback)
    stem, extension = found.groups()
    return download_name(stem, fallback, extension)


def content_disposition(names: tuple[str, str]) -> str:
    """``attachment`` with the ASCII ``filename`` and the exact ``filename*`` of ``download_name`` or
    ``attachment_name``."""
    plain, exact = names
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(exact, safe='')}"
