"""The names of files handed to a person's browser - a printed invoice, its UBL, a file a supplier embedded
in an invoice - and the ``Content-Disposition`` that carries them (RFC 6266 §4.3, RFC 5987).

Every such name comes from a document someone else wrote: a number, an embedded file's own name. So it is
made safe here, once, for every download of the API and the pages: an ASCII ``filename`` (letters,
digits, ``._-``) for old clients and the name as written for ``filename*``, without control characters,
path separators or format characters (a right-to-left override shows ``INV\u202egpj.exe`` as
``INVexe.jpg``).

A number is unique per kind of document only (an invoice and a credit note may share one,
``model/number_series.py``), so a document's name starts with its kind (``kind_marker``), but an
invoice's: its number alone, as it always was. ``Named`` holds these rules for every file a document is
sent as: the pages' and the API's downloads, the e-mail fallback's attachments.

A kind's word is said in the reader's language where the gateway knows it: a page's (its download) and the
buyer's (the e-mail fallback), from the render catalogue (``locale/*/messages.po``, context ``file name``):
``note-de-credit-2026-0017.pdf``, ``creditnota-2026-0017.pdf``. The API knows no reader: its names are the
English ones. Peppol's own names (``invoice-response``, ``mls``, the reports') are said as the pages say
them, in English in every language. The words are ASCII, so ``filename`` and ``filename*`` are one name, as
the e-mail's attachments (``filename`` only) are.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from gateway.model.identifiers import BIS_CREDIT_NOTE, BIS_INVOICE, INVOICE_RESPONSE, DocumentTypeID
from gateway.model.responses import MLS_DOCUMENT_TYPE
from gateway.render.i18n import DEFAULT_LANGUAGE, translations

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


def _key(document_type: DocumentTypeID, customization: str | None = None) -> tuple[str, str, str | None]:
    """(root namespace, root name, customization or None for any) of a document type."""
    return document_type.root_namespace, document_type.root_name, customization


#: The kind a document's name starts with, by its UBL root and, for an ApplicationResponse, its
#: customization (the Peppol document type): an invoice has none. Another type is named by its root element
#: (``_root_marker``).
_MARKERS: Final = {
    _key(BIS_INVOICE): None,
    _key(BIS_CREDIT_NOTE): "credit-note",
    _key(INVOICE_RESPONSE, INVOICE_RESPONSE.customization_id): "invoice-response",
    _key(MLS_DOCUMENT_TYPE, MLS_DOCUMENT_TYPE.customization_id): "mls",
}
#: The message context of the kinds' words in the render catalogue: a word of a file name, not a label.
FILE_NAME_CONTEXT: Final = "file name"
#: The kinds whose word is said in the reader's language (``kind_word``); the others are Peppol's own names.
TRANSLATED_KINDS: Final = ("credit-note", "evidence")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
#: Longest marker made of a root element's name.
_MAX_MARKER: Final = 40


def _root_marker(root_name: str) -> str:
    """A root element's name in lower case, its words joined by dashes (``TransactionStatisticsReport``:
    ``transaction-statistics-report``); ``document`` when it has no ASCII word."""
    words = _WORD.findall(root_name)
    return "-".join(words).lower()[:_MAX_MARKER].strip("-") or "document"


def kind_marker(document_type: DocumentTypeID) -> str | None:
    """What the download names of a document of ``document_type`` start with: None for an invoice (its
    number alone), ``credit-note`` for a credit note, ``invoice-response`` and ``mls`` for the two
    ApplicationResponses, the root element's name in words for another type (``transaction-statistics-
    report`` for a Peppol TSR)."""
    for key in (_key(document_type), _key(document_type, document_type.customization_id)):
        if key in _MARKERS:
            return _MARKERS[key]
    return _root_marker(document_type.root_name)


def kind_word(kind: str, language: str = DEFAULT_LANGUAGE) -> str:
    """``kind`` (``kind_marker``, ``evidence``) as a file name says it in ``language``: one of
    ``TRANSLATED_KINDS`` from the render catalogue (context ``FILE_NAME_CONTEXT``; English, and a language
    without a catalogue, as it is), another as it is."""
    if kind not in TRANSLATED_KINDS:
        return kind
    return translations(language).pgettext(FILE_NAME_CONTEXT, kind)


def download_name(number: str, fallback: str, extension: str, *, kind: str | None = None) -> tuple[str, str]:
    """The file name of a document printed or downloaded: (``filename``, ``filename*``) made of its number
    and ``extension``, after ``kind`` and a dash when given (``kind_marker`` or its ``kind_word``: an invoice
    and a credit note of one number are two files; a kind is made safe as a number is); ``fallback`` (an
    ASCII name) when the number leaves no ASCII name."""
    plain, exact = _names(number, fallback)
    if kind:
        kind_plain, kind_exact = _names(kind, "document")
        plain, exact = f"{kind_plain}-{plain}", f"{kind_exact}-{exact}"
    return f"{plain}.{extension}", f"{exact}.{extension}"


def evidence_name(document_id: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """The file name of an outbound document's evidence zip: ``evidence-<document id>.zip``, its word in
    ``language`` (``kind_word``: the pages' download)."""
    return download_name(document_id, "document", "zip", kind=kind_word("evidence", language))


def attachment_name(filename: str, fallback: str) -> tuple[str, str]:
    """The file name of an embedded file (``cbc:EmbeddedDocumentBinaryObject/@filename``): its own name
    made safe as ``download_name`` does, its extension kept whatever the stem's length; ``fallback`` when
    nothing is left."""
    found = _EXTENSION.fullmatch(filename.strip())
    if found is None:
        return _names(filename, fallback)
    stem, extension = found.groups()
    return download_name(stem, fallback, extension)


#: What a download of a document file carries beside its name, on the pages and the API alike: a document
#: holds a person's or a company's data, so no browser or proxy cache keeps it; its media type is not sniffed
#: into another; opened in a browser it runs sandboxed (no script, no origin).
DOWNLOAD_HEADERS: Final = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
}


def download_headers(disposition: str) -> dict[str, str]:
    """The headers of a document file's download: ``disposition`` (``content_disposition``,
    ``Named.disposition``) and ``DOWNLOAD_HEADERS``."""
    return {"Content-Disposition": disposition, **DOWNLOAD_HEADERS}


def content_disposition(names: tuple[str, str]) -> str:
    """``attachment`` with the ASCII ``filename`` and the exact ``filename*`` of ``download_name`` or
    ``attachment_name``."""
    plain, exact = names
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(exact, safe='')}"


@dataclass(frozen=True, slots=True)
class Named:
    """What the files of a document are named after, wherever they go: a page's or the API's download, an
    attachment of the e-mail fallback.

    Attributes:
        number: the document's number (BT-1, or the ``cbc:ID`` of another document).
        document_type: its Peppol document type: its kind (``kind_marker``).
        fallback: the ASCII name used when the number leaves none (``document-{id}``).
    """

    number: str
    document_type: DocumentTypeID
    fallback: str

    def names(self, extension: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
        """(ASCII name, name as written) of the file with ``extension`` (``download_name``), its kind's word
        in the reader's ``language`` (``kind_word``; English for the API, which knows no reader)."""
        kind = kind_marker(self.document_type)
        return download_name(
            self.number, self.fallback, extension, kind=kind_word(kind, language) if kind else None
        )

    def disposition(self, extension: str, language: str = DEFAULT_LANGUAGE) -> str:
        """The ``Content-Disposition`` of the download with ``extension`` for a reader of ``language``."""
        return content_disposition(self.names(extension, language))
