"""The documents a page offers as downloads: the invoice printed as a PDF (the API's renderer and the
process's print slots) and its UBL byte for byte, each named after the document's number and kind
(``render.file_names.Named``: a credit note's name is marked, an invoice's is its number alone), the kind's
word in the page's language (``note-de-credit-``, ``creditnota-``).

A PDF that cannot be made is no download: the handler answers the document's own page with the reason in
place (``PdfProblem``), busy print slots with a 503 and Retry-After, never a bare error page.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import anyio.to_thread
from fastapi.responses import Response

from gateway.errors import GatewayError
from gateway.model.message import DocumentContent
from gateway.render.file_names import Named, download_headers
from gateway.render.pdf import DocumentUnprintable, RenderBusy, RenderError, RenderTooLarge
from gateway.web.i18n import page_language
from gateway.web.pages import PageContext
from gateway.web.people import audit

log = logging.getLogger("gateway.web.downloads")

#: What the document's page says when its PDF is not made (``PdfProblem.message``).
PDF_BUSY: Final = "Every PDF printer of the gateway is busy. Try again in a moment."
PDF_TOO_LARGE: Final = "This document is too large to print as a PDF; its page shows it."
PDF_NOT_A_DOCUMENT: Final = "This document cannot be printed as a PDF: %(reason)s"
PDF_FAILED: Final = "The PDF of this document could not be made (error id %(error_id)s); its page shows it."


@dataclass(frozen=True, slots=True)
class PdfProblem:
    """Why the PDF was not made, as the document's page says it.

    Attributes:
        status: the page's HTTP status (422 the document's, 500 the printer's, 503 busy).
        message: one of the ``PDF_*`` texts (translated on the page), formatted with ``values``.
        values: the message's placeholders.
        retry_after: seconds for the Retry-After header (busy only).
    """

    status: int
    message: str
    values: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None

    def headers(self) -> dict[str, str]:
        """The page's extra headers."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


def ubl_download(context: PageContext, body: bytes, named: Named) -> Response:
    """The document's UBL, byte for byte, as a download named in the page's language."""
    audit.info("UBL download: %s by %s", context.request.url.path, context.person.name)
    return Response(
        body,
        media_type="application/xml",
        headers=download_headers(named.disposition("xml", page_language(context.request))),
    )


def _page_html(content: DocumentContent, language: str, attachment_url: Callable[[int], str]) -> str:
    """The standalone page of ``gateway.render`` the API prints (``GET …/render?format=pdf``)."""
    from gateway.render.html import render_stored  # Jinja2 etc. on first use

    return render_stored(
        content.body, content.validation_report, language=language, attachment_url=attachment_url
    )


def _failed(context: PageContext, exc: Exception, status: int) -> PdfProblem:
    """A failure logged with the page's address and a fresh error id that finds its traceback."""
    error_id = uuid.uuid4().hex
    log.error(
        "PDF of %s failed, error id %s",
        context.request.url.path,
        error_id,
        exc_info=exc,
        extra={"error_id": error_id},
    )
    return PdfProblem(status, PDF_FAILED, {"error_id": error_id})


async def pdf_download(
    context: PageContext,
    load: Callable[[], tuple[DocumentContent, Named]],
    attachments_url: str,
) -> Response | PdfProblem:
    """The document of ``load`` (its content and what names it, read in a worker thread) printed as a PDF
    in the page's language, or why not.

    A document the renderer refuses says so; the printer's failure, on this document or on any, is logged
    with the page's address and a fresh error id, and the page says only that id (as the inline rendering).
    """
    request = context.request
    language = page_language(request)
    content, named = await anyio.to_thread.run_sync(load)
    try:
        html = await anyio.to_thread.run_sync(
            _page_html, content, language, lambda index: f"{attachments_url}/{index}"
        )
        pdf = await context.services.print_slots.print(html, request.url.path)
    except RenderBusy:
        return PdfProblem(503, PDF_BUSY, retry_after=context.services.settings.server.retry_after_seconds)
    except RenderTooLarge:
        return PdfProblem(422, PDF_TOO_LARGE)
    except DocumentUnprintable as exc:  # the printer failed on this document's page
        return _failed(context, exc, 422)
    except RenderError as exc:  # the printer failed whatever the document (PrinterUnavailable)
        return _failed(context, exc, 500)
    except GatewayError as exc:  # not an invoice or credit note, malformed
        return PdfProblem(422, PDF_NOT_A_DOCUMENT, {"reason": str(exc)})
    except Exception as exc:  # the renderer's own bug on this document
        return _failed(context, exc, 500)
    audit.info("PDF download: %s by %s", request.url.path, context.person.name)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            **download_headers(named.disposition("pdf", language)),
            "Content-Language": language,
        },
    )


async def pdf_or_page(
    context: PageContext,
    load: Callable[[], tuple[DocumentContent, Named]],
    document_page: Callable[..., Response],
) -> Response:
    """The PDF of ``pdf_download`` (the page's PDF address ends in ``/document.pdf``; its attachments are
    beside it, ``…/attachments/{n}``), or the document's own page saying why not: ``document_page`` called
    with ``pdf_problem=`` in a worker thread, which answers with the problem's status and headers."""
    where = context.request.url.path.rsplit("/", 1)[0]
    answer = await pdf_download(context, load, f"{where}/attachments")
    if isinstance(answer, PdfProblem):
        problem = answer
        return await anyio.to_thread.run_sync(lambda: document_page(pdf_problem=problem))
    return answer
