"""Human-readable invoices and credit notes: any BIS Billing 3.0 UBL -> HTML (Jinja2) and PDF (WeasyPrint).

``read_view`` reads the document into a ``DocumentView``; ``render_html`` renders it with the package's
templates; ``html_to_pdf`` prints that same HTML. ``render_document`` does all three for a caller that
holds UBL bytes. A web page or an e-mail embeds ``render_fragment`` (the same templates) styled by
``stylesheet()``, or includes ``invoice/document.html`` through ``template_loader()``. Sans-IO apart
from the PDF printer, which refuses every external resource.
"""

from __future__ import annotations

import importlib.util
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from gateway.errors import ConfigurationError
from gateway.render.extract import ATTACHMENT_TYPES, EmbeddedFile, read_attachment, read_view
from gateway.render.i18n import DEFAULT_LANGUAGE, LANGUAGES, negotiate_language, translations
from gateway.render.pdf import MAX_PDF_HTML_CHARS, RenderError, RenderTooLarge, html_to_pdf
from gateway.render.view import DocumentView

if TYPE_CHECKING:
    from gateway.render.html import (
        FRAGMENT_TEMPLATE,
        STANDALONE_TEMPLATE,
        STYLESHEET_TEMPLATE,
        Finding,
        RenderOptions,
        ReportSummary,
        build_context,
        environment,
        render_fragment,
        render_html,
        stylesheet,
        template_loader,
    )

#: Names of ``gateway.render.html`` (Jinja2, Babel, segno), imported on first use: a ``serve`` or
#: ``worker`` process that renders nothing does not load them (≈ 4 MiB; BENCHMARKS.md, *Memory, seventh
#: pass*).
_HTML_NAMES = frozenset(
    {
        "FRAGMENT_TEMPLATE",
        "STANDALONE_TEMPLATE",
        "STYLESHEET_TEMPLATE",
        "Finding",
        "RenderOptions",
        "ReportSummary",
        "build_context",
        "environment",
        "render_fragment",
        "render_html",
        "stylesheet",
        "template_loader",
    }
)


#: What the lazily imported names need: checked at start-up (``require_page_packages``) without importing.
PAGE_PACKAGES = ("jinja2", "babel", "segno")


def require_page_packages() -> None:
    """Refuse to start when a package the pages and renderings import on first use is missing, rather
    than answer a 500 on every page while ``/healthz`` says ready; finding them imports nothing.

    Raises:
        ConfigurationError: a package is not installed.
    """
    missing = [name for name in PAGE_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"package(s) {', '.join(missing)} not installed: the pages and renderings need them"
        )


def __getattr__(name: str) -> Any:
    if name in _HTML_NAMES:
        from gateway.render import html

        return getattr(html, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class OutputFormat(StrEnum):
    """The rendered forms of a document, with their media types."""

    HTML = "html"
    PDF = "pdf"

    @property
    def media_type(self) -> str:
        """The HTTP media type of this form."""
        return "text/html; charset=utf-8" if self is OutputFormat.HTML else "application/pdf"


def render_document(data: bytes, output: OutputFormat, options: RenderOptions | None = None) -> bytes:
    """Render UBL bytes as HTML (UTF-8) or PDF.

    Raises:
        XMLInputError: not well-formed XML, DTD/entities, too large.
        MappingError: not a UBL Invoice or CreditNote.
        RenderTooLarge: the document is too large to print as a PDF.
        RenderError: the PDF could not be printed.
    """
    from gateway.render.html import render_html

    html = render_html(read_view(data), options)
    return html.encode("utf-8") if output is OutputFormat.HTML else html_to_pdf(html)


__all__ = [
    "ATTACHMENT_TYPES",
    "DEFAULT_LANGUAGE",
    "FRAGMENT_TEMPLATE",
    "LANGUAGES",
    "MAX_PDF_HTML_CHARS",
    "STANDALONE_TEMPLATE",
    "STYLESHEET_TEMPLATE",
    "DocumentView",
    "EmbeddedFile",
    "Finding",
    "OutputFormat",
    "RenderError",
    "RenderOptions",
    "RenderTooLarge",
    "ReportSummary",
    "build_context",
    "environment",
    "html_to_pdf",
    "negotiate_language",
    "read_attachment",
    "read_view",
    "render_document",
    "render_fragment",
    "render_html",
    "stylesheet",
    "template_loader",
    "translations",
]
