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
    """Raised when the PDF cannot be produced from the rendered HTML."""


class RenderTooLarge(RenderError):
    """Raised when the rendered page is too large to print as a PDF (``MAX_PDF_HTML_CHARS``)."""


def html_to_pdf(html: str) -> bytes:
    """Print ``html`` (a complete page from ``render_html``) to PDF bytes, A4.

    Raises:
        RenderTooLarge: the page is longer than ``MAX_PDF_HTML_CHARS``, refused before WeasyPrint runs.
        RenderError: WeasyPrint failed.
    """
    if len(html) > MAX_PDF_HTML_CHARS:
        raise RenderTooLarge(
            f"the document is too large to print as a PDF ({len(html)} characters of HTML, at most "
            f"{MAX_PDF_HTML_CHARS}); its HTML rendering shows it"
        )
    import weasyprint  # here, not at the top: on the first PDF (module docstring)

    # WeasyPrint reports every layout step at INFO; one line per page is noise in the gateway's log.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    try:
        # Only data: URLs: no http(s), file or ftp fetch, whatever the HTML names.
        fetcher = weasyprint.URLFetcher(allowed_protocols=("data",), allow_redirects=False, timeout=1)
        document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None)
        pdf: bytes = document.write_pdf()
    except (ValueError, OSError, RuntimeError) as exc:
        raise RenderError(f"the PDF could not be produced: {exc}") from exc
    return pdf
