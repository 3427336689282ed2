"""HTML -> PDF with WeasyPrint: the adapter that prints the rendered page.

WeasyPrint would fetch every URL the HTML names; a rendered document carries only ``data:`` URLs (the QR
code), so the fetcher refuses anything else: a hostile document cannot make the gateway reach the network
or read local files.

WeasyPrint (with Pango and its fonts) is imported on the first PDF, not with the module: about 35 MiB that
a ``gateway serve`` or ``worker`` that never prints a PDF does not carry.
"""

from __future__ import annotations

import logging
from typing import Final

from gateway.errors import GatewayError

#: The largest rendered page printed to PDF, in characters. WeasyPrint's time and memory grow with the
#: document's tables: the sample invoice with 1,000 lines is a 0.45 MB page printed in ≈ 9 s and 270 MiB,
#: with 4,000 lines 1.75 MB in ≈ 46 s and 800 MiB (2-core test machine); a 20 MB received invoice (the
#: document limit) would hold a worker for minutes and several GiB. 1,000,000 is ≈ 2,200 such lines; a larger
#: document is refused at once (its HTML rendering, which costs a second or so, still shows it).
MAX_PDF_HTML_CHARS: Final = 1_000_000


class RenderError(GatewayError):
    """Raised when the PDF cannot be produced from the rendered HTML (the subclasses say why)."""


class RenderTooLarge(RenderError):
    """Raised when the rendered page is too large to print as a PDF (``MAX_PDF_HTML_CHARS``)."""


class DocumentUnprintable(RenderError):
    """Raised when WeasyPrint fails while printing one document's page.

    The page is our templates filled with the document's values (escaped), and printing is deterministic:
    what makes this print fail where others succeed is the document's content, so it is the input's fault
    (the API answers 422 ``render-failed``; the HTML rendering still shows the document). The cause is kept
    (``__cause__``) for the log: a WeasyPrint bug to report upstream.
    """


class PrinterUnavailable(RenderError):
    """Raised when the printer itself fails, whatever the document: WeasyPrint or its libraries (Pango,
    HarfBuzz, fonts) cannot be loaded, or the process ran out of memory. Our fault (the API answers 500
    ``render-unavailable``)."""


class RenderBusy(RenderError):
    """Raised when every PDF print slot of the process stays taken for the whole wait
    (``settings.render.max_concurrent_pdfs``, ``pdf_wait_seconds``; ``gateway.bootstrap.slots``): a
    temporary state (the API answers 503 ``render-busy`` with Retry-After)."""


def check_printable(html: str) -> None:
    """Refuse at once a page too large to print, before it waits for a print slot or reaches WeasyPrint.

    Raises:
        RenderTooLarge: the page is longer than ``MAX_PDF_HTML_CHARS``.
    """
    if len(html) > MAX_PDF_HTML_CHARS:
        raise RenderTooLarge(
            f"the document is too large to print as a PDF ({len(html)} characters of HTML, at most "
            f"{MAX_PDF_HTML_CHARS}); its HTML rendering shows it"
        )


def _print(html: str) -> bytes:
    """The WeasyPrint call itself (the seam tests replace to make a print fail or take its time)."""
    import weasyprint  # here, not at the top: on the first PDF (module docstring)

    # Only data: URLs: no http(s), file or ftp fetch, whatever the HTML names.
    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",), allow_redirects=False, timeout=1)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None)
    pdf: bytes = document.write_pdf()
    return pdf


def html_to_pdf(html: str) -> bytes:
    """Print ``html`` (a complete page from ``render_html``) to PDF bytes, A4.

    Raises:
        RenderTooLarge: the page is longer than ``MAX_PDF_HTML_CHARS``, refused before WeasyPrint runs.
        PrinterUnavailable: WeasyPrint cannot be loaded, or memory ran out.
        DocumentUnprintable: WeasyPrint failed on this page.
    """
    check_printable(html)
    try:
        import weasyprint  # noqa: F401 - loaded here to tell a missing library from a failing print
    except (ImportError, OSError) as exc:  # OSError: cffi cannot load libpango/libharfbuzz
        raise PrinterUnavailable(f"the PDF printer cannot be loaded: {type(exc).__name__}") from exc
    # WeasyPrint reports every layout step at INFO; one line per page is noise in the gateway's log.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    try:
        return _print(html)
    except MemoryError as exc:
        raise PrinterUnavailable("the PDF printer ran out of memory") from exc
    except Exception as exc:
        # Any exception: WeasyPrint's layout raises more than ValueError/OSError/RuntimeError on odd input
        # (AssertionError, IndexError, KeyError...), and one escaping here was a bare 500 on the API and
        # stopped the e-mail fallback's compose (which expects a GatewayError). The message stays out of
        # the answer (it may quote the document); the cause goes to the log.
        raise DocumentUnprintable(
            f"the document could not be printed as a PDF ({type(exc).__name__} in the printer); "
            "its HTML rendering shows it"
        ) from exc
