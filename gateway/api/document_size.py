"""The business-document size limit of the API (``GATEWAY_VALIDATION__MAX_DOCUMENT_BYTES``).

The request-body limit (``GATEWAY_API__MAX_BODY_BYTES``) bounds what is read at all; this one bounds the
document a route converts, validates or submits, so every route answers the same 413 for the same document.
"""

from __future__ import annotations

from collections.abc import Sized

from fastapi import HTTPException


def check_document_size(body: Sized, limit: int) -> None:
    """Refuse a document above ``limit`` bytes.

    Raises:
        HTTPException: 413 (rendered as problem+json) when ``len(body) > limit``.
    """
    if len(body) > limit:
        raise HTTPException(
            status_code=413,
            detail=f"Document of {len(body)} bytes is larger than the {limit}-byte document limit",
        )
