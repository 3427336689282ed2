"""The OpenAPI description of a response that is a document's file: its media types and the
``Content-Disposition`` that names it (``render.file_names``, as the pages' downloads and the e-mail
fallback's attachments are named)."""

from __future__ import annotations

from typing import Any, Final

#: What every document file's ``Content-Disposition`` holds.
FILE_NAME: Final = (
    "attachment; filename=\"<ASCII name>\"; filename*=UTF-8''<name, percent-encoded> (RFC 6266, RFC 5987). "
    "A document is named after its number, after its kind but for an invoice (credit-note-<number>, "
    "invoice-response-<number>, mls-<number>; an invoice's number alone), with the file's extension. The "
    "kind's word is English whatever the language of a rendering (?lang, Accept-Language): the API knows no "
    "reader (the pages and the e-mail fallback say it in their reader's language, note-de-credit-<number>, "
    "creditnota-<number>). Characters no file name may hold (path separators, quotes, control characters) "
    "are replaced, the number is cut at 100 characters, and a number that leaves no ASCII name gives one "
    "made of the id."
)

#: What an embedded file's ``Content-Disposition`` holds.
ATTACHMENT_NAME: Final = (
    "attachment; filename=\"<ASCII name>\"; filename*=UTF-8''<name, percent-encoded> (RFC 6266, RFC 5987): "
    "the supplier's own name of the file (cbc:EmbeddedDocumentBinaryObject/@filename) without path "
    "separators, control, bidi or zero-width characters, its stem cut at 100 characters, its extension kept; "
    "attachment-<n> when nothing is left"
)


def content_disposition_header(description: str = FILE_NAME) -> dict[str, dict[str, Any]]:
    """The ``headers`` of a file response in the OpenAPI document."""
    return {"Content-Disposition": {"description": description, "schema": {"type": "string"}}}


def file_response(description: str, *media_types: str, header: str = FILE_NAME) -> dict[str, Any]:
    """A 200 response that is a file of one of ``media_types``, named by its ``Content-Disposition``."""
    return {
        "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in media_types},
        "description": description,
        "headers": content_disposition_header(header),
    }
